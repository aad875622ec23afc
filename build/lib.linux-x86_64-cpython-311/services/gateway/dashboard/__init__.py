"""The dashboard: a static web app at the gateway's `/` that reads the programme's figures
through the gateway's own routes with the person's token. The gateway serves its files, the
charting library from the project's npm install (`make setup`) and the boundaries shipped
beside it: nothing comes from a CDN, so it works offline.

What the gateway adds for it is small: who the token speaks for (`/dashboard/me`), and in
development only a token for a role picked on the login screen (`/dashboard/development-token`).
The figures themselves, and who may see which, stay the services' business."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Body
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from services.gateway.settings import Settings
from shared.dependencies import PersonDep, SettingsDep
from shared.http import AUTHENTICATED, problem
from shared.security.roles import NotAuthenticated, Role, parse_grants
from shared.security.tokens import development_token
from shared.settings import Environment

HERE = Path(__file__).parent
STATIC = HERE / "static"
BOUNDARIES = HERE / "boundaries"
MODULES = HERE / "node_modules"

VENDOR = {
    "echarts.min.js": MODULES / "echarts" / "dist" / "echarts.min.js",
    "topojson-client.min.js": MODULES / "topojson-client" / "dist" / "topojson-client.min.js",
}
"""The npm files the page loads (package.json beside this file; `make setup` installs them)."""

DEVELOPMENT_ROLES = (
    "national-operator",
    "reporting-consumer",
    "province-operator:74",
    "district-operator:74.71",
)
"""Roles the development login offers (any valid role may be typed)."""

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data: blob:; "
    # ECharts' SVG renderer and the page's swatches set style attributes
    "style-src 'self' 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
"""The page's own policy: its files from this origin only, nothing from elsewhere (the API's
policy, which the guard adds to every other answer, allows nothing at all)."""

router = APIRouter()


def _development(settings: Settings) -> bool:
    return settings.environment is Environment.development and settings.development_issuer


def _file(path: Path, media_type: str | None = None) -> Response:
    if not path.is_file():
        return problem(404, "Not found", detail=f"{path.name} is not installed (make setup)")
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "no-cache"})


@router.get("/", include_in_schema=False)
async def index() -> Response:
    page = _file(STATIC / "index.html", "text/html; charset=utf-8")
    page.headers["Content-Security-Policy"] = PAGE_CSP
    return page


@router.get("/dashboard/app/{name}", include_in_schema=False)
async def app_file(name: str) -> Response:
    """The app's own modules and style sheet (a flat folder: no path reaches outside it)."""
    path = STATIC / name
    if "/" in name or name.startswith(".") or not path.is_file():
        return problem(404, "Not found", detail=f"no file {name!r}")
    media = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
    return _file(path, media.get(path.suffix))


@router.get("/dashboard/vendor/{name}", include_in_schema=False)
async def vendor_file(name: str) -> Response:
    if name not in VENDOR:
        return problem(404, "Not found", detail=f"no file {name!r}")
    return _file(VENDOR[name], "text/javascript")


@router.get("/dashboard/boundaries/{level}", include_in_schema=False)
async def boundaries(level: str) -> Response:
    """Provinces' and regencies' boundaries as TopoJSON (MIT, Cahya DSN: boundaries/README.md)."""
    if level not in ("provinces", "regencies"):
        return problem(404, "Not found", detail="boundaries: provinces or regencies")
    return _file(BOUNDARIES / f"{level}.topo.json", "application/json")


class LoginOptions(BaseModel):
    development: bool = Field(description="Whether the login may pick a role (development).")
    roles: list[str] = Field(description="Roles the development login offers.")


@router.get("/dashboard/login-options", include_in_schema=False)
async def login_options(settings: SettingsDep[Settings]) -> LoginOptions:
    development = _development(settings)
    return LoginOptions(
        development=development, roles=list(DEVELOPMENT_ROLES) if development else []
    )


class DevelopmentToken(BaseModel):
    token: str
    role: str


@router.post("/dashboard/development-token", include_in_schema=False, response_model=None)
async def mint_development_token(
    settings: SettingsDep[Settings], role: Annotated[str, Body(embed=True, max_length=80)]
) -> DevelopmentToken | Response:
    """A token of the development issuer for `role`, as `pulih auth token` prints one. Only
    when the gateway runs in development with the development issuer: elsewhere the route is
    not there (404), so a deployed dashboard only takes tokens of the real issuer."""
    if not _development(settings):
        return problem(404, "Not found", detail="development tokens exist in development only")
    try:
        grants = parse_grants([role])
    except NotAuthenticated as exc:
        return problem(422, "Invalid role", detail=str(exc))
    if grants[0].role is Role.PROVINCE_SYSTEM:
        return problem(422, "Invalid role", detail="the dashboard is for people")
    return DevelopmentToken(token=development_token([role], subject="dashboard"), role=role)


class Caller(BaseModel):
    """Who the token speaks for, as the dashboard needs it: the regions it may open."""

    roles: list[str] = Field(examples=[["province-operator:74"]])
    root: str | None = Field(
        description="The widest region the caller sees: empty for Indonesia, a province or a "
        "regency code; None when no role reads figures (a unit's agent).",
        examples=["74"],
    )


@router.get("/dashboard/me", response_model=Caller, tags=["dashboard"], responses=AUTHENTICATED)
async def me(who: PersonDep) -> Caller:
    """The caller's roles and the widest region whose figures they may read, so the dashboard
    offers nothing else (the services refuse the rest anyway)."""
    roles = [f"{g.role.value}:{g.target}" if g.target else g.role.value for g in who.grants]
    scopes = [""] if who.reads_everywhere else list(who.regions)
    return Caller(roles=roles, root=min(scopes, key=len) if scopes else None)
