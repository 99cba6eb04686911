"""The ingest's second credential: a bearer token of the identity provider the read API uses (core/auth.py), beside
the source systems' API keys. A source system's token gets its claims' scope, a desk token the desk tool's; any other
role is refused (403), a token that proves nothing is a 401 whose challenge offers both credentials."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from core.auth import Role, TokenVerifier, development_headers, issue_development_token
from core.http_errors import install_error_handlers
from core.settings import Settings
from services.ingest.deps import get_ingest
from services.ingest.routes import events
from tests.factories import referral
from tests.unit.ingest_fakes import FakePublisher, fake_ingest

CHALLENGE = 'Bearer realm="kans-ingest", APIKey realm="kans-ingest"'


@pytest.fixture
def dev(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path)


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def client(dev: Settings, publisher: FakePublisher) -> Iterator[TestClient]:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(events.router)
    app.state.tokens = TokenVerifier(dev)
    ingest = fake_ingest(dev, publisher=publisher)
    app.dependency_overrides[get_ingest] = lambda: ingest
    with TestClient(app) as client:
        yield client


def test_a_source_systems_token_submits_within_its_claims(
    client: TestClient, dev: Settings, publisher: FakePublisher
) -> None:
    lars = development_headers(dev, Role.source_system, ["lars"])  # no referrers claimed: none
    token = issue_development_token(dev, Role.source_system, ["lars"], subject="lars-clb1", referrers=["clb-brussel-1"])
    clb1 = {"Authorization": f"Bearer {token}"}
    refused = client.post("/v1/events", json=referral("R-T1"), headers=lars)
    assert refused.status_code == 403 and refused.json()["errors"][0]["field"] == "body.payload.referrer_id"
    accepted = client.post("/v1/events", json=referral("R-T1"), headers=clb1)
    assert accepted.status_code == 202, accepted.text
    other = client.post("/v1/events", json=referral("R-T2", referrer_id="clb-brussel-2"), headers=clb1)
    assert other.status_code == 403 and other.json()["errors"][0]["allowed"] == ["clb-brussel-1"]
    # A caller limited to some referrers keeps its source_refs under its name: a token's is token:<sub>.
    assert [e.source_ref for e in publisher.events] == ["token:lars-clb1/ref:R-T1"]


def test_a_desk_token_submits_as_the_desk_tool(client: TestClient, dev: Settings, publisher: FakePublisher) -> None:
    desk = development_headers(dev, Role.desk)
    submission = {**referral("R-T3"), "source_system": "desk"}
    assert client.post("/v1/events", json=submission, headers=desk).status_code == 202
    assert client.post("/v1/events", json=referral("R-T4"), headers=desk).status_code == 403  # LARS's, not the desk's
    assert [e.source_ref for e in publisher.events] == ["ref:R-T3"]


@pytest.mark.parametrize("role", [Role.clb, Role.provider, Role.policy])
def test_reading_roles_may_not_submit(client: TestClient, dev: Settings, role: Role) -> None:
    response = client.post("/v1/events", json=referral("R-T5"), headers=development_headers(dev, role, ["x"]))
    assert response.status_code == 403
    assert f"role {role.value} may not use the ingest" in response.json()["detail"]


def test_no_credential_or_a_token_that_proves_nothing_is_a_401_offering_both_credentials(
    client: TestClient, dev: Settings, publisher: FakePublisher
) -> None:
    anonymous = client.post("/v1/events", json={"not": "an event"})
    assert (anonymous.status_code, anonymous.headers["WWW-Authenticate"]) == (401, CHALLENGE)
    expired = issue_development_token(dev, Role.desk, now=time.time() - 3600, ttl_s=60)
    response = client.post("/v1/events", json=referral("R-T6"), headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401 and "the token has expired" in response.json()["detail"]
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="kans-ingest", error="invalid_token"')
    assert publisher.events == []
