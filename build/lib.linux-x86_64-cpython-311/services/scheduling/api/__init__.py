"""Scheduling's HTTP API: agents' worklists, recording attendance, misses, closing a missed
session, rescheduling, re-planning a case and community activities, a unit's calendar and the
cases a stopped unit must hand over. Agents act only within their unit; operators see the
units they oversee."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from services.scheduling import records
from services.scheduling.api import case_routes, unit_routes
from shared.http import AUTHENTICATED, Problem, install_domain_errors

router = APIRouter(responses=AUTHENTICATED)
router.include_router(case_routes.router)
router.include_router(unit_routes.router)


def install_error_handlers(app: FastAPI) -> None:
    install_domain_errors(
        app, rules_of="scheduling", problems={records.NotFound: Problem(404, "Not found")}
    )
