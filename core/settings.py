"""The one typed settings class: every service is configured only through `KANS_*` environment variables."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_PUPIL_SECRET = "development-only-pupil-key-secret"
# Shipped as package data, so an installed package (the Docker image) needs no checkout.
DEV_API_KEYS_FILE = Path(__file__).resolve().with_name("dev-api-keys.yaml")
DEV_DISPATCH_API_KEY = "kans-dev-dispatch"  # listed in dev-api-keys.yaml
# The issuer of the development tokens (`kans token`), signed with a key generated in the data directory.
DEV_TOKEN_ISSUER = "kans-development"


class Settings(BaseSettings):
    """Settings shared by all services; defaults run everything locally on 127.0.0.1 with embedded ClickHouse."""

    model_config = SettingsConfigDict(env_prefix="KANS_", env_file=None, extra="ignore", frozen=True)

    data_dir: Path = Field(
        Path(".kans"), description="Local state: Kafka logs, chDB data, pid files (relative: to the working directory)."
    )
    cache_dir: Path = Field(Path.home() / ".cache" / "kans", description="Downloaded Kafka jars.")

    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, comma separated.")
    kafka_broker_port: int = 9092
    kafka_controller_port: int = 9093
    kafka_version: str = "4.1.1"
    kafka_heap: str = "512m"
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT"] = Field(
        "PLAINTEXT", description="SASL_PLAINTEXT: every client authenticates (SCRAM) as KANS_KAFKA_USERNAME and the "
        "broker's ACLs decide what it may do (the local broker and compose run so); PLAINTEXT is refused in production."
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-256"
    kafka_username: str = Field("", description="The Kafka principal this process acts as (ingest, projections, ...).")
    kafka_password: SecretStr = Field(SecretStr(""), description="That principal's SCRAM password.")
    kafka_credentials_file: Path | None = Field(
        None, description="Tools only (`kans up`, `kans serve`, the test platform): an env file of every principal's "
        "password (`INGEST_KAFKA_PASSWORD=...`) from which each service process is given its own. The local broker "
        "generates <data_dir>/kafka/credentials.env; services read only KANS_KAFKA_USERNAME/PASSWORD."
    )
    topic_prefix: str = Field("", description="Prefix for every topic name; tests use a unique one per session.")
    event_partitions: int = Field(6, ge=1)
    replication_factor: int = Field(
        1, ge=1, description="Replicas of every topic the project creates (its own and the faust workers' internal "
        "ones): 1 on the single local broker, 3 on a cluster."
    )
    min_insync_replicas: int = Field(
        1, ge=1, description="Replicas that must hold a write before acks=all succeeds: with 3 replicas, 2, so a "
        "write is refused rather than kept by one broker alone."
    )

    clickhouse_dsn: str = Field(
        "", description="clickhouse-connect DSN: chdb:///path (embedded, default under data_dir) or http://host:8123."
    )
    clickhouse_database: str = Field("kans", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    clickhouse_read_clients: int = Field(
        3, ge=1, le=16, description="Connections the API reads ClickHouse on side by side (the writers have their "
        "own): a report, a year's statistics and a referral's history no longer wait for each other."
    )

    ingest_host: str = "127.0.0.1"
    ingest_port: int = 8001
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    live_host: str = "127.0.0.1"
    live_port: int = Field(8002, description="The live process's port (`kans serve live`): the live views of the API "
                           "(provider load, its stream, waiting times, a trajectory's status) without the warehouse.")
    live_public_url: str = Field("", description="Where browsers reach the live process (e.g. http://127.0.0.1:8002): "
                                 "the API's dashboard then reads the live views and their stream there, and from the "
                                 "API itself when that fails. Empty: the dashboard reads them from the API.")
    live_cors_origins: str = Field("", description="Comma-separated origins whose pages may read the live process "
                                   "from a browser (the dashboard's: the API's public address). Empty: none.")
    projections_host: str = "127.0.0.1"
    projections_port: int = 6066
    projections_url: str = Field("", description="Where the API finds the projections worker; default from host/port.")
    projections_urls: str = Field("", description="Every projections worker's base URL, comma-separated, when more "
                                  "than one runs (they split the partitions; the API asks each and merges). Default: "
                                  "projections_url alone.")  # fmt: skip
    inbound_host: str = "127.0.0.1"
    inbound_port: int = Field(6067, description="The inbound worker's web port (readiness page).")
    dispatch_host: str = "127.0.0.1"
    dispatch_port: int = Field(6069, description="The dispatch worker's web port (proposals, waiting lists, ready).")
    dispatch_url: str = Field("", description="Where the API and the ingest (the desk's decisions) find the dispatch "
                              "worker; default from host/port.")  # fmt: skip

    writer_in_api: bool = Field(
        True, description="Run the ClickHouse writer inside the API process (required with embedded chDB)."
    )
    writer_group: str = "kans-clickhouse-writer"
    writer_metrics_host: str = "127.0.0.1"
    writer_metrics_port: int = Field(
        6068, description="Where the writer run as its own process (`kans serve writer`) serves /metrics; in the API "
        "process its metrics are on the API's /metrics."
    )
    writer_batch_max: int = Field(5000, ge=1)
    writer_batch_wait_ms: int = Field(200, ge=1)

    environment: Literal["development", "production"] = Field(
        "development", description="production refuses the development defaults of secrets."
    )
    pupil_key_secret: SecretStr = Field(
        SecretStr(DEV_PUPIL_SECRET),
        description="HMAC key that turns a source's pupil identifier into the pseudonymous pupil key.",
    )
    api_keys_file: Path = Field(
        DEV_API_KEYS_FILE,
        description="YAML file of the source systems' API keys (SHA-256 digests and scopes); relative to the "
        "working directory. The default holds public development keys and is refused in production.",
    )
    auth_issuer: str = Field(
        DEV_TOKEN_ISSUER, min_length=1, description="The `iss` every bearer token must carry: your OpenID Connect "
        "provider's issuer URL. The default is the development issuer (tokens of `kans token`)."
    )
    auth_audience: str = Field("kans", min_length=1, description="The `aud` every bearer token must carry.")
    auth_jwks_url: str = Field(
        "", description="The identity provider's JWKS (its public signing keys), e.g. https://idp/realms/kans/protocol/"
        "openid-connect/certs. Empty: tokens are verified with the development signing key (refused in production)."
    )
    auth_algorithms: list[str] = Field(["RS256", "ES256"], min_length=1, description="Signature algorithms accepted.")
    auth_leeway_s: float = Field(30, ge=0, le=300, description="Clock skew tolerated on exp, nbf and iat.")
    auth_dev_signing_key: Path | None = Field(
        None, description="The development signing key (PEM, generated on first use, never committed); default "
        "<data_dir>/auth/dev-signing-key.pem."
    )

    pupil_vault: Path | None = Field(
        None, description="The pupil key vault (SQLite): each pupil's random reference and the key that seals its "
        "pupil key in the log; erasing a pupil destroys its row (crypto-shredding). Shared by the ingest, the inbound "
        "worker and the API. Default <data_dir>/vault/pupils.sqlite."
    )

    faust_rebalance_exit_s: float = Field(
        300.0, ge=0, description="A faust worker (projections, dispatch, inbound) that has been in one rebalance, "
        "recovery included, without progress (a recovery still restoring changelog records is progress) for longer "
        "than this exits with code 75, for its supervisor to start it again from the committed offsets: faust 0.15 "
        "can hang in a rebalance, alive and never ready. 0 turns this off."
    )
    faust_session_timeout_s: float = Field(
        10.0, ge=6, le=1800, description="How long the broker waits for a faust worker's heartbeats before it gives "
        "the worker's partitions to the others (a worker killed without leaving the group holds them that long). "
        "faust's default is 60 s; the broker accepts 6 s to 30 min."
    )
    projections_app_id: str = "kans-projections"
    inbound_app_id: str = "kans-inbound"
    dispatch_app_id: str = "kans-dispatch"
    dispatch_rules: Path | None = Field(
        None, description="The dispatch rule set (YAML); default the packaged services/dispatch/rules/v1.yaml."
    )
    dispatch_api_key: SecretStr = Field(
        SecretStr(DEV_DISPATCH_API_KEY), description="The API key the dispatch worker sends its proposals and waiting "
        "lists with (to the ingest's Kafka way in, source system dispatch, as the desk). The default is a public "
        "development key: the dispatch worker refuses it in production."
    )
    inbound_batch_max: int = Field(500, ge=1, description="Inbound messages validated and published per batch.")
    inbound_batch_wait_ms: int = Field(200, ge=1, description="How long the inbound worker waits to fill a batch.")
    publish_timeout_s: float = Field(10.0, gt=0, description="How long the ingest waits for broker acks.")
    earliest_event_date: date = Field(
        date(2000, 1, 1), description="The ingest refuses events (occurred_at) and payload dates before this day."
    )
    max_event_lead_s: float = Field(
        86_400, ge=0, description="How far after its acceptance an event may say it happened (occurred_at): clocks "
        "drift, events do not happen in the future."
    )
    max_planned_date_lead_days: int = Field(
        3 * 366, ge=0, description="How far after occurred_at a payload date (a round table's day, a provider "
        "fact's valid_from/valid_until) may lie."
    )
    suppression_threshold: int = Field(
        5, ge=1, le=100, description="Statistics for the policy audience hide counts below this (small cells)."
    )
    log_level: str = "INFO"
    rate_limit: str = Field(
        "600/minute", description="Requests per caller on the read API's /v1 routes (a token's subject, else the "
        "client address), in the notation of the `limits` package: `600/minute`, several with `;` "
        "(`600/minute;20/second`). Over it: 429 with Retry-After."
    )

    live_view_max_age_ms: int = Field(
        1000, ge=0, le=10_000, description="While the projections workers are asked again, a live-view read is "
        "answered at once with the last complete view if the read that got it began less than this long ago (0: "
        "always wait for the workers). Bounds how much older than the workers' tables a view served may be.")
    api_shed_behind_ms: int = Field(
        2000, ge=0, description="The API answers its live views 503 with Retry-After while its event loop is more "
        "than this far behind (a read would be answered that late); 0: never (services/api/overload.py)."
    )

    @field_validator("rate_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError as err:
            raise ValueError(f"KANS_RATE_LIMIT={value!r} is not a rate limit such as 600/minute: {err}") from err
        return value

    @field_validator("data_dir", "cache_dir", "api_keys_file")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @model_validator(mode="after")
    def _kafka_authenticates(self) -> Settings:
        if self.environment == "production" and self.kafka_security_protocol == "PLAINTEXT":
            raise ValueError("KANS_KAFKA_SECURITY_PROTOCOL=PLAINTEXT is refused in production: anyone who reaches the "
                             "broker could write the event log; use SASL_PLAINTEXT with a principal per service")
        if self.kafka_security_protocol != "PLAINTEXT" and not (
            self.kafka_username and self.kafka_password.get_secret_value()
        ):
            raise ValueError(f"KANS_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs KANS_KAFKA_USERNAME "
                             "and KANS_KAFKA_PASSWORD (the principal this process acts as)")
        return self

    @model_validator(mode="after")
    def _no_development_secrets_in_production(self) -> Settings:
        secret = self.pupil_key_secret.get_secret_value()
        if self.environment == "production" and (secret == DEV_PUPIL_SECRET or len(secret) < 32):
            raise ValueError("KANS_PUPIL_KEY_SECRET must be set to a random value of at least 32 characters")
        if self.environment == "production" and self.api_keys_file == DEV_API_KEYS_FILE.resolve():
            raise ValueError("KANS_API_KEYS_FILE must name the production key file: the development keys are public")
        if self.environment == "production" and not self.auth_jwks_url.startswith("https://"):
            raise ValueError("KANS_AUTH_JWKS_URL must name your identity provider's JWKS (https://...): the "
                             "development signing key is for local use only")
        if self.environment == "production" and self.auth_issuer == DEV_TOKEN_ISSUER:
            raise ValueError("KANS_AUTH_ISSUER must be your identity provider's issuer, not the development issuer")
        return self

    @model_validator(mode="after")
    def _insync_within_replicas(self) -> Settings:
        if self.min_insync_replicas > self.replication_factor:
            raise ValueError("KANS_MIN_INSYNC_REPLICAS cannot exceed KANS_REPLICATION_FACTOR")
        return self

    @property
    def clickhouse_url(self) -> str:
        return self.clickhouse_dsn or f"chdb://{self.data_dir / 'clickhouse'}"

    @property
    def embedded_clickhouse(self) -> bool:
        return self.clickhouse_url.startswith("chdb://")

    @property
    def projections_base_url(self) -> str:
        return self.projections_url or f"http://{self.projections_host}:{self.projections_port}"

    @property
    def projections_base_urls(self) -> list[str]:
        """Every projections worker the API asks (KANS_PROJECTIONS_URLS, else the one of projections_base_url)."""
        urls = [url.strip() for url in self.projections_urls.split(",") if url.strip()]
        return urls or [self.projections_base_url]

    @property
    def ingest_base_url(self) -> str:
        return f"http://{self.ingest_host}:{self.ingest_port}"

    @property
    def inbound_base_url(self) -> str:
        return f"http://{self.inbound_host}:{self.inbound_port}"

    @property
    def dispatch_base_url(self) -> str:
        return self.dispatch_url or f"http://{self.dispatch_host}:{self.dispatch_port}"

    @property
    def api_base_url(self) -> str:
        return f"http://{self.api_host}:{self.api_port}"

    @property
    def live_base_url(self) -> str:
        return f"http://{self.live_host}:{self.live_port}"

    @property
    def pupil_vault_path(self) -> Path:
        return (self.pupil_vault or self.data_dir / "vault" / "pupils.sqlite").expanduser().resolve()

    @property
    def dev_signing_key_path(self) -> Path:
        return (self.auth_dev_signing_key or self.data_dir / "auth" / "dev-signing-key.pem").expanduser().resolve()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
