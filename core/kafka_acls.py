"""Who may do what on the broker: the principals (SCRAM users), one per kind of process, and the ACLs that give each
exactly what its code reads and writes. Anything not granted here is refused (the broker's StandardAuthorizer,
`allow.everyone.if.no.acl.found=false`); `admin` (topics, ACLs, users; the tools) is a super user.

Every grant names a topic or group of one topic prefix (`KANS_TOPIC_PREFIX`), so a platform with its own prefix
(a test, a benchmark) gets its own grants when its topics are created (`core.topics.ensure_topics`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from kafka import KafkaAdminClient
from kafka.admin import (
    ACL,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ResourcePattern,
    ResourceType,
    UserScramCredentialUpsertion,
)

from core.kafka_security import client_config
from core.settings import Settings
from core.topics import (
    AUDIT_WRITER_GROUP,
    audit_topic,
    dead_letter_topic,
    event_dead_letter_topic,
    events_topic,
    inbound_topic,
    source_index_topic,
)

log = logging.getLogger(__name__)

ADMIN = "admin"
# The principals of the processes; `inbound` is a source system producing submissions to the inbound topic.
PRINCIPALS = (ADMIN, "ingest", "inbound", "projections", "writer", "api", "dispatch")
# The principal each service process (`kans serve <name>`) acts as. The inbound worker is the ingest's Kafka way in:
# it checks submissions and publishes events like the REST ingest, so it is the ingest principal. The live process
# (`kans serve live`) is the read API's: it reads the event log (without a group) and writes the audit records.
SERVICE_PRINCIPALS = {"ingest": "ingest", "inbound": "ingest", "projections": "projections", "writer": "writer",
                      "api": "api", "dispatch": "dispatch", "live": "api"}  # fmt: skip

Operation = Literal["READ", "WRITE", "CREATE"]


@dataclass(frozen=True)
class Grant:
    """`principal` may do `operations` on the `resource` named `name` (exactly, or every name starting with it).
    READ and WRITE imply DESCRIBE (metadata, offsets)."""

    principal: str
    resource: Literal["topic", "group"]
    name: str
    pattern: Literal["literal", "prefixed"]
    operations: tuple[Operation, ...]
    why: str


def grants(settings: Settings) -> list[Grant]:
    """Every grant of the platform with `settings.topic_prefix`, read from what each process's code does."""
    prefix = settings.topic_prefix
    events, index, inbound = events_topic(settings), source_index_topic(settings), inbound_topic(settings)
    inbound_dlq, events_dlq = dead_letter_topic(settings), event_dead_letter_topic(settings)
    # A faust app's id is its consumer group and the prefix of the topics it creates (changelogs, its own topics,
    # the assignor's): core/faust_apps.py.
    projections, inbound_app = f"{prefix}{settings.projections_app_id}", f"{prefix}{settings.inbound_app_id}"
    dispatch = f"{prefix}{settings.dispatch_app_id}"

    def writer(principal: str) -> list[Grant]:
        return [
            Grant(principal, "topic", events, "literal", ("READ",), "the ClickHouse writer reads the event log"),
            Grant(principal, "topic", events_dlq, "literal", ("WRITE",), "dead-letters the records it cannot take"),
            Grant(principal, "group", f"{prefix}{settings.writer_group}", "literal", ("READ",),
                  "its consumer group (offsets committed after ClickHouse took a batch)"),
            Grant(principal, "topic", audit_topic(settings), "literal", ("READ",),
                  "the audit writer stores the read API's audit trail in ClickHouse"),
            Grant(principal, "group", f"{prefix}{AUDIT_WRITER_GROUP}", "literal", ("READ",), "the audit writer"),
        ]  # fmt: skip

    return [
        Grant("ingest", "topic", events, "literal", ("WRITE", "READ"),
              "publishes accepted events (the log's one writer); reads it back for who owns a stream"),
        Grant("ingest", "topic", index, "literal", ("READ", "WRITE"), "keeps and reloads the idempotency index"),
        Grant("ingest", "topic", inbound, "literal", ("READ",), "the inbound worker reads the submissions"),
        Grant("ingest", "topic", inbound_dlq, "literal", ("WRITE",), "and dead-letters those it refuses"),
        Grant("ingest", "topic", f"{inbound_app}-", "prefixed", ("CREATE", "READ", "WRITE"),
              "the inbound worker's own faust topics"),
        Grant("ingest", "group", inbound_app, "literal", ("READ",), "the inbound worker's consumer group"),
        Grant("inbound", "topic", inbound, "literal", ("WRITE",), "a source system produces its submissions"),
        Grant("inbound", "topic", inbound_dlq, "literal", ("READ",), "and reads why one was refused"),
        Grant("projections", "topic", events, "literal", ("READ",), "folds the event log into the live views"),
        Grant("projections", "topic", events_dlq, "literal", ("WRITE",), "dead-letters the records it cannot take"),
        Grant("projections", "topic", f"{projections}-", "prefixed", ("CREATE", "READ", "WRITE"),
              "its own faust topics: load changes, the tables' changelogs, the assignor's"),
        Grant("projections", "group", projections, "literal", ("READ",), "its consumer group"),
        Grant("dispatch", "topic", events, "literal", ("READ",), "reads what the dispatch rules read"),
        Grant("dispatch", "topic", inbound, "literal", ("WRITE",),
              "hands its proposals, waiting lists and auto-confirmed dispatches to the ingest's Kafka way in"),
        Grant("dispatch", "topic", events_dlq, "literal", ("WRITE",), "dead-letters the records it cannot take"),
        Grant("dispatch", "topic", f"{dispatch}-", "prefixed", ("CREATE", "READ", "WRITE"),
              "its own faust topics: the feed, the tables' changelogs, the assignor's"),
        Grant("dispatch", "group", dispatch, "literal", ("READ",), "its consumer group"),
        *writer("writer"),
        # With embedded chDB the API process hosts the writer; with a ClickHouse server it only asks for metadata.
        *writer("api"),
        Grant("api", "topic", audit_topic(settings), "literal", ("WRITE",),
              "records each read of a pupil's history or per-pupil rows (and each refusal) before answering it"),
    ]  # fmt: skip


def acls(settings: Settings) -> list[ACL]:
    """The grants as kafka-python ACL bindings (allow, any host)."""
    resource = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP}
    pattern = {"literal": ACLResourcePatternType.LITERAL, "prefixed": ACLResourcePatternType.PREFIXED}
    return [
        ACL(f"User:{g.principal}", "*", ACLOperation[operation], ACLPermissionType.ALLOW,
            ResourcePattern(resource[g.resource], g.name, pattern[g.pattern]))
        for g in grants(settings) for operation in g.operations
    ]  # fmt: skip


def _admin(settings: Settings) -> KafkaAdminClient:
    return KafkaAdminClient(**client_config(settings), client_id="kans-security", request_timeout_ms=10_000)


def ensure_acls(settings: Settings) -> int:
    """Create the grants of `settings.topic_prefix` (creating an existing binding again changes nothing); needs the
    admin principal. Returns how many bindings were asked for."""
    bindings = acls(settings)
    admin = _admin(settings)
    try:
        result = admin.create_acls(bindings)
    finally:
        admin.close()
    if result["failed"]:
        raise RuntimeError(f"the broker refused ACLs: {result['failed'][:3]}")
    log.info("ACLs in place for prefix %r: %d bindings", settings.topic_prefix, len(bindings))
    return len(bindings)


def ensure_users(settings: Settings, passwords: Mapping[str, str]) -> list[str]:
    """Create or update the SCRAM credential of every principal in `passwords` (needs the admin principal)."""
    admin = _admin(settings)
    try:
        upserts = [UserScramCredentialUpsertion(user, settings.kafka_sasl_mechanism, password)
                   for user, password in sorted(passwords.items())]  # fmt: skip
        errors = {user: error for user, error in admin.alter_user_scram_credentials(upserts).items() if error}
    finally:
        admin.close()
    if errors:
        raise RuntimeError(f"the broker refused SCRAM credentials: {errors}")
    return sorted(passwords)


def existing_users(settings: Settings) -> set[str]:
    """The users that have a SCRAM credential (needs the admin principal)."""
    admin = _admin(settings)
    try:
        described = admin.describe_user_scram_credentials()
    finally:
        admin.close()
    return {user for user, info in described.items() if not info["error"] and info["credential_infos"]}
