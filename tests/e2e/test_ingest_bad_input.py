"""Bad input against the running ingest process, over HTTP: a clear 4xx naming the problem, never a 500, and a ZIP
bomb refused before it costs the process memory."""

from __future__ import annotations

import json
from pathlib import Path

from kans.bench_import import lars_row, write_csv
from tests.e2e.conftest import Platform
from tests.factories import referral
from tests.unit.test_ingest_bad_input import zip_bomb

LARS_KEY = {"X-API-Key": "kans-dev-lars"}
IMPORT = "/v1/imports/lars-individual"


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM), in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024


def test_implausible_years_and_duplicated_keys_get_a_422_naming_the_field(platform: Platform) -> None:
    for year in ("1000", "1446", "4166", "9999"):
        submission = referral(f"R-E2E-Y{year}", occurred=f"{year}-03-01T10:00:00+01:00")
        response = platform.ingest.post("/v1/events", json=submission)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "body.occurred_at"
    doubled = json.dumps(referral("R-E2E-DUP")).replace('"channel": "lars"', '"channel": "lars", "channel": "lars"')
    response = platform.ingest.post("/v1/events", content=doubled, headers={"Content-Type": "application/json"})
    assert (response.status_code, response.json()["errors"][0]["field"]) == (422, "body.payload.channel")


def test_a_zip_bomb_is_refused_without_raising_the_ingest_memory(platform: Platform, tmp_path: Path) -> None:
    bomb = zip_bomb(tmp_path / "bomb.xlsx", 300)
    pid = platform.procs["ingest"].pid
    before = peak_rss_mb(pid)
    with bomb.open("rb") as upload:
        response = platform.ingest.post(IMPORT, headers=LARS_KEY, files={"file": ("bomb.xlsx", upload)}, timeout=120)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["type"] == "xlsx_too_large"
    assert peak_rss_mb(pid) - before < 50  # 300 MB unpacked would show


def test_a_long_cell_and_binary_garbage_are_422_naming_the_problem(platform: Platform, tmp_path: Path) -> None:
    rows = [lars_row(n, 2008) for n in range(3)]
    rows[1]["Opmerking"] = "x" * 200_000
    long_cell = write_csv(tmp_path / "long.csv", rows).read_bytes()
    response = platform.ingest.post(IMPORT, headers=LARS_KEY, files={"file": ("long.csv", long_cell)})
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert (error["field"], error["type"]) == ("file", "cell_too_long")
    assert error["message"].startswith("row 3, column 'Opmerking'")
    garbage = bytes(range(256)) * 200
    response = platform.ingest.post(IMPORT, headers=LARS_KEY, files={"file": ("export.csv", garbage)})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["type"] == "not_csv"
    assert response.json()["detail"].startswith("the upload cannot be imported: not a CSV file")
