"""Typed dependencies shared by the API's routers: the wired collaborators (`bootstrap.Api`), the settings, the
caller's principal, and the school year, common filters, as-of, audience and scope every statistics endpoint (and the
report) takes."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

import httpx
from fastapi import Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from core.access import PrincipalDep
from core.auth import Principal, Role
from core.settings import Settings
from services.api.bootstrap import Api
from services.api.projections import ProjectionWorkers
from services.api.warehouse import Warehouse
from services.warehouse.statistics import engine
from services.warehouse.statistics.filters import Filters
from services.warehouse.writer import ClickHouseWriter

YEAR = r"^\d{4}-\d{4}$"
Codes = list[str] | None  # checked against their code lists by Filters (a 422 lists the allowed values)


async def _api(request: Request) -> Api:
    return request.app.state.api  # type: ignore[no-any-return]


async def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


ApiDep = Annotated[Api, Depends(_api)]


async def _warehouse(api: ApiDep) -> Warehouse:
    return api.warehouse


async def _projections(api: ApiDep) -> ProjectionWorkers:
    return api.projections


async def _dispatch(api: ApiDep) -> httpx.AsyncClient:
    if api.dispatch is None:
        raise HTTPException(503, "this API process has no dispatch worker configured", headers={"Retry-After": "5"})
    return api.dispatch


async def _writer(api: ApiDep) -> ClickHouseWriter | None:
    return api.writer


WarehouseDep = Annotated[Warehouse, Depends(_warehouse)]
ProjectionsDep = Annotated[ProjectionWorkers, Depends(_projections)]
DispatchDep = Annotated[httpx.AsyncClient, Depends(_dispatch)]
WriterDep = Annotated[ClickHouseWriter | None, Depends(_writer)]
SettingsDep = Annotated[Settings, Depends(_settings)]


def checked_year(value: str, field: str) -> str:
    """A school year is two consecutive years; a 422 in the common format otherwise."""
    if int(value[5:]) != int(value[:4]) + 1:
        raise RequestValidationError(
            [
                {
                    "loc": ("path", field),
                    "msg": "a school year is two consecutive years, e.g. 2019-2020",
                    "type": "value_error",
                }
            ]
        )
    return value


Audience = Literal["desk", "policy"]
REGISTRATION_HELP = ("The report's views by the system a referral was registered in: lars (registered in LARS) or "
                     "outside_lars (the external-CLB form, the group tool, spreadsheets, the desk ...); default both. "
                     "Independent of channel / exclude_channel. The answer's population says which view it shows.")
AUDIENCE_HELP = ("policy: small cells suppressed, no per-school figures (the default, and the only choice, for every "
                 "role but the desk). desk: every cell (the desk's default).")  # fmt: skip


def audience_for(principal: Principal, asked: Audience | None) -> Audience:
    """The audience follows the role, not the parameter: the desk sees every cell (or asks for the policy view);
    every other role gets the policy view, and asking for the desk's is refused (403), never silently answered."""
    if principal.role is Role.desk:
        return asked or "desk"
    if asked == "desk":
        raise HTTPException(403, f"audience=desk is for the desk role; role {principal.role.value} gets the policy "
                            "view (small cells suppressed, no per-school figures): leave audience out or send policy")
    return "policy"


async def question(
    settings: SettingsDep,
    principal: PrincipalDep,
    level: Annotated[Codes, Query(description="Override the statistic's level.")] = None,
    offer_type: Annotated[Codes, Query(description="regular, corona.")] = None,
    channel: Annotated[Codes, Query(description="Only these channels.")] = None,
    exclude_channel: Annotated[
        Codes,
        Query(description="Leave these channels out (the report's LARS-only charts: external_clb and intake)."),
    ] = None,
    education_form: Annotated[Codes, Query(description="Only these education forms.")] = None,
    exclude_education_form: Annotated[Codes, Query(description="e.g. secondary_part_time (L&W).")] = None,
    provider: Annotated[list[str] | None, Query(description="Provider ids.", max_length=20)] = None,
    until: Annotated[str | None, Query(pattern=r"^\d{2}-\d{2}$", description="Cut-off day MM-DD, e.g. 03-31.")] = None,
    registration: Annotated[Literal["lars", "outside_lars"] | None, Query(description=REGISTRATION_HELP)] = None,
    as_of: Annotated[date | None, Query(description="As known at the end of this day (recorded_at).")] = None,
    audience: Annotated[Audience | None, Query(description=AUDIENCE_HELP)] = None,
) -> engine.Question:
    """The common filters, as-of and audience of every statistics endpoint, and the caller's scope (a CLB counts its
    own referrals only)."""
    try:
        filters = Filters(
            level=_t(level),
            offer_type=_t(offer_type),
            channel=_t(channel),
            exclude_channel=_t(exclude_channel),
            education_form=_t(education_form),
            exclude_education_form=_t(exclude_education_form),
            provider=_t(provider),
            until=until,
            registration=registration,
        )
    except ValidationError as err:
        raise RequestValidationError([{**e, "loc": ("query", *e["loc"])} for e in err.errors()]) from err
    chosen = engine.Audience(audience_for(principal, audience), settings.suppression_threshold)
    return engine.Question(filters, as_of, chosen, principal.data_scope)


def _t(values: list[str] | None) -> tuple[str, ...] | None:
    return tuple(values) if values else None


QuestionDep = Annotated[engine.Question, Depends(question)]
