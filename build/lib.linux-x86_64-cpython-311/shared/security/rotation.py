"""Master key rotation: every stored data key re-wrapped under the current master key.

A data key itself never changes, so the sealed data is not touched and a running service
keeps reading it throughout: each row opens with whichever master its `master_key_id` names,
as long as the ring still holds that master. Once no row names the old master, it can leave
the ring (and the Secret)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import Column, Table, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.security.encryption import KeyRing, WrappedKey


@dataclass(frozen=True)
class Rewrapped:
    rewrapped: Counter[str] = field(default_factory=Counter)
    """Rows moved to the current master, by the master that wrapped them before."""
    remaining: Counter[str] = field(default_factory=Counter)
    """Rows still wrapped by each master after the run (the current one, unless a writer
    raced this run with a ring that still names an old current master)."""

    def summary(self, current: str) -> str:
        moved = ", ".join(f"{n} from {m}" for m, n in sorted(self.rewrapped.items())) or "none"
        left = ", ".join(f"{m}: {n}" for m, n in sorted(self.remaining.items())) or "none"
        return f"re-wrapped under {current}: {moved}; data keys by master now: {left}"


async def rewrap_data_keys(
    engine: AsyncEngine, table: Table, key: Column[str], ring: KeyRing, *, batch_size: int = 500
) -> Rewrapped:
    """Re-wrap the data key of every row of `table` (columns `master_key_id`,
    `wrapped_data_key`; `key` its primary key) whose master is not the ring's current one.

    A batch per transaction; each update names the wrapped key it replaces, so a row changed
    meanwhile (erased: its key destroyed) is left as it now is. Rows whose master is missing
    from the ring raise `CannotDecrypt` before anything of their batch is written."""
    master, wrapped = table.c.master_key_id, table.c.wrapped_data_key
    done: Counter[str] = Counter()
    after = ""
    while True:
        async with engine.begin() as connection:
            rows = (
                await connection.execute(
                    select(key, master, wrapped)
                    .where(wrapped.is_not(None), master != ring.current, key > after)
                    .order_by(key)
                    .limit(batch_size)
                )
            ).all()
            if not rows:
                break
            for row_key, old_master, old_wrapped in rows:
                new = ring.rewrap(WrappedKey(old_master, old_wrapped))
                await connection.execute(
                    update(table)
                    .where(and_(key == row_key, master == old_master, wrapped == old_wrapped))
                    .values(master_key_id=new.master_key_id, wrapped_data_key=new.wrapped)
                )
                done[old_master] += 1
            after = rows[-1][0]
    async with engine.connect() as connection:
        remaining = Counter(
            {
                str(m): int(n)
                for m, n in (
                    await connection.execute(
                        select(master, func.count()).where(wrapped.is_not(None)).group_by(master)
                    )
                ).all()
            }
        )
    return Rewrapped(done, remaining)


async def rewrap_in_database(url: str, table: Table, key: Column[str], ring: KeyRing) -> Rewrapped:
    """`rewrap_data_keys` on a service's database (its SQLAlchemy URL), for the CLI."""
    from shared.persistence import create_engine

    engine = create_engine(url)
    try:
        return await rewrap_data_keys(engine, table, key, ring)
    finally:
        await engine.dispose()
