"""The replay's totals against sums computed independently, and every money rule it checks."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from decimal import Decimal
from typing import Any

from salur_audit.replay import Replay
from salur_audit.testing import Story, entries_of

AGREEMENT = "6c0e7f3a-2b9d-4e51-8f1c-a4d7b2e9c013"
OPPORTUNITY = "9e7c5a3b-1d2f-4e6a-8b0c-2d4e6f8a0b1c"
T0 = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def _documents(agreements: int) -> list[dict[str, Any]]:
    return [json.loads(e.canonical) for e in entries_of(Story.of(agreements, seed=8).events)]


def test_totals_per_bkm_partner_opportunity_and_agreement_equal_independent_sums() -> None:
    documents = _documents(17)
    replay = Replay()
    for document in documents:
        replay.apply(document)
    report = replay.report().as_json()
    expected: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    fields = {
        "AgreementSigned": ("committed", "amount"),
        "TrancheDisbursed": ("disbursed", "amount"),
        "RealisationReported": ("spent", "amount_spent"),
        "PartnershipTerminated": ("returned", "returned_amount"),
    }
    kept: dict[str, Decimal] = defaultdict(Decimal)  # per agreement: disbursed - returned
    for document in documents:
        name = document["type"].split(".")[2]
        data = document["data"]
        if name in fields:
            column, field = fields[name]
            expected[data["bkm_id"]][column] += Decimal(data[field])
        if name == "TrancheDisbursed":
            kept[data["agreement_id"]] += Decimal(data["amount"])
        if name == "PartnershipTerminated":
            # A terminated agreement stays committed only for what the BKM kept.
            signed = next(
                Decimal(d["data"]["amount"])
                for d in documents
                if d["type"].split(".")[2] == "AgreementSigned"
                and d["data"]["agreement_id"] == data["agreement_id"]
            )
            kept[data["agreement_id"]] -= Decimal(data["returned_amount"])
            expected[data["bkm_id"]]["committed"] += kept[data["agreement_id"]] - signed
    assert set(report["bkms"]) == set(expected)
    for bkm, totals in report["bkms"].items():
        for column in ("committed", "disbursed", "spent", "returned"):
            assert Decimal(totals[column]) == expected[bkm][column]
    assert len(report["agreements"]) == 17
    assert report["anomalies"] == []
    partner_sum = sum(Decimal(t["committed"]) for t in report["partners"].values())
    assert partner_sum == sum(e["committed"] for e in expected.values())


def test_as_of_counts_only_events_that_had_happened() -> None:
    documents = _documents(5)
    moment = dt.datetime.fromisoformat(documents[9]["time"])
    replay = Replay(moment.astimezone(dt.timezone(dt.timedelta(hours=7))))
    for document in documents:
        replay.apply(document)
    assert replay.report().events == 10


def _event(name: str, minutes: int, **data: Any) -> dict[str, Any]:
    service = "opportunities" if name.startswith(("Opportunity", "Envelope")) else "partnerships"
    base = {
        "agreement_id": AGREEMENT,
        "bkm_id": "b",
        "partner_id": "p",
        "opportunity_id": OPPORTUNITY,
    }
    return {
        "type": f"salur.{service}.{name}.v1",
        "time": (T0 + dt.timedelta(minutes=minutes)).isoformat(),
        "data": {**base, **data},
    }


def _rules(*events: dict[str, Any]) -> list[str]:
    replay = Replay()
    for seq, event in enumerate(events):
        replay.apply(event, seq)
    return [a.rule for a in replay.report().anomalies]


def test_each_money_rule_broken_is_reported() -> None:
    signed = _event("AgreementSigned", 1, amount="100.00")
    assert _rules(signed, _event("TrancheDisbursed", 2, tranche_number=1, amount="150.00")) == [
        "disbursed-over-committed"
    ]
    assert _rules(
        signed,
        _event("TrancheDisbursed", 2, tranche_number=1, amount="50.00"),
        _event("RealisationReported", 3, report_number=1, amount_spent="60.00"),
    ) == ["spent-over-disbursed"]
    assert _rules(
        signed,
        _event("TrancheDisbursed", 2, tranche_number=1, amount="50.00"),
        _event("RealisationReported", 3, report_number=1, amount_spent="30.00"),
        _event("PartnershipTerminated", 4, returned_amount="25.00"),
    ) == ["returned-over-unspent"]
    assert _rules(
        _event("OpportunityPublished", 0, envelope="150.00"),
        signed,
        _event("AgreementSigned", 2, agreement_id="other", amount="60.00"),
    ) == ["committed-over-envelope"]
    assert _rules(_event("TrancheDisbursed", 2, tranche_number=1, amount="5.00")) == [
        "agreement-not-signed"
    ]
    assert _rules(
        signed,
        _event("TrancheDisbursed", 2, tranche_number=1, amount="5.00"),
        _event("TrancheDisbursed", 3, tranche_number=1, amount="5.00"),
    ) == ["tranche-twice"]
    assert _rules(
        signed,
        _event("PartnershipCompleted", 2, total_disbursed="0.00"),
        _event("TrancheDisbursed", 3, tranche_number=1, amount="5.00"),
    ) == ["event-after-end"]
    assert _rules(signed, _event("AgreementSigned", 2, amount="100.00")) == ["signed-twice"]
    assert _rules(_event("AgreementSigned", 1, amount=100.0)) == ["unreadable-amount"]


def test_a_rejected_report_no_longer_counts_as_spent() -> None:
    replay = Replay()
    for event in (
        _event("AgreementSigned", 1, amount="100.00"),
        _event("TrancheDisbursed", 2, tranche_number=1, amount="50.00"),
        _event("RealisationReported", 3, report_number=1, amount_spent="40.00"),
        _event("RealisationRejected", 4, report_number=1, amount_spent="40.00"),
        _event("PartnershipTerminated", 5, returned_amount="50.00"),
    ):
        replay.apply(event)
    report = replay.report()
    assert report.agreements[AGREEMENT].totals.spent == Decimal("0.00")
    assert report.anomalies == []
    assert replay.commitment(OPPORTUNITY) == Decimal("0.00")


def test_a_terminated_agreement_releases_its_unused_commitment() -> None:
    rules = _rules(
        _event("OpportunityPublished", 0, envelope="150.00"),
        _event("AgreementSigned", 1, amount="100.00"),
        _event("TrancheDisbursed", 2, tranche_number=1, amount="40.00"),
        _event("PartnershipTerminated", 3, returned_amount="40.00"),
        _event("AgreementSigned", 4, agreement_id="other", amount="140.00"),
    )
    assert rules == []
