"""The live process's index of the log (services/api/live_facts.py): the display names and referrers it folds, the
latest of a stream winning, and records it cannot use skipped and counted, never the end of the index."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from core.dead_letters import read_event
from core.settings import Settings
from schemas.envelope import Envelope
from services.api.live_facts import LiveFacts, LiveFactsIndex
from tests.dispatch_catalogue import group_referral, module, provider_fact
from tests.factories import _sub, referral, sealed_json


def event(submission: dict[str, Any]) -> Envelope:
    return read_event(sealed_json(submission)[1])


def amended(rid: str, **changes: Any) -> dict[str, Any]:
    return _sub("ReferralAmended", f"amend:{rid}:{sorted(changes)}", "2025-10-07T09:00:00+02:00",
                {"referral_id": rid, "changes": changes}, "desk")  # fmt: skip


def registered(provider: str, name: str) -> dict[str, Any]:
    return provider_fact("ProviderRegistered", provider, name=name)


def test_names_come_from_the_latest_registration_and_offer_of_each_provider_and_module() -> None:
    facts = LiveFacts()
    facts.apply(event(registered("abrusco", "Abrusco vzw")), 1)
    offered, _capacity = module("abrusco", "indiv", "day_care", ["secondary"], 3)
    facts.apply(event(offered), 2)
    facts.apply(event(registered("abrusco", "Abrusco")), 5)  # renamed later
    providers, modules = facts.name_maps()
    assert providers == {"abrusco": "Abrusco"}
    assert modules == {("abrusco", "indiv"): ("Module", "day_care")}


def test_an_older_record_read_again_does_not_undo_a_later_one_and_only_a_changed_name_counts_as_a_change() -> None:
    facts = LiveFacts()
    facts.apply(event(registered("tigo", "Tigo")), 10)
    assert facts.names_version == 1
    facts.apply(event(registered("tigo", "Tigo (old)")), 3)  # the log read again from its beginning
    facts.apply(event(registered("tigo", "Tigo")), 10)  # the same record again
    assert facts.name_maps()[0] == {"tigo": "Tigo"} and facts.names_version == 1
    facts.apply(event(registered("tigo", "Tigo Brussel")), 11)
    assert facts.name_maps()[0] == {"tigo": "Tigo Brussel"} and facts.names_version == 2


def test_a_referral_belongs_to_its_referrer_as_amended_and_a_group_referral_to_its_referrer() -> None:
    facts = LiveFacts()
    facts.apply(event(referral("R1", referrer_id="clb-a")), 1)
    facts.apply(event(group_referral("G1", "2025-10-06")), 2)
    assert (facts.referrer("R1"), facts.referrer("G1"), facts.referrer("R2")) == ("clb-a", "clb-brussel-1", None)
    facts.apply(event(amended("R1", residence_postcode="1120")), 3)  # does not change the referrer
    assert facts.referrer("R1") == "clb-a"
    facts.apply(event(amended("R1", referrer_id="clb-b")), 4)
    assert facts.referrer("R1") == "clb-b"


@dataclass
class Record:
    value: bytes | None
    offset: int
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def test_the_index_parses_only_the_types_it_folds_and_skips_a_bad_record_counting_it() -> None:
    parsed: list[bytes | None] = []

    def parse(value: bytes | None) -> Envelope:
        parsed.append(value)
        return read_event(value)

    index = LiveFactsIndex(Settings(), parse=parse)
    name = sealed_json(registered("p1", "Partner Een"))[1]
    capacity = sealed_json(provider_fact("ProviderCapacitySet", "p1", module_id="m", capacity=2))[1]
    index._fold([
        Record(b"\x00not json", 0, [("event_type", b"ReferralSubmitted")]),
        Record(b"{" * 100_000, 1, [("event_type", b"ProviderRegistered")]),
        Record(None, 2, [("event_type", b"ModuleOffered")]),
        Record(capacity, 3, [("event_type", b"ProviderCapacitySet")]),  # not parsed: not a type the index folds
        Record(name, 4),  # no header: tried, and kept
        Record(b"[]", 5),  # no header and not an event: skipped, not counted as unreadable
    ])  # type: ignore[arg-type]  # fmt: skip
    assert index.unreadable == 3
    assert capacity not in parsed and len(parsed) == 4  # the referral type by the slim reader, not parsed whole
    named = asyncio.run(index.named([{"provider_id": "p1", "module_id": "m"}, {"provider_id": "p2", "module_id": "m"}]))
    assert [(row["provider_name"], row["module_name"]) for row in named] == [("Partner Een", None), (None, None)]


def test_the_index_answers_whether_a_referral_is_of_the_callers_referrers() -> None:
    index = LiveFactsIndex(Settings())
    index._fold([Record(sealed_json(referral("R9", referrer_id="clb-x"))[1], 7,
                        [("event_type", b"ReferralSubmitted")])])  # type: ignore[list-item]  # fmt: skip
    asks = [index.referral_in_scope("R9", frozenset({"clb-x"})), index.referral_in_scope("R9", frozenset({"clb-y"})),
            index.referral_in_scope("unknown", frozenset({"clb-x"}))]  # fmt: skip
    assert [asyncio.run(ask) for ask in asks] == [True, False, False]
