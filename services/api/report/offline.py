"""`kans report`: the annual report without going through a browser. When the API answers, it is asked (it owns the
embedded ClickHouse store); otherwise the command opens the store itself, computes and renders the report."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

import httpx

from core.auth import Role, development_headers, uses_development_tokens
from core.settings import Settings
from services.api.report.export import ReportFormat, render_report
from services.warehouse.statistics import engine
from services.warehouse.statistics.filters import Filters

Source = Literal["auto", "api", "local"]


class ReportFailed(RuntimeError):
    """The report could not be made; the message says why and what to do."""


@dataclass(frozen=True)
class ReportRequest:
    school_year: str
    report_format: ReportFormat
    filters: Filters
    as_of: date | None = None
    audience: Literal["desk", "policy"] = "desk"

    def query_params(self) -> list[tuple[str, str | int | float | bool | None]]:
        """The same request as query parameters of `GET /v1/reports/annual/{school_year}`."""
        params: list[tuple[str, str | int | float | bool | None]] = [
            ("format", self.report_format.value),
            ("audience", self.audience),
        ]
        params += [("as_of", self.as_of.isoformat())] if self.as_of else []
        for name, value in self.filters.given().items():
            params += [(name, v) for v in value] if isinstance(value, list) else [(name, str(value))]
        return params


def api_answers(settings: Settings) -> bool:
    try:
        return httpx.get(f"{settings.api_base_url}/health", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def api_headers(settings: Settings, token: str | None) -> dict[str, str]:
    """The caller's bearer token; without one, in development, a desk token of the development key."""
    if token:
        return {"Authorization": f"Bearer {token}"}
    if uses_development_tokens(settings):
        return development_headers(settings, Role.desk, ttl_s=900)
    raise ReportFailed("the API asks for a bearer token: pass --token (or KANS_TOKEN) from your identity provider")


def from_api(settings: Settings, request: ReportRequest, token: str | None = None) -> bytes:
    url = f"{settings.api_base_url}/v1/reports/annual/{request.school_year}"
    try:
        response = httpx.get(url, params=request.query_params(), headers=api_headers(settings, token), timeout=600.0)
    except httpx.HTTPError as err:
        raise ReportFailed(f"the API at {settings.api_base_url} did not answer: {err}") from err
    if response.status_code != 200:
        raise ReportFailed(f"the API answered {response.status_code}: {response.text[:1000]}")
    return response.content


def store_holder(settings: Settings) -> int | None:
    """The pid of a live process that holds the embedded ClickHouse store (chDB writes it to `status`)."""
    status = Path(settings.clickhouse_url.removeprefix("chdb://")) / "status"
    try:
        first = status.read_text().splitlines()[0]
        pid = int(first.removeprefix("PID:").strip())
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return pid if pid != os.getpid() else None


def from_store(settings: Settings, request: ReportRequest) -> bytes:
    """Open the ClickHouse store (like `kans serve writer`), compute the report, render it."""
    from services.warehouse.clickhouse import get_client, migrate

    if settings.embedded_clickhouse and (pid := store_holder(settings)) is not None:
        raise ReportFailed(
            f"the ClickHouse store {settings.clickhouse_url} is in use by process {pid} (the API of `kans up` or "
            f"`kans serve api`?) and chDB allows one process per store; that API does not answer at "
            f"{settings.api_base_url}: start it (then this command asks it) or stop the process"
        )
    try:
        client = get_client(settings)
    except Exception as err:  # any failure to open the store ends the command, with its reason
        raise ReportFailed(f"cannot open the ClickHouse store {settings.clickhouse_url}: {err}") from err
    try:
        migrate(client, settings.clickhouse_database)
        audience = engine.Audience(request.audience, settings.suppression_threshold)
        question = engine.Question(request.filters, request.as_of, audience)
        report = engine.report(client, settings.clickhouse_database, request.school_year, question)
        return render_report(report, request.report_format, settings.suppression_threshold)
    finally:
        client.close()


def make_report(settings: Settings, request: ReportRequest, source: Source = "auto",
                token: str | None = None) -> tuple[bytes, str]:  # fmt: skip
    """The report's bytes and where they came from (the API's URL, asked with `token`, or the store's)."""
    if source == "api" or (source == "auto" and api_answers(settings)):
        return from_api(settings, request, token), f"the API at {settings.api_base_url}"
    return from_store(settings, request), f"the store {settings.clickhouse_url}"


def parse_request(school_year: str, report_format: str, as_of: str | None, audience: str,
                  **filters: list[str] | None) -> ReportRequest:  # fmt: skip
    """The command's arguments checked as the API checks them; anything wrong raises ReportFailed."""
    if not re.fullmatch(r"\d{4}-\d{4}", school_year) or int(school_year[5:]) != int(school_year[:4]) + 1:
        raise ReportFailed(f"{school_year!r} is not a school year like 2019-2020")
    if report_format not in ReportFormat.__members__:
        raise ReportFailed(f"--format must be one of {', '.join(ReportFormat.__members__)}")
    if audience not in ("desk", "policy"):
        raise ReportFailed("--audience must be desk or policy")
    try:
        day = date.fromisoformat(as_of) if as_of else None
        given = Filters(**{name: tuple(values) for name, values in filters.items() if values})
    except ValueError as err:
        raise ReportFailed(str(err)) from err
    return ReportRequest(school_year, ReportFormat(report_format), given, day, audience)  # type: ignore[arg-type]
