"""The suite runs its own broker from its own data directory: nothing of the tests reaches `make up`'s."""

from __future__ import annotations

from core.settings import Settings
from tests.conftest import wait_for
from tests.suite_broker import DEFAULT_DATA_DIR, SuiteBroker, traces_of_tests


def test_every_setting_points_at_the_suites_broker(suite_broker_slot: SuiteBroker, kafka_bootstrap: str) -> None:
    defaults, resolved = Settings.model_fields, Settings()
    assert resolved.kafka_bootstrap == kafka_bootstrap == f"127.0.0.1:{suite_broker_slot.broker_port}"
    assert kafka_bootstrap != defaults["kafka_bootstrap"].default
    ports = (resolved.kafka_broker_port, resolved.kafka_controller_port)
    assert not {*ports} & {defaults["kafka_broker_port"].default, defaults["kafka_controller_port"].default}
    assert resolved.data_dir == suite_broker_slot.data_dir
    assert not resolved.data_dir.is_relative_to(DEFAULT_DATA_DIR)
    # The broker answering there is the one this session started, configured with the session's ports.
    kafka = suite_broker_slot.kafka()
    assert kafka.pid() is not None
    assert f"127.0.0.1:{ports[0]}" in kafka.properties.read_text()


def test_the_tests_topics_are_in_the_suites_log_directory_only(suite_broker_slot: SuiteBroker,
                                                               settings: Settings) -> None:  # fmt: skip
    log_dir = suite_broker_slot.data_dir / "kafka" / "data"
    partitions = {f"{settings.topic_prefix}kans.events.v1-{p}" for p in range(settings.event_partitions)}
    wait_for(lambda: partitions <= {p.name for p in log_dir.iterdir()}, what=f"{partitions} in {log_dir}")
    assert not [trace for trace in traces_of_tests(DEFAULT_DATA_DIR) if settings.topic_prefix in trace]
