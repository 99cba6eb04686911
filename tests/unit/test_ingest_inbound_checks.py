"""The inbound worker's judgement of one message, whatever its bytes: a reason for each kind of poison, a dead letter
that keeps nothing it cannot show harmless, and time linear in the size (a 60 KB string once took the worker's
event loop for ~20 s, a megabyte for hours: the issue's spinning worker that answered neither /ready nor SIGTERM)."""

from __future__ import annotations

import json
import time

import pytest
import yaml

from core.dead_letters import MAX_RECORD_BYTES
from core.settings import Settings
from kans.paths import REPO_ROOT
from schemas.privacy import contains_email, personal_data_in
from services.ingest.credentials import load_key_ring
from services.ingest.inbound.checks import Rejection, check_message, dead_letter_headers, dead_letter_value
from tests.factories import referral

LARS = b"kans-dev-lars"
VALID = json.dumps(referral("R-CHECK-1")).encode()
POISON = {
    "null": (None, "no_value", "the message has no value (null)"),
    "not UTF-8": (b"\xff\xfe\x81garbage", "not_utf8", "not UTF-8 text (byte 0)"),
    "not JSON": (b"<not json>", "invalid_json", "not JSON: "),
    "nested too deep": (b"[" * 30_000 + b"]" * 30_000, "invalid_json", "not JSON: "),
    "huge": (json.dumps({**referral("R-CHECK-2"), "pad": "x" * 900_000}).encode(), "oversized",
             "bytes, more than the 65536 a message may have"),
    "contract": (json.dumps({**referral("R-CHECK-3"), "school_year": "1999"}).encode(), "invalid_submission",
                 "school_year: Extra inputs are not permitted [extra_forbidden]"),
    "a long string": (json.dumps({**referral("R-CHECK-4"), "note": "x" * 60_000}).encode(), "invalid_submission",
                      "note: Extra inputs are not permitted [extra_forbidden]"),
}  # fmt: skip


@pytest.mark.parametrize("name", list(POISON))
def test_each_kind_of_poison_is_rejected_with_its_reason_in_linear_time(name: str) -> None:
    value, reason, message = POISON[name]
    keys = load_key_ring(Settings().api_keys_file)
    began = time.process_time()  # CPU time: a loaded machine delays the test, it does not make the check slower
    rejection = check_message(value, LARS, keys)
    assert isinstance(rejection, Rejection)
    kept = dead_letter_value(value, rejection)
    took = time.process_time() - began
    assert (rejection.reason, rejection.fields[:1]) == (reason, ("$",) if reason != "invalid_submission" else
                                                        (rejection.fields[0],))  # fmt: skip
    assert message in rejection.message
    assert took < 0.5, f"{name}: {took:.2f} s"
    if reason == "invalid_submission":  # JSON free of personal data: kept (the pupil id pseudonymised)
        original = json.loads(value or b"")
        del original["payload"]["pupil_id"]
        original["payload"]["pupil_id_removed"] = True
        assert kept is not None and json.loads(kept) == original
    else:  # bytes that are no submission are never kept
        assert kept is None


def test_a_valid_message_passes_and_a_missing_key_is_refused_before_the_bytes_are_read() -> None:
    keys = load_key_ring(Settings().api_keys_file)
    assert not isinstance(check_message(VALID, LARS, keys), Rejection)
    unauthenticated = check_message(b"x" * (MAX_RECORD_BYTES + 1), None, keys)
    assert isinstance(unauthenticated, Rejection) and unauthenticated.reason == "unauthenticated"
    assert dead_letter_value(b"x" * (MAX_RECORD_BYTES + 1), unauthenticated) is None


@pytest.mark.parametrize("text", ["x" * 65_536, "a.b" * 21_000, "a-b" * 21_000, "x.x" * 21_000, "x@y." * 16_000,
                                  "1 " * 32_000, "a@" + "b." * 32_000])  # fmt: skip
def test_the_personal_data_scan_takes_linear_time(text: str) -> None:
    began = time.process_time()  # CPU time: a loaded machine delays the test, it does not make the check slower
    personal_data_in(text, free_text=True)
    assert time.process_time() - began < 0.5


def test_e_mail_addresses_are_still_found() -> None:
    found = ["jan@school.be", "mail: jan.peeters@school.brussels!", "x Jan.Peeters+1@mail.example.com", "a.b@c.de"]
    assert [contains_email(text) for text in found] == [True] * len(found)
    assert [contains_email(text) for text in ("a@b", "@school.be", "jan@", "R-2025-0042")] == [False] * 4


def test_the_inbound_dead_letter_headers_are_documented_as_the_code_writes_them() -> None:
    doc = yaml.safe_load((REPO_ROOT / "docs" / "asyncapi.yaml").read_text(encoding="utf-8"))
    documented = doc["components"]["schemas"]["DeadLetterHeaders"]["properties"]
    written = {name for name, _ in dead_letter_headers(Rejection("no_value", (), ""), "t", 0, 0, 1, 2)}
    assert set(documented) == written | {"error-redacted"}  # error-redacted: added by the worker with the value
    assert {"no_value", "oversized", "not_utf8", "invalid_json", "invalid_submission"} <= set(
        documented["error-type"]["enum"])  # fmt: skip
