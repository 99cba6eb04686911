"""The supervisor configuration `kans up` runs and its give-up listener (kans/supervision.py), without processes: the
listener speaks supervisor's event-listener protocol on in-memory streams to a recording stand-in for the RPC."""

from __future__ import annotations

import configparser
import io
from pathlib import Path
from typing import Any

from kans.supervision import CONFIG, GAVE_UP, SERVICES, Supervisor, listen


def test_every_service_is_restarted_when_it_exits_and_given_up_after_fast_failures() -> None:
    config = configparser.ConfigParser(interpolation=None)
    config.read(CONFIG)
    programs = {s.removeprefix("program:"): config[s] for s in config.sections() if s.startswith("program:")}
    assert sorted(programs) == sorted(SERVICES)
    for name, program in programs.items():
        assert program["command"].endswith(f"/kans serve {name.removesuffix('-2')}")
        retries = program["startretries"]
        assert (program["autorestart"], program["startsecs"], retries) == ("true", "%(ENV_KANS_START_SECS)s",
                                                                           "%(ENV_KANS_START_RETRIES)s")  # fmt: skip
        assert (program["stopasgroup"], program["killasgroup"]) == ("true", "true")
        assert program["stdout_logfile"] == "/dev/stdout" and program["redirect_stderr"] == "true"
    assert config["supervisord"]["nodaemon"] == "true"
    # The second projections worker: the same service on its own web port, which the API is told to ask too.
    assert programs["projections-2"]["environment"] == 'KANS_PROJECTIONS_PORT="%(ENV_KANS_PROJECTIONS_2_PORT)s"'
    assert config["eventlistener:giveup"]["events"] == "PROCESS_STATE_FATAL"
    supervisor = Supervisor(Path("/run/kans"), {})
    assert supervisor.env["KANS_START_RETRIES"] == "5"  # the default of `kans up`; an operator may set another
    assert Supervisor(Path("/run/kans"), {"KANS_START_RETRIES": "2"}).env["KANS_START_RETRIES"] == "2"
    assert supervisor.env["KANS_START_SECS"] == "10"
    assert Supervisor(Path("/run/kans"), {"KANS_START_SECS": "30"}).env["KANS_START_SECS"] == "30"


class Rpc:
    """What the listener asks of supervisord; records the shutdown."""

    def __init__(self) -> None:
        self.supervisor = self
        self.shut_down = 0

    def getProcessInfo(self, name: str) -> dict[str, Any]:  # noqa: N802 - supervisor's XML-RPC names
        return {"name": name, "statename": "FATAL", "exitstatus": 0,
                "spawnerr": "Exited too quickly (process log may have details)"}  # what supervisord says

    def getAllConfigInfo(self) -> list[dict[str, Any]]:  # noqa: N802
        return [{"name": n, "startretries": 5, "startsecs": 10} for n in SERVICES]

    def shutdown(self) -> bool:
        self.shut_down += 1
        return True


def event(name: str, payload: str) -> str:
    return f"ver:3.0 server:supervisor serial:1 pool:giveup poolserial:1 eventname:{name} len:{len(payload)}\n{payload}"


def test_the_listener_acknowledges_other_events_and_gives_up_on_a_fatal_service(tmp_path: Path) -> None:
    rpc, out, err = Rpc(), io.StringIO(), io.StringIO()
    running = event("PROCESS_STATE_RUNNING", "processname:api groupname:api from_state:STARTING pid:7")
    fatal = event("PROCESS_STATE_FATAL", "processname:ingest groupname:ingest from_state:BACKOFF")
    listen(io.StringIO(running + fatal), out, err, rpc, tmp_path)
    assert out.getvalue() == "READY\nRESULT 2\nOKREADY\nRESULT 2\nOKREADY\n"
    assert rpc.shut_down == 1
    message = (tmp_path / GAVE_UP).read_text()
    assert err.getvalue() == message
    assert message.startswith("kans: the ingest service gave up: it exited 6 times in a row, each time within 10 s "
                              "of starting. Not restarting it again; stopping the platform.")


def test_no_fatal_event_no_give_up(tmp_path: Path) -> None:
    rpc = Rpc()
    exited = event("PROCESS_STATE_EXITED", "processname:api groupname:api from_state:RUNNING expected:0 pid:9")
    listen(io.StringIO(exited), io.StringIO(), io.StringIO(), rpc, tmp_path)
    assert rpc.shut_down == 0 and not (tmp_path / GAVE_UP).exists()
