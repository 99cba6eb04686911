"""The faust workers' logging: a worker asked for WARNING must not turn the root logger to DEBUG (faust's terminal
spinner does, so every debug call of faust and aiokafka, several per message, built a record nobody printed)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import faust
import pytest

from core.faust_apps import Worker, new_faust_app
from core.settings import Settings


@pytest.fixture
def root_at_warning() -> Iterator[None]:
    before = logging.root.level
    logging.root.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logging.root.setLevel(before)


def test_every_kans_faust_app_runs_the_quiet_worker(tmp_path) -> None:
    app = new_faust_app(Settings(data_dir=tmp_path), "logging-test", "faust", "127.0.0.1", 6999)
    assert app.conf.Worker is Worker


@pytest.mark.parametrize("worker_class", [Worker, faust.Worker])
def test_root_logger_stays_at_the_level_asked(worker_class: type[faust.Worker], root_at_warning: None,
                                              tmp_path) -> None:  # fmt: skip
    app = new_faust_app(Settings(data_dir=tmp_path), "logging-test", "faust", "127.0.0.1", 6999)
    worker = worker_class(app, loglevel="warn", quiet=True)
    handlers = list(logging.root.handlers)
    logging.root.addHandler(logging.NullHandler())  # faust's spinner sets the level of the first handler
    try:
        worker.on_setup_root_logger(logging.root, logging.WARNING)
        if worker_class is Worker:
            assert logging.root.level == logging.WARNING
            assert not logging.getLogger("faust.agents.agent").isEnabledFor(logging.DEBUG)
            assert worker.spinner is None
        else:  # what the quiet worker prevents: faust's own worker turns the root logger to DEBUG
            assert logging.root.level == logging.DEBUG
    finally:
        logging.root.handlers[:] = handlers
