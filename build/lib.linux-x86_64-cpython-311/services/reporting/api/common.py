"""What every reporting route shares: whose figures the caller may read."""

from __future__ import annotations

from shared.security.roles import Caller, Forbidden


def _allowed(who: Caller, region: str) -> None:
    """Raise unless the caller may read figures of `region` and below: national operators and
    reporting consumers everywhere, province and district operators within their regions."""
    if not (who.reads_everywhere or any(f"{region}.".startswith(f"{r}.") for r in who.regions)):
        raise Forbidden("the region is outside your scope")
