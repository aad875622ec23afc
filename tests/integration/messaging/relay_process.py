"""A producing process for the crash tests, killed with SIGKILL by the test.

python -m tests.integration.messaging.relay_process write DB_URL BOOTSTRAP PREFIX COUNT
    commits COUNT events to the outbox, says "committed", then waits for a line on stdin
    before starting its relay: the test kills it inside that window.
python -m tests.integration.messaging.relay_process relay DB_URL BOOTSTRAP PREFIX BATCH
    runs the relay until killed.
"""

from __future__ import annotations

import asyncio
import sys

from shared.messaging.broker import Topics
from shared.messaging.relay import OutboxRelay
from tests.integration.messaging.harness import platform, prepared_engine, write_events


async def main(mode: str, url: str, bootstrap: str, prefix: str, number: int) -> None:
    engine = await prepared_engine(url)
    topics = Topics(prefix)
    if mode == "write":
        await write_events(engine, topics, count=number, keys=10)
        print("committed", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        batch = 500
    else:
        batch = number
    relay = OutboxRelay(
        service="harness",
        engine=engine,
        table=platform.outbox,
        bootstrap_servers=bootstrap,
        topics=topics,
        batch_size=batch,
    )
    print("relaying", flush=True)
    await relay.run(asyncio.Event())


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])))
