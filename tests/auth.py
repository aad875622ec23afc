"""Bearer tokens for tests: the development issuer's, as `pulih auth token` prints them."""

from __future__ import annotations

from shared.security.tokens import development_token


def bearer(*roles: str, subject: str = "tester") -> dict[str, str]:
    """The Authorization header of a token granting `roles`."""
    return {"Authorization": f"Bearer {development_token(roles, subject=subject)}"}
