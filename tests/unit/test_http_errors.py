"""The error bodies the services send are the ones their OpenAPI documents describe (core/http_errors.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pytest
from fastapi import Body, FastAPI, Query
from fastapi.testclient import TestClient

from core.http_errors import ErrorBody, ValidationErrorBody, install_error_handlers, responses
from core.settings import Settings
from services.api.main import create_app as create_api
from services.ingest.main import create_app as create_ingest

ERROR_MODELS = {"ErrorBody", "ValidationErrorBody", "ForbiddenBody", "ConflictBody"}


def _documents() -> dict[str, dict[str, Any]]:
    return {"ingest": create_ingest(Settings()).openapi(), "api": create_api(Settings()).openapi()}


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


def _ref(response: dict[str, Any]) -> str:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return str(schema.get("$ref", "")).rsplit("/", 1)[-1]


@pytest.mark.parametrize("service", ["ingest", "api"])
def test_fastapis_own_422_schema_is_gone(service: str) -> None:
    doc = _documents()[service]
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    assert "HTTPValidationError" not in str(doc["paths"])
    assert doc["components"]["schemas"]["ValidationErrorBody"]["properties"]["detail"]["type"] == "string"


@pytest.mark.parametrize("service", ["ingest", "api"])
def test_every_error_status_is_documented_with_one_of_our_bodies(service: str) -> None:
    doc = _documents()[service]
    wrong = {
        (method, path, status): _ref(response)
        for method, path, op in _operations(doc)
        for status, response in op["responses"].items()
        if status >= "400" and not (path == "/ready" and status == "503") and _ref(response) not in ERROR_MODELS
    }
    assert wrong == {}


@pytest.mark.parametrize("service", ["ingest", "api"])
def test_routes_with_parameters_document_422_and_routes_with_a_body_400(service: str) -> None:
    for method, path, op in _operations(_documents()[service]):
        if op.get("parameters") or "requestBody" in op:
            assert _ref(op["responses"].get("422", {})) == "ValidationErrorBody", (method, path)
        if "requestBody" in op:
            assert _ref(op["responses"].get("400", {})) == "ErrorBody", (method, path)


def test_each_route_documents_its_own_refusals() -> None:
    docs = _documents()
    statuses = {(service, m, p): set(op["responses"]) for service, doc in docs.items() for m, p, op in _operations(doc)}
    assert {"202", "401", "403", "409", "422", "503"} <= statuses[("ingest", "POST", "/v1/events/batch")]
    assert {"401", "404", "415", "422", "503"} <= statuses[("ingest", "POST", "/v1/imports/{mapping}")]
    assert {"401", "404"} <= statuses[("ingest", "GET", "/v1/imports/{import_id}/errors.csv")]
    assert {"404", "422", "503"} <= statuses[("api", "GET", "/v1/live/trajectories/{trajectory_id}")]
    assert {"404", "422"} <= statuses[("api", "GET", "/v1/referrals/{referral_id}/events")]
    assert {"422", "504"} <= statuses[("api", "POST", "/v1/query")]
    assert "503" in statuses[("api", "GET", "/v1/reports/annual/{school_year}")]
    batch_503 = docs["ingest"]["paths"]["/v1/events/batch"]["post"]["responses"]["503"]
    assert "Retry-After" in batch_503["headers"]
    assert "may or may not be in the event log" in batch_503["description"]


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/things", responses=responses(404))
    async def things(
        level: Annotated[Literal["primary", "secondary"], Query()], body: Annotated[dict[str, int], Body()]
    ) -> dict[str, str]:
        return {"level": level}

    return app


def test_a_refused_request_gets_the_documented_422_naming_field_and_allowed_values() -> None:
    client = TestClient(_app())
    response = client.post("/things", params={"level": "tertiary"}, json={"n": "x"})
    assert response.status_code == 422
    body = ValidationErrorBody.model_validate(response.json())
    assert body.detail == "invalid request: nothing was accepted"
    by_field = {e.field: e for e in body.errors}
    assert set(by_field) == {"query.level", "body.n"}
    assert by_field["body.n"].type == "int_parsing"
    assert "'primary' or 'secondary'" in by_field["query.level"].message
    assert "allowed" not in response.json()["errors"][1]  # optional fields are left out, not sent as null


def test_a_body_that_is_not_utf8_gets_the_documented_400() -> None:
    client = TestClient(_app())
    not_utf8 = b'{"n": "\xff"}'
    response = client.post("/things?level=primary", content=not_utf8, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert ErrorBody.model_validate(response.json()).detail
    doc = _app().openapi()
    assert _ref(doc["paths"]["/things"]["post"]["responses"]["400"]) == "ErrorBody"
    assert _ref(doc["paths"]["/things"]["post"]["responses"]["404"]) == "ErrorBody"
