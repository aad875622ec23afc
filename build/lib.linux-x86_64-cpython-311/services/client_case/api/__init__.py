"""The client-case HTTP API. A unit agent works with their own unit's clients; operators
above unit level see cases without identities; every identity read needs a reason and is
audited. Thin: parse, check scope, call a handler, map the result."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from services.client_case.api import cases, identity, referrals
from services.client_case.handlers import Gone, NotFound
from shared.http import AUTHENTICATED, Problem, install_domain_errors
from shared.security.encryption import CannotDecrypt

router = APIRouter(responses=AUTHENTICATED)
router.include_router(identity.router)
router.include_router(cases.router)
router.include_router(referrals.router)


def install_error_handlers(app: FastAPI) -> None:
    install_domain_errors(
        app,
        rules_of="client-case",
        problems={
            NotFound: Problem(404, "Not found"),
            Gone: Problem(410, "Erased"),
            CannotDecrypt: Problem(500, "Identity cannot be decrypted"),
        },
    )
