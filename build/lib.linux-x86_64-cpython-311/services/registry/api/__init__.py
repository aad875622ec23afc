"""The registry's HTTP API: browse regions, units and agents; form units, change their status,
record funding; appoint, train and deactivate agents. Thin: parse, call a handler, map the
result. Errors are RFC 9457 problem documents naming the field and the rule."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from sqlalchemy.exc import IntegrityError

from services.registry.api import agents, regions, units
from services.registry.domain import AlreadyRecorded, Conflict, NotFound
from shared.http import AUTHENTICATED, Problem, install_domain_errors

router = APIRouter(responses=AUTHENTICATED)
for part in (regions, units, agents):
    router.include_router(part.router)


def install_error_handlers(app: FastAPI) -> None:
    install_domain_errors(
        app,
        rules_of="registry",
        problems={
            NotFound: Problem(404, "Not found"),
            Conflict: Problem(
                412,
                "The unit changed since you read it",
                type_="https://pulih.id/problems/stale-version",
            ),
            AlreadyRecorded: Problem(
                409, "Already recorded", "a record with this id already exists"
            ),
            IntegrityError: Problem(
                409, "Already recorded", "a record with this id already exists"
            ),
        },
    )
