"""HTTP metrics of a FastAPI service and its `/metrics` page (prometheus-fastapi-instrumentator on the process's
registry).

`http_requests_total{handler, method, status}` and `http_request_duration_seconds{handler, method, status}` (a
histogram). `handler` is the route's template (`/v1/referrals/{referral_id}/events`), never the path asked for, so
no id becomes a label; a path no route matches is counted as `none`. Statuses are exact (`202`, `422`, `503`), an
exception that escapes a route counts as `500`. The `/metrics` page itself is not counted, nor documented in the
OpenAPI document (it is for the scraper, not the API's callers).
"""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from prometheus_fastapi_instrumentator import Instrumentator, metrics

# Seconds: a live view answers in milliseconds, a whole annual report or an upload of 100,000 rows in seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def instrument_http(app: FastAPI, registry: CollectorRegistry) -> None:
    """Count and time every request of `app` into `registry`, and serve `registry` on GET /metrics."""
    instrumentator = Instrumentator(
        should_group_status_codes=False, should_group_untemplated=True, excluded_handlers=["^/metrics$"],
        registry=registry,
    )  # fmt: skip
    instrumentator.add(
        metrics.requests(registry=registry),
        metrics.latency(buckets=LATENCY_BUCKETS, registry=registry),
    )
    instrumentator.instrument(app).expose(app, endpoint="/metrics", include_in_schema=False)
