"""Readiness that means "can do its job now", against the real broker and the real chDB: the ingest is not ready
without a broker (and says so within seconds, not after a client's 30 s bootstrap), the API is not ready when the
writer it hosts crashed or stopped, and it reports the writer's lag and the projections worker's state.

The broker being killed while the services run (a private broker, kill -9) is tests/e2e/test_drills.py."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from core.broker import READY_TIMEOUT_S
from core.settings import Settings
from core.topics import events_topic
from kans.processes import free_port
from services.api.bootstrap import Api
from services.api.main import create_app as create_api
from services.api.warehouse import Warehouse
from services.ingest.main import create_app as create_ingest
from services.warehouse import writer as writer_module
from services.warehouse.clickhouse import ClickHouseClient, migrate
from services.warehouse.writer import ClickHouseWriter
from tests.conftest import wait_for
from tests.event_log import produce_raw
from tests.factories import referral, sealed_json


def dead_broker(settings: Settings) -> Settings:
    """The same settings, the broker address a port nothing listens on."""
    return settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{free_port()}"})


def timed_ready(client: TestClient) -> tuple[httpx.Response, float]:
    began = time.monotonic()
    response = client.get("/ready")
    return response, time.monotonic() - began


def test_the_ingest_is_ready_with_the_broker_and_not_without_it(settings: Settings) -> None:
    with TestClient(create_ingest(settings)) as client:
        up = wait_for(lambda: (r := client.get("/ready")).status_code == 200 and r, what="ingest ready")
        assert up.json()["kafka"] is True and up.json()["problems"] == []
    with TestClient(create_ingest(dead_broker(settings))) as client:
        down, took = timed_ready(client)
        assert client.get("/health").status_code == 200  # alive: an outage is no reason to restart it
    assert down.status_code == 503
    assert down.json()["kafka"] is False
    assert down.json()["problems"][0].startswith("kafka: unreachable at 127.0.0.1:")
    assert took < READY_TIMEOUT_S + 1, f"/ready took {took:.1f} s without a broker"


def api_client(settings: Settings, clickhouse: ClickHouseClient, writer: ClickHouseWriter | None) -> TestClient:
    """The API app with its collaborators on the session's chDB engine (one per process): no lifespan."""
    app = create_api(settings)
    projections = httpx.AsyncClient(base_url=settings.projections_base_url, timeout=5)  # nothing listens there
    app.state.api = Api(settings, clickhouse, Warehouse(clickhouse, settings.clickhouse_database), writer, projections)
    return TestClient(app)


def ready_body(client: TestClient) -> tuple[int, dict[str, Any]]:
    response = client.get("/ready")
    return response.status_code, response.json()


def test_the_api_is_not_ready_when_its_writer_crashed_or_stopped(
    settings: Settings, clickhouse: ClickHouseClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrate(clickhouse, settings.clickhouse_database)
    topic = events_topic(settings)
    writer = ClickHouseWriter(settings, clickhouse)
    client = api_client(settings, clickhouse, writer)
    writer.start()
    try:
        produce_raw(settings.kafka_bootstrap, topic, [sealed_json(referral(f"R-READY-{i}")) for i in range(3)])
        wait_for(lambda: writer.status.rows_written == 3 and writer.status.lag_events == 0, what="the writer caught up")
        status, body = ready_body(client)
        assert (status, body["ready"], body["problems"]) == (200, True, [])
        writer_state = body["writer"]
        assert (writer_state["running"], writer_state["lag_events"], writer_state["lag_seconds"]) == (True, 0, 0.0)
        # Reported, not required: the projections worker (not running here) and why it could not be read.
        assert body["projections"]["ready"] is False and body["projections"]["error"] == "unreachable (ConnectError)"
        assert body["projections"]["missing_partitions"] == list(range(settings.event_partitions))

        def buggy_store(*args: Any) -> None:
            raise TypeError("a bug in the writer")

        monkeypatch.setattr(writer_module.state, "store", buggy_store)
        produce_raw(settings.kafka_bootstrap, topic, [sealed_json(referral("R-READY-BUG"))])
        wait_for(lambda: not writer.status.running, what="the writer to crash")
        status, body = ready_body(client)
        assert (status, body["ready"], body["kafka"], body["clickhouse"]) == (503, False, True, True)
        assert body["problems"] == [
            "writer: crashed (TypeError: a bug in the writer); nothing after its last commit is stored"]
        assert body["writer"]["crashed"] == "TypeError: a bug in the writer"
    finally:
        writer.stop()
        monkeypatch.undo()

    stopped = ClickHouseWriter(settings, clickhouse)  # started, then stopped as the API's shutdown stops it
    stopped.start()
    stopped.stop()
    wait_for(lambda: not stopped.status.running, what="the writer stopped")
    status, body = ready_body(api_client(settings, clickhouse, stopped))
    assert (status, body["problems"]) == (503, [
        "writer: not running; nothing acknowledged since it stopped is stored"])  # fmt: skip


def test_an_api_without_a_writer_of_its_own_is_ready_without_one_but_never_without_the_broker(
    settings: Settings, clickhouse: ClickHouseClient
) -> None:
    """`writer_in_api=false` (the writer runs as its own process): no writer to ask about; Kafka still required."""
    migrate(clickhouse, settings.clickhouse_database)
    status, body = ready_body(api_client(settings, clickhouse, None))
    assert (status, body["writer"], body["problems"]) == (200, None, [])
    began = time.monotonic()
    status, body = ready_body(api_client(dead_broker(settings), clickhouse, None))
    assert time.monotonic() - began < READY_TIMEOUT_S + 1
    assert (status, body["kafka"], body["clickhouse"]) == (503, False, True)
    assert [p.split(" at ")[0] for p in body["problems"]] == ["kafka: unreachable"]
