"""Failure classes, decided once for every consumer (ARCHITECTURE.md, reliability rules):
what a retry fixes (infrastructure: stall and resume), what it cannot (a constraint: refuse
at once), and how a failure is described without a submitted value (PostgreSQL's error detail
repeats the row's values; exception messages may too)."""

from __future__ import annotations

import traceback

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError

from shared.contracts.envelope import Reason

INFRASTRUCTURE_FAILURES = (OperationalError, InterfaceError, ConnectionError, TimeoutError, OSError)
# SQLSTATE classes of failures a retry fixes: connection, resources, operator, rollback (deadlock,
# serialisation), lock not available.
_TRANSIENT_SQLSTATE = ("08", "40", "53", "57", "55P03")


def _sqlstate(exc: DBAPIError) -> str:
    orig = exc.orig
    for candidate in (orig, getattr(orig, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return ""


def is_infrastructure(exc: BaseException) -> bool:
    """A failure no message is to blame for: stall and retry, never answer."""
    if isinstance(exc, INFRASTRUCTURE_FAILURES):
        return True
    return isinstance(exc, DBAPIError) and _sqlstate(exc).startswith(_TRANSIENT_SQLSTATE)


def is_constraint(exc: BaseException) -> bool:
    """A write the database refused for this fact's values: a retry cannot fix it."""
    if isinstance(exc, IntegrityError | DataError):
        return True
    return isinstance(exc, DBAPIError) and _sqlstate(exc).startswith(("22", "23"))


def constraint_reason(exc: DBAPIError) -> Reason:
    """Names the constraint, never the values (PostgreSQL's detail repeats them)."""
    name = _constraint_name(exc)
    where = f" ({name})" if name else ""
    return Reason(None, "constraint", f"the fact conflicts with what is recorded{where}")


def where_it_failed(exc: BaseException) -> str:
    """The exception's type and innermost frame: enough to find the bug, no values."""
    frames = traceback.extract_tb(exc.__traceback__)
    at = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}{at}"


def describe(exc: BaseException) -> str:
    """For logs and dead-letter reasons: the type, the SQLSTATE and constraint of a database
    error, and where it was raised; never the message."""
    parts = [where_it_failed(exc)]
    if isinstance(exc, DBAPIError):
        if code := _sqlstate(exc):
            parts.append(f"SQLSTATE {code}")
        if name := _constraint_name(exc):
            parts.append(f"constraint {name}")
    return ", ".join(parts)


def _constraint_name(exc: DBAPIError) -> str | None:
    orig = exc.orig
    name = getattr(orig, "constraint_name", None) or getattr(
        getattr(orig, "__cause__", None), "constraint_name", None
    )
    text = str(orig) if orig is not None else ""
    if not name and "constraint failed: " in text:  # SQLite names table.column, no values
        name = text.split("constraint failed: ", 1)[1].split()[0]
    return str(name) if name else None
