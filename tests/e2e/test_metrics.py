"""Prometheus metrics of every service, read from their /metrics pages with the services as processes: after a known
set of submissions the counters hold exactly those numbers; after one poison record each consumer's dead-letter
counter is 1 for its reason; no label carries an id or a pupil key.

The platform is this module's own (its own topics and database), so nothing but what the tests send is counted.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from core.kafka_security import client_config
from core.settings import Settings
from core.topics import ensure_topics, events_topic, inbound_topic, source_index_topic
from kans.processes import isolated_settings
from schemas.pseudonym import pupil_key
from services.projections.agents import AGGREGATE, TRACK
from services.projections.bootstrap import load_changes_topic
from services.warehouse.writer import CONSUMER_NAME as WRITER
from tests.conftest import wait_for
from tests.event_log import RAW_HEADER, produce_raw
from tests.factories import capacity, dispatch, pupil, referral, start
from tests.platform import DEV_KEY, Platform

Sample = tuple[str, frozenset[tuple[str, str]]]
REFERRALS = [f"R-MET-{n}" for n in range(4)]


def scrape(url: str) -> dict[Sample, float]:
    """Every sample of a /metrics page, by name and labels."""
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain"), response.headers
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict[Sample, float], name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def scrape_until(url: str, holds: Callable[[dict[Sample, float]], bool], what: str) -> dict[Sample, float]:
    """The first scrape of `url` for which `holds` is true (within 60 s)."""
    def probe() -> dict[Sample, float] | None:
        samples = scrape(url)
        return samples if holds(samples) else None

    return wait_for(probe, timeout_s=60, what=what)


def submissions() -> list[dict[str, Any]]:
    """3 capacities (desk), 4 referrals (lars), 4 dispatches (desk), 2 starts (provider_portal): 13 events."""
    batch: list[dict[str, Any]] = [capacity(p, "individual", 5) for p in ("met-a", "met-b", "met-c")]
    for n, rid in enumerate(REFERRALS):
        batch += [referral(rid), dispatch(rid, f"T-MET-{n}", ("met-a", "met-b", "met-c")[n % 3])]
        if n % 2 == 0:
            batch.append(start(rid, f"T-MET-{n}"))
    return batch


@pytest.fixture(scope="module")
def metered(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[Platform]:
    settings = isolated_settings(tmp_path_factory.mktemp("metrics"), kafka_bootstrap, log_level="WARNING")
    ensure_topics(settings)
    platform = Platform(settings, tmp_path_factory.mktemp("metrics-logs"))
    try:
        platform.start_all()
        platform.start("inbound")
        yield platform
    finally:
        platform.close()


def urls(settings: Settings) -> dict[str, str]:
    return {"ingest": f"{settings.ingest_base_url}/metrics", "api": f"{settings.api_base_url}/metrics",
            "projections": f"{settings.projections_base_url}/metrics",
            "inbound": f"{settings.inbound_base_url}/metrics"}  # fmt: skip


def test_counters_hold_exactly_what_was_submitted_published_stored_and_projected(metered: Platform) -> None:
    settings, batch = metered.settings, submissions()
    expected = Counter((s["source_system"], s["event_type"]) for s in batch)
    assert metered.ingest.post("/v1/events/batch", json=batch).status_code == 202
    assert metered.ingest.post("/v1/events/batch", json=batch).status_code == 202  # every one a duplicate
    conflicting = [{**referral(REFERRALS[0]), "actor": "desk:someone-else"}, referral("R-MET-NEW")]
    assert metered.ingest.post("/v1/events/batch", json=conflicting).status_code == 409  # refused as a whole

    ingest = scrape(urls(settings)["ingest"])
    for (system, kind), n in expected.items():
        for outcome in ("created", "duplicate"):
            assert value(ingest, "kans_ingest_events_total", source_system=system, event_type=kind,
                         outcome=outcome, reason="") == n, (system, kind, outcome)  # fmt: skip
    assert value(ingest, "kans_ingest_events_total", source_system="lars", event_type="ReferralSubmitted",
                 outcome="refused", reason="conflict") == 2  # fmt: skip
    assert value(ingest, "kans_events_published_total", topic=events_topic(settings)) == len(batch)
    scrape_until(urls(settings)["ingest"], lambda s: value(s, "kans_events_published_total",
                 topic=source_index_topic(settings)) == len(batch), "the index records acknowledged")  # fmt: skip
    batch_route = {"handler": "/v1/events/batch", "method": "POST"}
    assert value(ingest, "http_requests_total", **batch_route, status="202") == 2
    assert value(ingest, "http_requests_total", **batch_route, status="409") == 1
    assert value(ingest, "http_request_duration_seconds_count", **batch_route, status="202") == 2

    # The writer (in the API process) stored exactly these events, in at least one batch, and has caught up.
    api = scrape_until(urls(settings)["api"], lambda s: value(s, "kans_writer_rows_total") == len(batch),
                       "the writer's rows")  # fmt: skip
    assert 1 <= (value(api, "kans_writer_batches_total") or 0) <= len(batch)
    assert value(api, "kans_writer_batch_duration_seconds_count") == value(api, "kans_writer_batches_total")
    assert value(api, "kans_writer_running") == 1
    assert value(api, "kans_writer_errors_total", kind="crashed") is None
    scrape_until(urls(settings)["api"], lambda s: value(s, "kans_consumer_lag_events", consumer=WRITER,
                 topic=events_topic(settings)) == 0, "the writer's lag 0")  # fmt: skip

    # The projections worker (faust's sensor) received each event once; both agents caught up.
    def projected(s: dict[Sample, float]) -> bool:
        received = value(s, "kans_projections_messages_received_per_topic_total", topic=events_topic(settings))
        lags = [value(s, "kans_consumer_lag_events", consumer=TRACK, topic=events_topic(settings)),
                value(s, "kans_consumer_lag_events", consumer=AGGREGATE, topic=load_changes_topic(settings))]
        return received == len(batch) and lags == [0, 0]  # fmt: skip

    projections = scrape_until(urls(settings)["projections"], projected, "the projections' counters")
    assert value(projections, "kans_consumer_lag_seconds", consumer=TRACK, topic=events_topic(settings)) == 0
    assert not any(name == "kans_dead_letters_total" for name, _ in projections)


def test_one_poison_record_counts_one_dead_letter_per_consumer_and_reason(metered: Platform) -> None:
    settings = metered.settings
    produce_raw(settings.kafka_bootstrap, events_topic(settings), [(b"R-MET-POISON", None)])
    for url, consumer in ((urls(settings)["api"], WRITER), (urls(settings)["projections"], TRACK)):
        scrape_until(url, lambda s, consumer=consumer: value(s, "kans_dead_letters_total", consumer=consumer,  # type: ignore[misc]
                     reason="no_value") == 1, f"{consumer}'s dead letter")  # fmt: skip
    # No other reason was counted, and the second agent never saw the record (it reads the load changes).
    assert [k for k in scrape(urls(settings)["api"]) if k[0] == "kans_dead_letters_total"] == [
        ("kans_dead_letters_total", frozenset({("consumer", WRITER), ("reason", "no_value")}))]
    assert value(scrape(urls(settings)["projections"]), "kans_dead_letters_total", consumer=AGGREGATE,
                 reason="no_value") is None  # fmt: skip


def test_the_inbound_worker_counts_what_it_published_and_dead_lettered(metered: Platform) -> None:
    settings = metered.settings
    good = referral("R-MET-INBOUND")
    producer = KafkaProducer(**client_config(settings), acks="all")
    try:
        producer.send(inbound_topic(settings), key=b"R-MET-INBOUND", value=json.dumps(good).encode(),
                      headers=[("api-key", DEV_KEY.encode()), RAW_HEADER]).get(timeout=30)  # fmt: skip
        producer.send(inbound_topic(settings), key=b"R-MET-INBOUND", value=json.dumps(good).encode(),
                      headers=[RAW_HEADER]).get(timeout=30)  # no credential  # fmt: skip
    finally:
        producer.close()

    def counted(s: dict[Sample, float]) -> bool:
        done = value(s, "kans_dead_letters_total", consumer="inbound", reason="unauthenticated") == 1
        return done and value(s, "kans_events_published_total", topic=events_topic(settings)) == 1

    inbound = scrape_until(urls(settings)["inbound"], counted, "the inbound worker's counters")
    assert value(inbound, "kans_ingest_events_total", source_system="lars", event_type="ReferralSubmitted",
                 outcome="created", reason="") == 1  # fmt: skip
    assert value(inbound, "kans_inbound_messages_received_per_topic_total", topic=inbound_topic(settings)) == 2
    scrape_until(urls(settings)["inbound"], lambda s: value(s, "kans_consumer_lag_events", consumer="inbound",
                 topic=inbound_topic(settings)) == 0, "the inbound lag 0")  # fmt: skip


def test_no_label_carries_an_id_or_a_pupil_key(metered: Platform) -> None:
    """Routes are labelled by template; records and paths never lend a label their ids."""
    assert metered.api.get(f"/v1/referrals/{REFERRALS[1]}/events").status_code == 200
    assert metered.api.get("/v1/no/such/path/R-MET-404").status_code == 404
    api = scrape(urls(metered.settings)["api"])
    handlers = {dict(labels)["handler"] for name, labels in api if name == "http_requests_total"}
    assert "/v1/referrals/{referral_id}/events" in handlers
    assert "none" in handlers  # the unknown path, grouped
    key = pupil_key(metered.settings.pupil_key_secret.get_secret_value().encode(), pupil(REFERRALS[0]))
    secrets = [*REFERRALS, "R-MET-404", "T-MET-", "LARS-PUPIL", key]
    for service, url in urls(metered.settings).items():
        page = httpx.get(url, timeout=10).text
        assert not [s for s in secrets if s in page], service
        for family in text_string_to_metric_families(page):
            for sample in family.samples:
                assert not math.isnan(sample.value) or sample.name.startswith("kans_consumer_lag"), sample
