"""How every Kafka client of the project connects: bootstrap servers, security protocol and SASL credentials, built
from `Settings` in this one place for kafka-python (producers, consumers, admin), aiokafka and faust.

A process authenticates as one principal (`KANS_KAFKA_USERNAME` / `KANS_KAFKA_PASSWORD`, SCRAM over
`SASL_PLAINTEXT`); what that principal may do is decided by the broker's ACLs (`core/kafka_acls.py`).
"""

from __future__ import annotations

from typing import Any

import faust

from core.settings import Settings


def sasl_enabled(settings: Settings) -> bool:
    return settings.kafka_security_protocol != "PLAINTEXT"


def security_config(settings: Settings) -> dict[str, Any]:
    """The security keyword arguments, the same names for kafka-python and aiokafka clients."""
    if not sasl_enabled(settings):
        return {"security_protocol": "PLAINTEXT"}
    return {
        "security_protocol": settings.kafka_security_protocol,
        "sasl_mechanism": settings.kafka_sasl_mechanism,
        "sasl_plain_username": settings.kafka_username,
        "sasl_plain_password": settings.kafka_password.get_secret_value(),
    }


def client_config(settings: Settings) -> dict[str, Any]:
    """`bootstrap_servers` and the security arguments: `KafkaProducer(**client_config(settings), acks="all")`."""
    return {"bootstrap_servers": settings.kafka_bootstrap, **security_config(settings)}


def faust_credentials(settings: Settings) -> faust.SASLCredentials | None:
    """faust's `broker_credentials` (aiokafka underneath takes SCRAM); None on a PLAINTEXT broker."""
    if not sasl_enabled(settings):
        return None
    return faust.SASLCredentials(
        username=settings.kafka_username,
        password=settings.kafka_password.get_secret_value(),
        mechanism=settings.kafka_sasl_mechanism,
    )
