"""The dashboard page: live provider load and referrals per month, drawn in the browser from the API's own routes."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter()
DASHBOARD = Path(__file__).parent.parent / "dashboard.html"


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def dashboard() -> str:
    return DASHBOARD.read_text(encoding="utf-8")
