"""Reporting's HTTP API: indicators by region and period, time series, JSON or CSV.

Every caller gets aggregates only. National operators and reporting consumers see the whole
country; province and district operators see the regions under them. Client-derived figures
below province level come withheld where they are small (and their complements), for everyone;
medians and rates there show only where the counts they carry are shown. A region reporting
does not know (no such province, no unit below it) and a period that has not begun are
problems (422), not zeros.
"""

from fastapi import APIRouter, FastAPI

from services.reporting.api import data_health, indicators
from shared.http import AUTHENTICATED, install_domain_errors

router = APIRouter(responses=AUTHENTICATED)
for part in (indicators, data_health):
    router.include_router(part.router)


def install_error_handlers(app: FastAPI) -> None:
    install_domain_errors(app, rules_of="reporting", problems={})
