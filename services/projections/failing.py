"""How the worker stops on a fault (a bug in an agent, messages faust will not hand over): it is not ready from
that moment, and the process exits if faust has not stopped it within CRASH_EXIT_AFTER_S. faust's CrashingSupervisor
normally stops the worker when an agent crashes, but it can hang (seen when the crash came during the start-up
rebalance: the page said ready for minutes while nothing was processed). The process supervisor (supervisord,
compose's restart policy) then starts it again, from the committed offsets (`commits.py`)."""

from __future__ import annotations

import asyncio
import logging
import os

from faust.types import AppT

from services.projections.topology import topology_of

log = logging.getLogger(__name__)
CRASH_EXIT_AFTER_S = 15.0
CRASH_EXIT_CODE = 70


def give_up(app: AppT, who: str, exc: BaseException) -> None:
    """`who` (an agent, a timer) met `exc`: mark the worker not ready and make sure the process ends."""
    topology_of(app).crashed.append(who)
    log.critical("%s stopped the worker (%r): exiting in %.0f s unless it has stopped by then", who, exc,
                 CRASH_EXIT_AFTER_S)  # fmt: skip
    asyncio.get_running_loop().call_later(CRASH_EXIT_AFTER_S, _exit_now, who)


def _exit_now(who: str) -> None:
    log.critical("the worker did not stop after %s gave up: exiting (%d)", who, CRASH_EXIT_CODE)
    logging.shutdown()
    os._exit(CRASH_EXIT_CODE)
