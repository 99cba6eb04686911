"""The dashboard page: live provider load and referrals per month, drawn in the browser from the API's own routes.

The page holds no data; its script calls the API with a bearer token. In development with the development signing key
(no identity provider configured), the page is served with a desk token of that key, so `make up` opens a working
dashboard; otherwise the page asks for an access token of the identity provider. With `KANS_LIVE_PUBLIC_URL` set, the
page reads the live provider load and its stream from the live process (which must allow this page's origin:
`KANS_LIVE_CORS_ORIGINS`), and from the API when the live process cannot be reached."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from core.auth import Role, issue_development_token, uses_development_tokens
from services.api.deps import SettingsDep

router = APIRouter()
DASHBOARD = Path(__file__).parent.parent / "dashboard.html"
TOKEN_MARK = "/*KANS_DEV_TOKEN*/null"
LIVE_MARK = '/*KANS_LIVE_URL*/""'
DEV_TOKEN_TTL_S = 12 * 3600


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def dashboard(settings: SettingsDep) -> str:
    page = DASHBOARD.read_text(encoding="utf-8")
    if uses_development_tokens(settings):
        token = issue_development_token(settings, Role.desk, subject="dev-dashboard", ttl_s=DEV_TOKEN_TTL_S)
        page = page.replace(TOKEN_MARK, json.dumps(token), 1)
    if settings.live_public_url:  # the live views and their stream from the live process (kans serve live)
        page = page.replace(LIVE_MARK, json.dumps(settings.live_public_url.rstrip("/")), 1)
    return page
