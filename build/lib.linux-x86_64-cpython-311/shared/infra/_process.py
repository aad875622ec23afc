"""Start and stop a daemon by pid file, and wait for a condition with a deadline."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise TimeoutError(f"gave up after {timeout:.0f}s waiting for {what}")


def read_pid(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return pid


def spawn(
    argv: list[str],
    *,
    log_file: Path,
    pid_file: Path,
    env: dict[str, str] | None = None,
    user: str | None = None,
    die_with_parent: bool = False,
) -> int:
    """Start a server in its own session, its output in `log_file`. `die_with_parent`: the
    kernel sends it SIGTERM when this process ends, however it ends (a test run interrupted
    or killed leaves no server behind); without it the server outlives the command that
    started it (`pulih infra up`)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            user=user,
            start_new_session=True,
            preexec_fn=exit_with_parent if die_with_parent else None,
        )
    pid_file.write_text(str(proc.pid))
    return proc.pid


def _libc() -> Any:
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:  # not Linux
        return None


_LIBC = _libc()  # loaded before any fork: a child switched to another user may not import


def exit_with_parent() -> None:
    """In a child, before exec (Linux): SIGTERM when the parent ends (PR_SET_PDEATHSIG), so
    nothing is left running when it is killed; elsewhere nothing. The kernel follows the
    *thread* that started the child: start servers meant to live long from the main thread
    (a worker thread's end would stop them)."""
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGTERM)


def terminate(pid_file: Path, *, timeout: float = 30.0) -> bool:
    """SIGTERM the process group, SIGKILL it after `timeout`. True when something was stopped."""
    pid = read_pid(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    try:
        wait_until(
            lambda: read_pid(pid_file) is None or _zombie(pid),
            timeout=timeout,
            what=f"pid {pid} to exit",
        )
    except TimeoutError:
        os.killpg(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return True


def _zombie(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"
