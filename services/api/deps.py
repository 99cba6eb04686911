"""Typed dependencies shared by the API's routers."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import Depends, Request

from core.settings import Settings
from services.api.warehouse import Warehouse


def _warehouse(request: Request) -> Warehouse:
    return request.app.state.warehouse  # type: ignore[no-any-return]


def _projections(request: Request) -> httpx.AsyncClient:
    return request.app.state.projections  # type: ignore[no-any-return]


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


WarehouseDep = Annotated[Warehouse, Depends(_warehouse)]
ProjectionsDep = Annotated[httpx.AsyncClient, Depends(_projections)]
SettingsDep = Annotated[Settings, Depends(_settings)]
