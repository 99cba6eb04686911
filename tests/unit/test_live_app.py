"""The live process's app without its collaborators (services/api/live_main.py): the routes it serves and whom a
browser page may read it from (CORS), and the API's dashboard told where the live process is."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from core.settings import Settings
from kans.supervision import dashboard_reads_live
from services.api.live_main import create_live_app
from services.api.main import create_app

DASHBOARD_ORIGIN = "http://127.0.0.1:8000"


def preflight(client: TestClient, origin: str) -> tuple[int, str | None]:
    response = client.options("/v1/live/provider-load", headers={
        "Origin": origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"})
    return response.status_code, response.headers.get("access-control-allow-origin")


def test_a_page_of_an_allowed_origin_may_read_the_live_process_and_no_other(tmp_path: Path) -> None:
    allowed = TestClient(create_live_app(Settings(data_dir=tmp_path, live_cors_origins=f"{DASHBOARD_ORIGIN}, ")))
    assert preflight(allowed, DASHBOARD_ORIGIN) == (200, DASHBOARD_ORIGIN)
    assert preflight(allowed, "https://evil.example")[1] is None
    read = allowed.get("/v1/live/provider-load", headers={"Origin": "https://evil.example"})
    assert read.status_code == 401 and "access-control-allow-origin" not in read.headers  # and no token: refused
    closed = TestClient(create_live_app(Settings(data_dir=tmp_path)))
    assert preflight(closed, DASHBOARD_ORIGIN)[1] is None


def test_the_dashboard_reads_the_live_views_where_the_settings_say(tmp_path: Path) -> None:
    named = TestClient(create_app(Settings(data_dir=tmp_path, live_public_url="http://127.0.0.1:8002/")))
    assert 'const LIVE = "http://127.0.0.1:8002";' in named.get("/").text
    alone = TestClient(create_app(Settings(data_dir=tmp_path)))
    assert 'const LIVE = /*KANS_LIVE_URL*/"";' in alone.get("/").text


def test_make_up_points_the_dashboard_at_the_live_process_unless_told_otherwise() -> None:
    assert dashboard_reads_live({}) == {"KANS_LIVE_PUBLIC_URL": "http://127.0.0.1:8002",
                                        "KANS_LIVE_CORS_ORIGINS": "http://127.0.0.1:8000,http://localhost:8000"}
    assert dashboard_reads_live({"KANS_LIVE_PORT": "9002", "KANS_API_PORT": "9000"}) == {
        "KANS_LIVE_PUBLIC_URL": "http://127.0.0.1:9002",
        "KANS_LIVE_CORS_ORIGINS": "http://127.0.0.1:9000,http://localhost:9000"}
    mine = {"KANS_LIVE_PUBLIC_URL": "https://live.kans.example", "KANS_LIVE_CORS_ORIGINS": "https://kans.example"}
    assert dashboard_reads_live(mine) == mine
