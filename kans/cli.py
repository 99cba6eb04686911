"""`kans`: the operations command line. Make targets are thin wrappers around it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from core.broker import broker_reachable
from core.logs import configure_logging
from core.settings import Settings, get_settings
from kans.kafka_credentials import act_as, tool_settings
from kans.kafka_local import KafkaLocalError, LocalKafka
from kans.paths import REPO_ROOT

app = typer.Typer(help="KANS event platform operations.", no_args_is_help=True, add_completion=False)
kafka_app = typer.Typer(help="The local single-node Kafka broker.", no_args_is_help=True)
topics_app = typer.Typer(help="The project's Kafka topics.", no_args_is_help=True)
serve_app = typer.Typer(help="Run one service in the foreground (what `kans up` supervises).", no_args_is_help=True)
schemas_app = typer.Typer(help="The exported JSON Schemas of the event contract.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo data.", no_args_is_help=True)
dispatch_app = typer.Typer(help="The dispatch rules: evaluate a rule set against history.", no_args_is_help=True)
projections_app = typer.Typer(help="The projections workers' state.", no_args_is_help=True)
app.add_typer(kafka_app, name="kafka")
app.add_typer(topics_app, name="topics")
app.add_typer(serve_app, name="serve")
app.add_typer(schemas_app, name="schemas")
app.add_typer(demo_app, name="demo")
app.add_typer(dispatch_app, name="dispatch")
app.add_typer(projections_app, name="projections")


def _kafka() -> LocalKafka:
    return LocalKafka(get_settings())


def _fail(message: str) -> None:
    typer.secho(message, fg="red", err=True)
    raise typer.Exit(1)


# -- kafka -------------------------------------------------------------------------------------------------------
@kafka_app.command("install")
def kafka_install() -> None:
    """Fetch the Kafka broker jars with Maven into the cache (once)."""
    try:
        typer.echo(f"Kafka jars in {_kafka().install()}")
    except KafkaLocalError as err:
        _fail(str(err))


@kafka_app.command("start")
def kafka_start() -> None:
    """Start the broker (KRaft, 127.0.0.1) if it is not running, and wait until it serves metadata."""
    settings = get_settings()
    try:
        pid = _kafka().start()
    except KafkaLocalError as err:
        _fail(str(err))
    typer.echo(f"Kafka {settings.kafka_version} ready at {settings.kafka_bootstrap} (pid {pid})")


@kafka_app.command("stop")
def kafka_stop() -> None:
    """Stop the broker cleanly."""
    typer.echo("Kafka stopped" if _kafka().stop() else "Kafka was not running")


@kafka_app.command("status")
def kafka_status() -> None:
    """Is the broker running and answering?"""
    settings = tool_settings(get_settings())
    pid = _kafka().pid()
    ok = broker_reachable(settings)
    typer.echo(f"pid: {pid or '-'}  reachable at {settings.kafka_bootstrap}: {'yes' if ok else 'no'}")
    raise typer.Exit(0 if ok else 1)


@kafka_app.command("credentials")
def kafka_credentials(
    out: Annotated[Path, typer.Option(help="The env file to write (mode 0600), e.g. kafka-credentials.env.")],
) -> None:
    """Generate a random password for every principal (and the controller listener) into a new env file: what
    docker compose reads (`docker compose --env-file kafka-credentials.env up`). Never commit it."""
    from kans.kafka_credentials import generate

    if out.exists():
        _fail(f"{out} exists: its passwords are the broker's; delete it only with the broker's data")
    typer.echo(f"wrote {len(generate(out))} passwords to {out} (mode 0600)")


@kafka_app.command("provision")
def kafka_provision() -> None:
    """As admin: every principal's SCRAM credential, the project's topics and the ACLs that give each principal its
    rights on them. Idempotent (compose's one-shot). The passwords: KANS_KAFKA_CREDENTIALS_FILE, else the
    environment's <PRINCIPAL>_KAFKA_PASSWORD variables (what compose passes from .env)."""
    from core.kafka_acls import PRINCIPALS, ensure_users
    from core.topics import ensure_topics
    from kans.kafka_credentials import parse, read

    settings = tool_settings(get_settings())
    if settings.kafka_credentials_file is not None:
        passwords = read(settings.kafka_credentials_file)
    else:
        passwords = parse("\n".join(f"{name}={value}" for name, value in os.environ.items()))
    missing = [name for name in PRINCIPALS if not passwords.get(name) and name != settings.kafka_username]
    if missing:
        _fail(f"no password for the principals {missing}: see `kans kafka credentials`")
    users = ensure_users(settings, {name: passwords[name] for name in PRINCIPALS if passwords.get(name)})
    created = ensure_topics(settings)
    typer.echo(f"SCRAM users {users}; topics created {created or 'none (all exist)'}; ACLs for prefix "
               f"{settings.topic_prefix!r} in place")  # fmt: skip


# -- topics ------------------------------------------------------------------------------------------------------
@topics_app.command("create")
def topics_create() -> None:
    """Create the project's topics that do not exist yet."""
    from core.topics import ensure_topics, topic_specs

    settings = tool_settings(get_settings())  # admin: it grants each principal its rights on the topics too
    created = ensure_topics(settings)
    for spec in topic_specs(settings):
        typer.echo(f"{'created ' if spec.name in created else 'exists  '} {spec.name} ({spec.partitions} partitions)")


# -- services ----------------------------------------------------------------------------------------------------
def _serve_as(service: str) -> Settings:
    """The service's settings, acting on Kafka as its own principal: KANS_KAFKA_USERNAME/PASSWORD when set, else its
    principal's password from the credentials file (`kans up`'s local broker); the services read only the former."""
    from core.kafka_acls import SERVICE_PRINCIPALS

    act_as(SERVICE_PRINCIPALS[service])
    get_settings.cache_clear()
    return get_settings()


@serve_app.command("ingest")
def serve_ingest() -> None:
    """The ingest API (uvicorn)."""
    import uvicorn

    s = _serve_as("ingest")
    uvicorn.run("services.ingest.main:create_app", factory=True, host=s.ingest_host, port=s.ingest_port,
                log_level=s.log_level.lower(), access_log=False)  # fmt: skip


@serve_app.command("api")
def serve_api() -> None:
    """The read API (and, with embedded chDB, the ClickHouse writer)."""
    import uvicorn

    s = _serve_as("api")
    uvicorn.run("services.api.main:create_app", factory=True, host=s.api_host, port=s.api_port,
                log_level=s.log_level.lower(), access_log=False)  # fmt: skip


@serve_app.command("live")
def serve_live() -> None:
    """The live views (provider load, its stream, waiting times, a trajectory's status) in a process of their own,
    without ClickHouse: the names and referrers they add folded from the event log."""
    import uvicorn

    s = _serve_as("live")
    uvicorn.run("services.api.live_main:create_live_app", factory=True, host=s.live_host, port=s.live_port,
                log_level=s.log_level.lower(), access_log=False)  # fmt: skip


@serve_app.command("projections")
def serve_projections() -> None:
    """The faust projections worker."""
    from services.projections.worker import main

    _serve_as("projections")
    main()


@serve_app.command("dispatch")
def serve_dispatch() -> None:
    """The faust dispatch worker: the rules propose a provider for each trajectory to place, or a waiting list."""
    from services.dispatch.worker import main

    _serve_as("dispatch")
    main()


@serve_app.command("inbound")
def serve_inbound() -> None:
    """The faust inbound worker: submissions produced to Kafka -> checked -> the event log or the dead letters."""
    from services.ingest.inbound.worker import main

    _serve_as("inbound")
    main()


@serve_app.command("writer")
def serve_writer() -> None:
    """The ClickHouse writer on its own (for a ClickHouse server; with chDB it runs inside the API); its metrics on
    http://KANS_WRITER_METRICS_HOST:KANS_WRITER_METRICS_PORT/metrics."""
    from prometheus_client import start_http_server

    from core.metrics import new_registry
    from core.pupil_vault import PupilVault
    from services.warehouse.audit import AuditWriter
    from services.warehouse.clickhouse import get_client, migrate
    from services.warehouse.writer import ClickHouseWriter, WriterMetrics

    settings = _serve_as("writer")
    configure_logging(settings.log_level, "writer")
    client = get_client(settings)
    migrate(client, settings.clickhouse_database)
    registry = new_registry()
    vault = PupilVault(settings.pupil_vault_path)  # a PupilErased read destroys the pupil's key here too
    writer = ClickHouseWriter(settings, client, metrics=WriterMetrics(registry), vault=vault)
    audit = AuditWriter(settings, get_client(settings))  # kans.audit.v1 -> audit_log, beside the events
    start_http_server(settings.writer_metrics_port, settings.writer_metrics_host, registry=registry)
    signal.signal(signal.SIGTERM, lambda *_: writer.stop())
    audit.start()
    try:
        writer.run()
    except KeyboardInterrupt:
        writer.stop()
    finally:
        audit.stop()


# -- the platform ------------------------------------------------------------------------------------------------
def _wait_http(url: str, timeout_s: float, alive: Callable[[], bool] = lambda: True) -> bool:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive():
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


def _interrupted(*_: object) -> None:
    raise KeyboardInterrupt


@app.command("up")
def up(
    demo: Annotated[bool, typer.Option(help="Load the demo data through the ingest API.")] = True,
    keep_kafka: Annotated[bool, typer.Option(help="Leave the broker running after Ctrl-C.")] = False,
) -> None:
    """Run the whole platform: broker, topics, services (supervisord: a service that exits is started again), demo
    data. Ctrl-C (or SIGTERM) stops everything."""
    # Both signals stop the platform, also when started in the background, where SIGINT arrives ignored.
    signal.signal(signal.SIGINT, _interrupted)
    signal.signal(signal.SIGTERM, _interrupted)
    settings = get_settings()
    configure_logging(settings.log_level, "kans")
    kafka = _kafka()
    was_running = kafka.pid() is not None
    try:
        kafka.start()
    except KafkaLocalError as err:
        _fail(str(err))
    from core.topics import ensure_topics

    ensure_topics(tool_settings(settings))
    from kans.supervision import Supervisor

    # Each service takes its own principal's password from the broker's credentials file (`kans serve`).
    env = {**os.environ, "KANS_KAFKA_CREDENTIALS_FILE": str(kafka.credentials_file)}
    services = Supervisor(settings.data_dir / "supervisor", env)
    services.start()
    try:
        if not _wait_http(f"{settings.ingest_base_url}/ready", 120, services.running):
            _fail(services.gave_up() or "the ingest service did not become ready")
        if demo:
            from kans.demo import load_demo

            summary = load_demo(settings.ingest_base_url, dispatch_url=settings.dispatch_base_url)
            typer.secho(f"demo data: {summary}", fg="green")
        _wait_http(f"{settings.api_base_url}/health", 60, services.running)
        typer.secho(
            "\nKANS is running:\n"
            f"  dashboard (live provider load): {settings.api_base_url}/\n"
            f"  provider load (JSON):           {settings.api_base_url}/v1/live/provider-load\n"
            f"  live views, own process:        {settings.live_base_url}/v1/live/provider-load (and /stream, "
            "/waiting-times, /trajectories/{id}; docs at /docs)\n"
            f"  API docs:                       {settings.api_base_url}/docs (authorize: `kans token --role desk`)\n"
            f"  ingest API docs:                {settings.ingest_base_url}/docs\n"
            f"  Kafka:                          {settings.kafka_bootstrap}\n"
            "Ctrl-C stops everything; the data stay in .kans/ for the next run.\n",
            fg="green",
        )
        services.wait()
    except KeyboardInterrupt:
        pass
    finally:
        services.stop()
        if not keep_kafka and not was_running and kafka.stop():
            typer.echo("Kafka stopped")
    if gave_up := services.gave_up():
        _fail(gave_up.strip())


# `kans test all`: two pytest sessions side by side, each on its own broker slot and chDB engine
# (tests/suite_broker.py). The suite waits on brokers, processes and consumer groups about half of its time: side by
# side the two take about the longer one's time (a fresh clone, 2026-12-07: 700 s and 743 s, 13 m 46 s for `make test`
# with the install, against 1,282 s one after the other). Each runs the privacy scan (after_suite) over what it wrote.
PRIVACY_SCAN = "tests/e2e/test_no_personal_data.py"
SESSIONS = (
    ("unit, integration", ["tests/unit", "tests/integration", *(
        f"{PRIVACY_SCAN}::{test}" for test in ("test_the_scanner_finds_what_it_looks_for",
                                               "test_no_personal_data_on_any_topic",
                                               "test_no_personal_data_in_clickhouse"))]),
    ("e2e", ["tests/e2e"]),
)  # fmt: skip


def _run_sessions(pytest: str, sessions: tuple[tuple[str, list[str]], ...]) -> int:
    """Run the pytest sessions at once: the first one's output as it comes, each other one's when it ended (from a
    file, so that the lines do not mix). The exit code: the first non-zero one, else 0."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    outputs: list[Path] = []
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for i, (name, args) in enumerate(sessions):
            typer.secho(f"$ pytest {' '.join(args)}   # session {i + 1} of {len(sessions)}: {name}", fg="cyan")
            if i == 0:
                procs.append(subprocess.Popen([pytest, *args], cwd=REPO_ROOT, env=env))
                continue
            out = Path(tempfile.mkstemp(prefix="kans-test-", suffix=".log")[1])
            outputs.append(out)
            with out.open("wb") as sink:
                procs.append(subprocess.Popen([pytest, *args], cwd=REPO_ROOT, env=env, stdout=sink,
                                              stderr=subprocess.STDOUT))  # fmt: skip
        codes = [proc.wait() for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait()
    for (name, args), out, code in zip(sessions[1:], outputs, codes[1:], strict=True):
        typer.secho(f"\n$ pytest {' '.join(args)}   # session: {name} (exit {code})", fg="cyan")
        sys.stdout.write(out.read_text(encoding="utf-8", errors="replace"))
        sys.stdout.flush()
        out.unlink()
    for (name, _), code in zip(sessions, codes, strict=True):
        typer.secho(f"session {name}: {'passed' if code == 0 else f'FAILED (exit {code})'}",
                    fg="green" if code == 0 else "red")  # fmt: skip
    return next((code for code in codes if code != 0), 0)


@app.command("test")
def run_tests(
    tier: Annotated[str, typer.Argument(help="all, unit, integration or e2e")] = "all",
    lint: Annotated[bool, typer.Option(help="Run ruff and mypy first.")] = True,
) -> None:
    """Run lint + the test suite (a tier is its folder, tests/<tier>; `all` runs two sessions side by side).

    The tests start and stop their own broker (`.kans-test/<slot>/`, ports from 19092; tests/suite_broker.py), apart
    from the one `kans up` uses; the unit tier starts none.
    """
    bin_dir = Path(sys.executable).parent
    steps: list[list[str]] = []
    if lint:
        steps += [[str(bin_dir / "ruff"), "check", "."], [str(bin_dir / "mypy"), "core", "kans", "schemas", "services"]]
    paths = {"unit": ["tests/unit"], "integration": ["tests/integration"], "e2e": ["tests/e2e"]}
    if tier != "all" and tier not in paths:
        _fail(f"unknown tier {tier!r}: one of all, {', '.join(paths)}")
    if tier != "all":
        steps.append([str(bin_dir / "pytest"), *paths[tier]])
    for step in steps:
        typer.secho(f"$ {' '.join(step)}", fg="cyan")
        code = subprocess.call(step, cwd=REPO_ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        if code != 0:
            raise typer.Exit(code)
    if tier == "all" and (code := _run_sessions(str(bin_dir / "pytest"), SESSIONS)) != 0:
        raise typer.Exit(code)


# -- schemas -----------------------------------------------------------------------------------------------------
@schemas_app.command("export")
def schemas_export() -> None:
    """Write the JSON Schemas of every event to schemas/jsonschema/."""
    from schemas.export import write_all

    for path in write_all():
        typer.echo(f"wrote {path.relative_to(REPO_ROOT)}")


@schemas_app.command("baseline")
def schemas_baseline(
    accept_breaking: Annotated[
        bool, typer.Option(help="Freeze even if producers of the old baseline would break (drops removed types).")
    ] = False,
) -> None:
    """Freeze the current submission schemas as the compatibility baseline (schemas/jsonschema/baseline/)."""
    from schemas.compat import baseline_breaks
    from schemas.export import write_baseline

    breaks = baseline_breaks()
    if breaks and not accept_breaking:
        _fail("the current contract breaks the baseline:\n  " + "\n  ".join(map(str, breaks)))
    for path in write_baseline(prune=accept_breaking):
        typer.echo(f"wrote {path.relative_to(REPO_ROOT)}")


# -- demo --------------------------------------------------------------------------------------------------------
@demo_app.command("load")
def demo_load(
    years: Annotated[int, typer.Option(help="School years up to today.")] = 3,
    today: Annotated[str | None, typer.Option(help="Cut-off day YYYY-MM-DD (default: today).")] = None,
    desk: Annotated[bool, typer.Option(help="Leave the last four weeks' dispatches to the dispatch service and "
                                       "decide on its proposals as the desk (as `kans up` does).")] = True,
) -> None:
    """Post the demo history (synthetic school years up to today) to the running ingest API. Idempotent: a second
    load adds only what is new."""
    from datetime import date

    from kans.demo import load_demo

    settings = get_settings()
    cut = date.fromisoformat(today) if today else date.today()
    typer.echo(load_demo(settings.ingest_base_url, cut, dispatch_url=settings.dispatch_base_url if desk else None,
                         years=years))  # fmt: skip


@demo_app.command("generate")
def demo_generate(
    years: Annotated[str | None, typer.Option(help="2017-2018..2026-2027, or one year (default: this one).")] = None,
    scale: Annotated[float | None, typer.Option(help="x1 = Brussels 2019-2020 (0.01-10000).")] = None,
    seed: Annotated[int | None, typer.Option(help="Same seed and parameters, same events.")] = None,
    origin: Annotated[str | None, typer.Option(help="First simulated year (default: the first of --years).")] = None,
    params: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="GeneratorParams YAML.")] = None,
    today: Annotated[str, typer.Option(help="No event after this day: YYYY-MM-DD, today or none.")] = "today",
    out: Annotated[Path | None, typer.Option(help="Write to this file (see --format).")] = None,
    file_format: Annotated[
        str, typer.Option("--format", help="jsonl, lars-csv|xlsx, external-clb-csv|xlsx, group-tool-csv|xlsx.")
    ] = "jsonl",
    to: Annotated[str | None, typer.Option(help="ingest (REST batches) or inbound (Kafka topic).")] = None,
    api_key: Annotated[str, typer.Option(envvar="KANS_API_KEY", help="X-API-Key / api-key header.")] = "kans-dev-demo",
    dump_params: Annotated[bool, typer.Option(help="Print the resolved parameters (YAML) and stop.")] = False,
) -> None:
    """Generate synthetic school years (deterministic) to a file, the ingest API or the Kafka inbound topic, and
    print the generator's totals per school year."""
    import json

    from kans.synthetic.command import Destination, UsageError, parse_today, resolve_params, run_generate

    try:
        run = resolve_params(years, scale, seed, origin, params)
        if dump_params:
            typer.echo(run.to_yaml())
            return
        summary, delivered = run_generate(run, parse_today(today), Destination(out, file_format, to),
                                          tool_settings(get_settings()), api_key)  # fmt: skip
    except (UsageError, ValueError) as err:
        _fail(str(err))
    totals = [summary.year_totals(year) for year in run.years if year in summary.school_years]
    typer.echo(json.dumps({"delivered": delivered, "school_years": totals}, indent=2, ensure_ascii=False))


@app.command("bench-generate")
def bench_generate(
    scale: Annotated[float, typer.Option(help="Scale factor.")] = 1000,
    years: Annotated[int, typer.Option(help="School years.")] = 10,
    first_year: Annotated[str, typer.Option(help="The first school year.")] = "2017-2018",
    budget_s: Annotated[float, typer.Option(help="Stop after this long and extrapolate the rest.")] = 600,
    serialise: Annotated[bool, typer.Option(help="Also serialise every event to JSON, as the sinks do.")] = True,
) -> None:
    """Measure the generator: events per second and peak memory (e.g. x1,000 for ten school years)."""
    import json

    from kans.synthetic.bench import run_bench_generate

    typer.echo(json.dumps(run_bench_generate(scale, years, first_year, budget_s, serialise), indent=2))


@app.command("bench")
def bench(
    events: Annotated[int, typer.Option(help="Events per measurement.")] = 20_000,
    freshness_events: Annotated[int, typer.Option(help="Events for the freshness measurement.")] = 1_000,
    decisions: Annotated[int, typer.Option(help="Dispatch proposals the desk confirms, one at a time.")] = 200,
) -> None:
    """Measure ingest throughput (HTTP batch vs raw producer), freshness and the desk's decision latency (decision ->
    provider-load view) on an isolated platform of its own."""
    from kans.bench import run_bench

    run_bench(events, freshness_events, decisions)


@app.command("bench-auth")
def bench_auth(
    stats_requests: Annotated[int, typer.Option(help="Requests of GET /v1/stats/{year}, each way.")] = 50,
    live_requests: Annotated[int, typer.Option(help="Requests of GET /v1/live/provider-load, each way.")] = 500,
) -> None:
    """Measure what authentication and scoping cost on the read API: p50/p99 with and without, same run."""
    from kans.bench_auth import run_bench_auth

    run_bench_auth(stats_requests, live_requests, typer.echo)


@app.command("bench-live")
def bench_live(
    rate: Annotated[int, typer.Option(help="Events per second through the ingest while measuring.")] = 2000,
    seconds: Annotated[float, typer.Option(help="How long the load runs.")] = 20,
    streams: Annotated[int, typer.Option(help="Dashboards listening for the fan-out measure.")] = 100,
    api_rps: Annotated[int, typer.Option(help="Live-view reads per second during the load.")] = 200,
    live_from: Annotated[str, typer.Option(help="Who serves the live views and their stream: `live` (the live "
                                           "process, kans serve live) or `api` (the API, as before).")] = "live",
) -> None:
    """The live side (issue 16) with two projections workers: SSE fan-out, event -> SSE freshness and live-view
    latency under load, and the replay speed of every projection."""
    from kans.bench_live import run_bench_live

    if live_from not in ("live", "api"):
        raise typer.BadParameter(f"--live-from {live_from!r}: allowed values are live, api")
    run_bench_live(rate, seconds, streams, api_rps, live_from, typer.echo)


@app.command("bench-projections")
def bench_projections(
    scale: Annotated[float, typer.Option(help="Synthetic desks of Brussels' size (two school years).")] = 15,
    http_events: Annotated[int, typer.Option(help="Events of the log sent through one ingest process.")] = 20000,
    profile: Annotated[bool, typer.Option(help="Then fold once more under py-spy (dev extra) and sum where the "
                                          "worker's time goes (kans/profile_summary.py).")] = False,
) -> None:
    """How fast one and two fresh projections workers fold the whole event log, against the rate one ingest process
    accepts (issue 13)."""
    from kans.bench_projections import run_bench_projections

    run_bench_projections(scale, http_events, typer.echo, profile=profile)


@app.command("bench-dispatch")
def bench_dispatch(
    scale: Annotated[float, typer.Option(help="Scale factor (N desks of Brussels' size).")] = 100,
    years: Annotated[int, typer.Option(help="School years.")] = 10,
    first_year: Annotated[str, typer.Option(help="The first school year.")] = "2017-2018",
    budget_s: Annotated[float, typer.Option(help="Stop after this long (0: no budget); the part done is measured.")]
    = 300,
    rules: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="A rule set (default: v1).")] = None,
) -> None:
    """Measure the dispatch engine replaying synthetic school years as `kans dispatch what-if` does: proposals and
    events per second, totals, wall time."""
    import json

    from kans.bench_dispatch import run_bench_dispatch
    from services.dispatch.ruleset import DEFAULT_RULES

    typer.echo(json.dumps(run_bench_dispatch(scale, years, first_year, budget_s, rules or DEFAULT_RULES), indent=2))


# -- the dispatch rules ------------------------------------------------------------------------------------------
@dispatch_app.command("what-if")
def dispatch_what_if(
    rules: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="The rule set to evaluate (YAML).")],
    year: Annotated[str | None, typer.Option(help="Only decisions of this school year, e.g. 2019-2020.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    limit: Annotated[int, typer.Option(help="Changed trajectories listed (all are counted).")] = 50,
) -> None:
    """Replay the whole event log (read from Kafka) under a rule set, writing nothing, and compare its proposals,
    waiting lists and blocks with the ones the log holds, per provider and module and per trajectory."""
    import yaml
    from kafka.errors import KafkaError
    from pydantic import ValidationError

    from kans.dispatch_whatif import run_what_if
    from kans.synthetic.params import year_range
    from services.dispatch.ruleset import parse_rule_set

    try:
        if year is not None:
            year_range(year)  # refuses what is not a school year like 2019-2020
    except ValueError:
        _fail(f"--year {year!r} is not a school year like 2019-2020")
    try:
        rule_set = parse_rule_set(rules.read_text(encoding="utf-8"))
    except (ValidationError, yaml.YAMLError) as err:
        _fail(f"{rules} is not a rule set: {err}")
    try:
        run_what_if(tool_settings(get_settings()), rule_set, year, as_json, limit, typer.echo)
    except (KafkaError, LookupError, TimeoutError) as err:
        _fail(f"could not read the event log: {err!r}")


# -- the projections ---------------------------------------------------------------------------------------------
@projections_app.command("rebuild")
def projections_rebuild(
    app_id: Annotated[str, typer.Option(help="The new application id to rebuild into (then start the workers with "
                                             "KANS_PROJECTIONS_APP_ID set to it).")],
    processes: Annotated[int, typer.Option(min=1, help="Processes reading the log side by side.")] = 2,
) -> None:
    """Rebuild every projection from the event log in bulk into a fresh application id: its tables' changelog, its
    load changes and its committed offsets, as workers folding the log would leave them (much faster)."""
    import json

    from kafka.errors import KafkaError

    from services.projections.rebuild import RebuildFailed, RebuildRefused, rebuild

    settings = tool_settings(get_settings()).model_copy(update={"projections_app_id": app_id})
    try:
        result = rebuild(settings, processes, typer.echo)
    except (RebuildRefused, RebuildFailed, KafkaError) as err:
        _fail(f"kans projections rebuild: {err}")
    typer.echo(json.dumps({k: v for k, v in result.items() if k != "shares"}, indent=2))
    typer.echo(f"done: start the projections workers with KANS_PROJECTIONS_APP_ID={app_id}")


# -- spreadsheet import ------------------------------------------------------------------------------------------
@app.command("import")
def import_spreadsheet(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The export: .csv or .xlsx.")],
    mapping: Annotated[str, typer.Option(help="lars-individual, external-clb-form, group-referral-tool or a YAML.")],
    report: Annotated[Path | None, typer.Option(help="Write the invalid rows (row;column;reason) to this CSV.")] = None,
    dry_run: Annotated[bool, typer.Option(help="Only validate: post nothing.")] = False,
    api_key: Annotated[
        str | None, typer.Option(envvar="KANS_API_KEY", help="The source system's API key (X-API-Key).")
    ] = None,
    ingest_url: Annotated[str | None, typer.Option(help="The ingest's base URL; default from the settings.")] = None,
) -> None:
    """Import a CSV/XLSX export through the ingest (batches of 1,000 events; a second import adds nothing).

    Exit code 0: every row imported; 2: some rows are invalid (see the summary and --report); 1: failed.
    """
    from services.ingest.spreadsheets.command import run_import_command
    from services.ingest.spreadsheets.importer import ImportFailed, IngestUnavailable
    from services.ingest.spreadsheets.mapping import MappingError

    try:
        summary = run_import_command(
            file, mapping, ingest_url or get_settings().ingest_base_url, api_key, report=report, dry_run=dry_run
        )
    except (ImportFailed, IngestUnavailable, MappingError) as err:
        _fail(f"import failed: {err}")
    raise typer.Exit(2 if summary.invalid_rows else 0)


@app.command("bench-import")
def bench_import(
    rows: Annotated[int, typer.Option(help="Rows in the generated LARS export.")] = 100_000,
    file_format: Annotated[str, typer.Option("--format", help="csv or xlsx.")] = "csv",
) -> None:
    """Measure a spreadsheet import end to end (file -> ingest -> Kafka -> ClickHouse) on an isolated platform."""
    from kans.bench_import import run_bench_import

    run_bench_import(rows, file_format)


@app.command("bench-report")
def bench_report(
    events: Annotated[int, typer.Option(help="At least this many events in the 10-school-year store.")] = 10_000_000,
    repeats: Annotated[int, typer.Option(help="Timed runs of each measurement (after one warm-up run).")] = 5,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="chDB directory of the store (default: <data_dir>/bench-report; "
            "reused when it already holds enough events)."
        ),
    ] = None,
    rebuild: Annotated[bool, typer.Option(help="Build the store again even if it holds enough events.")] = False,
    pandas: Annotated[bool, typer.Option(help="Also compute the report naively in pandas (the reference).")] = True,
) -> None:
    """Time the annual report's statistics on the embedded engine: the whole report of one year (R01-R59), a 10-year
    comparison of one statistic and an ad hoc question, and the same report computed naively in pandas."""
    import json

    from kans.bench_report import run_bench_report

    store = data_dir or get_settings().data_dir / "bench-report"
    results = run_bench_report(store, events, repeats, rebuild, pandas, typer.echo)
    typer.echo(json.dumps(results, indent=2))


# -- the annual report -------------------------------------------------------------------------------------------
@app.command("report")
def annual_report(
    school_year: Annotated[str, typer.Argument(help="The school year, e.g. 2019-2020.")],
    file_format: Annotated[str, typer.Option("--format", help="html, pdf or xlsx.")] = "html",
    out: Annotated[Path | None, typer.Option(help="Write here (default: kans-jaarrapport-<year>.<format>).")] = None,
    as_of: Annotated[str | None, typer.Option(help="As known at the end of this day, YYYY-MM-DD.")] = None,
    audience: Annotated[str, typer.Option(help="desk, or policy (small cells suppressed).")] = "desk",
    channel: Annotated[list[str] | None, typer.Option(help="Only this channel (repeatable).")] = None,
    exclude_channel: Annotated[list[str] | None, typer.Option(help="Leave out this channel, e.g. intake.")] = None,
    offer_type: Annotated[list[str] | None, typer.Option(help="Only this offer type: regular, corona.")] = None,
    source: Annotated[str, typer.Option(help="auto (the running API, else the store), api or local.")] = "auto",
    bearer: Annotated[str | None, typer.Option("--token", envvar="KANS_TOKEN", help="Bearer token for the API "
                                               "(in development default: a desk token of the dev key).")] = None,
) -> None:
    """The whole annual report of a school year as HTML, PDF or XLSX, like GET /v1/reports/annual/{school_year}.
    With embedded ClickHouse only one process may open the store: while the API runs, the API is asked."""
    from rich.console import Console

    from services.api.report.export import file_name
    from services.api.report.offline import ReportFailed, make_report, parse_request
    from services.api.report.render_pdf import PdfUnavailable

    if source not in ("auto", "api", "local"):
        _fail("--source must be auto, api or local")
    try:
        request = parse_request(school_year, file_format, as_of, audience, channel=channel,
                                exclude_channel=exclude_channel, offer_type=offer_type)  # fmt: skip
        console = Console(stderr=True)
        started = time.perf_counter()
        with console.status(f"the annual report {request.school_year} ({request.report_format})"):
            body, origin = make_report(get_settings(), request, source, bearer)  # type: ignore[arg-type]
    except (ReportFailed, PdfUnavailable) as err:
        _fail(f"no report: {err}")
    target = out or Path(file_name(request.school_year, request.report_format))
    target.write_bytes(body)
    typer.echo(f"wrote {target} ({len(body):,} bytes) from {origin} in {time.perf_counter() - started:.1f} s")


# -- development tokens ------------------------------------------------------------------------------------------
@app.command("token")
def token(
    role: Annotated[str, typer.Option(help="desk, clb, provider, policy or source_system.")],
    scope: Annotated[list[str] | None, typer.Option(help="An id the role acts for (repeatable): the CLB's referrer "
                                                     "id, the provider id, the source system code.")] = None,
    ttl: Annotated[int, typer.Option(help="Seconds the token is valid.")] = 3600,
    subject: Annotated[str | None, typer.Option(help="The token's sub (default: dev-<role>-<scope>).")] = None,
    referrer: Annotated[list[str] | None, typer.Option(help="source_system: a referrer it submits for.")] = None,
    provider: Annotated[list[str] | None, typer.Option(help="source_system: a provider it acts for.")] = None,
) -> None:
    """Print a development bearer token for both APIs (`Authorization: Bearer <token>`), signed with the development
    key in the data directory (generated on first use). With an identity provider configured (KANS_AUTH_JWKS_URL) or
    KANS_ENVIRONMENT=production there are no development tokens: get one from the identity provider."""
    from core.auth import NotAuthenticated, issue_development_token

    try:
        typer.echo(issue_development_token(get_settings(), role, scope or [], ttl_s=ttl, subject=subject,
                                           referrers=referrer or [], providers=provider or []))  # fmt: skip
    except (PermissionError, ValueError, NotAuthenticated) as err:
        _fail(str(err))


# -- the three-broker cluster drill ------------------------------------------------------------------------------
cluster_app = typer.Typer(help="A local three-broker Kafka cluster (.kans-cluster/, ports 29092-29094) and its "
                          "failure drill.", no_args_is_help=True)  # fmt: skip
app.add_typer(cluster_app, name="cluster")


@cluster_app.command("start")
def cluster_start() -> None:
    """Start the three nodes (broker + controller each, replication 3, min.insync.replicas 2); idempotent."""
    from kans.cluster import LocalCluster

    cluster = LocalCluster()
    try:
        cluster.start()
    except KafkaLocalError as err:
        _fail(str(err))
    typer.echo(f"cluster ready at {cluster.bootstrap}")


@cluster_app.command("stop")
def cluster_stop() -> None:
    """Controlled shutdown of every node; the data stay in .kans-cluster/."""
    from kans.cluster import LocalCluster

    typer.echo(f"stopped nodes {LocalCluster().stop() or 'none (none running)'}")


@cluster_app.command("status")
def cluster_status() -> None:
    """Running nodes, live brokers, under-replicated partitions."""
    from kans.cluster import LocalCluster

    cluster = LocalCluster()
    typer.echo(f"running nodes {cluster.running()}, live brokers {sorted(cluster.live_brokers() or [])}, "
               f"under-replicated partitions {cluster.under_replicated()}")  # fmt: skip


@cluster_app.command("drill")
def cluster_drill(
    three_brokers: Annotated[float, typer.Option(help="Seconds of load with three brokers.")] = 15.0,
    two_brokers: Annotated[float, typer.Option(help="Seconds after the first kill -9.")] = 20.0,
    one_broker: Annotated[float, typer.Option(help="Seconds after the second kill -9 (writes refused).")] = 20.0,
    after_restart: Annotated[float, typer.Option(help="Seconds of load after both brokers were restarted.")] = 20.0,
    rate: Annotated[float, typer.Option(help="Events per second posted, all clients together.")] = 200.0,
    keep_cluster: Annotated[bool, typer.Option(help="Leave the cluster running afterwards.")] = False,
) -> None:
    """Kill -9 one broker under load, then a second, restart both; count acknowledged events end to end (Kafka,
    ClickHouse, the provider-load view). Exits 1 if one was lost or doubled, or a write was kept by one broker."""
    from kans.cluster import LocalCluster
    from kans.cluster_drill import DrillPlan, run_drill, summary

    configure_logging("WARNING", "cluster-drill")
    cluster = LocalCluster()
    was_running = bool(cluster.running())
    plan = DrillPlan(three_brokers_s=three_brokers, two_brokers_s=two_brokers, one_broker_s=one_broker,
                     after_restart_s=after_restart, rate=rate)  # fmt: skip
    try:
        result = run_drill(plan, cluster, echo=typer.echo)
    except KafkaLocalError as err:
        _fail(str(err))
    finally:
        if not keep_cluster and not was_running:
            cluster.stop()
    typer.echo(summary(result))
    typer.echo(f"saved to {result['saved']}")
    if not result["ok"]:
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
