"""The auditor's replay: the state of the channelling at a moment, rebuilt from events alone.

Events are handled by type name and read as plain JSON, so a replay reads any version of
the catalogue the ledger holds. Totals per agreement are committed (AgreementSigned),
disbursed (TrancheDisbursed), spent (RealisationReported, less reports later rejected) and
returned (PartnershipTerminated); BKM, partner and opportunity totals are their sums. The
money rules are checked as the replay goes; a correct platform never breaks one.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from salur_audit import ledger
from salur_audit.canonical import document_of

ZERO = Decimal("0.00")
Document = Mapping[str, Any]
Handler = Callable[[Document, int | None], None]


@dataclass
class Totals:
    committed: Decimal = ZERO
    disbursed: Decimal = ZERO
    spent: Decimal = ZERO
    returned: Decimal = ZERO

    def add(self, other: Totals) -> None:
        self.committed += other.committed
        self.disbursed += other.disbursed
        self.spent += other.spent
        self.returned += other.returned

    def as_json(self) -> dict[str, str]:
        return {
            "committed": str(self.committed),
            "disbursed": str(self.disbursed),
            "spent": str(self.spent),
            "returned": str(self.returned),
        }


@dataclass
class Agreement:
    agreement_id: str
    bkm_id: str
    partner_id: str
    opportunity_id: str | None
    totals: Totals = field(default_factory=Totals)
    status: str = "signed"
    tranches: set[int] = field(default_factory=set)
    reports: dict[int, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class Anomaly:
    rule: str
    subject: str
    detail: str
    seq: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "subject": self.subject, "detail": self.detail, "seq": self.seq}


@dataclass
class Report:
    as_of: dt.datetime | None
    events: int
    agreements: dict[str, Agreement]
    envelopes: dict[str, Decimal]
    anomalies: list[Anomaly]

    def per(self, attribute: str) -> dict[str, Totals]:
        totals: dict[str, Totals] = defaultdict(Totals)
        for agreement in self.agreements.values():
            key = getattr(agreement, attribute)
            if key is not None:
                totals[key].add(agreement.totals)
        return dict(sorted(totals.items()))

    def rows(self) -> list[dict[str, str]]:
        """One row per BKM, partner, opportunity and agreement (the table and CSV form)."""
        rows = []
        for level, attribute in (
            ("bkm", "bkm_id"),
            ("partner", "partner_id"),
            ("opportunity", "opportunity_id"),
            ("agreement", "agreement_id"),
        ):
            for key, totals in self.per(attribute).items():
                rows.append({"level": level, "id": key, **totals.as_json()})
        return rows

    def as_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "events": self.events,
            "bkms": {k: v.as_json() for k, v in self.per("bkm_id").items()},
            "partners": {k: v.as_json() for k, v in self.per("partner_id").items()},
            "opportunities": {
                k: {**v.as_json(), "envelope": _text(self.envelopes.get(k))}
                for k, v in self.per("opportunity_id").items()
            },
            "agreements": {
                a.agreement_id: {
                    "bkm_id": a.bkm_id,
                    "partner_id": a.partner_id,
                    "opportunity_id": a.opportunity_id,
                    "status": a.status,
                    **a.totals.as_json(),
                }
                for a in sorted(self.agreements.values(), key=lambda a: a.agreement_id)
            },
            "anomalies": [a.as_json() for a in self.anomalies],
        }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class UnreadableAmountError(ValueError):
    pass


def _money(data: Document, name: str) -> Decimal:
    raw = data.get(name)
    try:
        # Money is a decimal string on the wire; a float here would be an anomaly itself.
        if not isinstance(raw, str):
            raise InvalidOperation
        return Decimal(raw)
    except InvalidOperation:
        raise UnreadableAmountError(f"{name} {raw!r} is not a decimal string") from None


def _time(event: Document) -> dt.datetime:
    return dt.datetime.fromisoformat(str(event.get("time")))


def type_name(event_type: str) -> tuple[str, str]:
    """('partnerships', 'AgreementSigned') of 'salur.partnerships.AgreementSigned.v1'."""
    parts = event_type.split(".")
    return (parts[1], parts[2]) if len(parts) >= 4 else ("", event_type)


class Replay:
    """Feed events in ledger order with `apply`; `report` gives the state and anomalies."""

    def __init__(self, as_of: dt.datetime | None = None) -> None:
        self.as_of = as_of
        self.events = 0
        self.agreements: dict[str, Agreement] = {}
        self.envelopes: dict[str, Decimal] = {}
        self.anomalies: list[Anomaly] = []
        self._commitments: dict[str, Decimal] = {}
        self._by_type: dict[str, Handler | None] = {}
        self._handlers: dict[tuple[str, str], Handler] = {
            ("partnerships", "AgreementSigned"): self._signed,
            ("partnerships", "TrancheDisbursed"): self._disbursed,
            ("partnerships", "RealisationReported"): self._reported,
            ("partnerships", "RealisationRejected"): self._rejected,
            ("partnerships", "PartnershipCompleted"): self._completed,
            ("partnerships", "PartnershipTerminated"): self._terminated,
            ("opportunities", "OpportunityPublished"): self._envelope,
            ("opportunities", "OpportunityRevised"): self._envelope,
            ("opportunities", "EnvelopeCommitted"): self._envelope,
            ("opportunities", "EnvelopeReleased"): self._envelope,
        }

    def apply(self, event: Document, seq: int | None = None) -> None:
        """Apply one CloudEvent object (attributes + data), if it happened by `as_of`."""
        if self.as_of is not None and _time(event) > self.as_of:
            return
        self.events += 1
        handler = self._handler(str(event.get("type", "")))
        if handler is not None:
            self._handle(handler, event, seq)

    def apply_stored(self, event_type: str, canonical: bytes, seq: int) -> None:
        """Apply an entry the ledger selected by its type and time columns (which `verify`
        checks against the bytes): an entry no handler reads is counted, not decoded."""
        self.events += 1
        handler = self._handler(event_type)
        if handler is not None:
            event = document_of(canonical)
            if isinstance(event, dict):  # a JSON object decodes to a dict
                self._handle(handler, event, seq)

    def _handler(self, event_type: str) -> Handler | None:
        try:
            return self._by_type[event_type]
        except KeyError:
            found = self._handlers.get(type_name(event_type))
            self._by_type[event_type] = found
            return found

    def _handle(self, handler: Handler, event: Document, seq: int | None) -> None:
        data = event.get("data")
        if not isinstance(data, dict) and not isinstance(data, Mapping):
            return
        try:
            handler(data, seq)
        except UnreadableAmountError as error:
            self._flag("unreadable-amount", str(data.get("agreement_id")), str(error), seq)

    def _flag(self, rule: str, subject: str, detail: str, seq: int | None) -> None:
        self.anomalies.append(Anomaly(rule, subject, detail, seq))

    def _agreement(self, data: Document, seq: int | None) -> Agreement | None:
        agreement = self.agreements.get(str(data.get("agreement_id")))
        if agreement is None:
            self._flag(
                "agreement-not-signed",
                str(data.get("agreement_id")),
                "an event for an agreement that was never signed",
                seq,
            )
        elif agreement.status != "signed":
            self._flag(
                "event-after-end",
                agreement.agreement_id,
                f"an event after the agreement was {agreement.status}",
                seq,
            )
        return agreement

    def _signed(self, data: Document, seq: int | None) -> None:
        agreement_id = str(data.get("agreement_id"))
        if agreement_id in self.agreements:
            self._flag("signed-twice", agreement_id, "the agreement was signed again", seq)
            return
        opportunity = data.get("opportunity_id")
        agreement = Agreement(
            agreement_id=agreement_id,
            bkm_id=str(data.get("bkm_id")),
            partner_id=str(data.get("partner_id")),
            opportunity_id=None if opportunity is None else str(opportunity),
        )
        agreement.totals.committed = _money(data, "amount")
        self.agreements[agreement_id] = agreement
        self._commit(agreement.opportunity_id, agreement.totals.committed)
        self._check_envelope(agreement.opportunity_id, seq)

    def _disbursed(self, data: Document, seq: int | None) -> None:
        agreement = self._agreement(data, seq)
        if agreement is None:
            return
        number = data.get("tranche_number")
        if isinstance(number, int):
            if number in agreement.tranches:
                self._flag(
                    "tranche-twice", agreement.agreement_id, f"tranche {number} paid twice", seq
                )
            agreement.tranches.add(number)
        agreement.totals.disbursed += _money(data, "amount")
        if agreement.totals.disbursed > agreement.totals.committed:
            self._flag(
                "disbursed-over-committed",
                agreement.agreement_id,
                f"disbursed {agreement.totals.disbursed} > committed {agreement.totals.committed}",
                seq,
            )

    def _reported(self, data: Document, seq: int | None) -> None:
        agreement = self._agreement(data, seq)
        if agreement is None:
            return
        amount = _money(data, "amount_spent")
        number = data.get("report_number")
        if isinstance(number, int):
            agreement.reports[number] = amount
        agreement.totals.spent += amount
        if agreement.totals.spent > agreement.totals.disbursed:
            self._flag(
                "spent-over-disbursed",
                agreement.agreement_id,
                f"spent {agreement.totals.spent} > disbursed {agreement.totals.disbursed}",
                seq,
            )

    def _rejected(self, data: Document, seq: int | None) -> None:
        agreement = self.agreements.get(str(data.get("agreement_id")))
        number = data.get("report_number")
        if agreement is not None and isinstance(number, int) and number in agreement.reports:
            agreement.totals.spent -= agreement.reports.pop(number)

    def _completed(self, data: Document, seq: int | None) -> None:
        agreement = self._agreement(data, seq)
        if agreement is None:
            return
        agreement.status = "completed"
        total = _money(data, "total_disbursed")
        if total != agreement.totals.disbursed:
            self._flag(
                "completion-total-differs",
                agreement.agreement_id,
                f"completed with {total} disbursed, tranches sum to {agreement.totals.disbursed}",
                seq,
            )

    def _terminated(self, data: Document, seq: int | None) -> None:
        agreement = self._agreement(data, seq)
        if agreement is None:
            return
        agreement.status = "terminated"
        totals = agreement.totals
        totals.returned += _money(data, "returned_amount")
        unspent = totals.disbursed - totals.spent
        if totals.returned > unspent:
            self._flag(
                "returned-over-unspent",
                agreement.agreement_id,
                f"returned {totals.returned} > disbursed - spent {unspent}",
                seq,
            )
        # As partnerships, planning and opportunities count it: a terminated agreement
        # stays committed only for what the BKM kept (disbursed less returned).
        used = totals.disbursed - totals.returned
        self._commit(agreement.opportunity_id, used - totals.committed)
        totals.committed = used
        self._check_envelope(agreement.opportunity_id, seq)

    def _envelope(self, data: Document, seq: int | None) -> None:
        opportunity = str(data.get("opportunity_id"))
        self.envelopes[opportunity] = _money(data, "envelope")
        self._check_envelope(opportunity, seq)

    def commitment(self, opportunity: str) -> Decimal:
        """What an opportunity's envelope holds committed: a terminated agreement keeps
        only what it used (disbursed less returned)."""
        return self._commitments.get(opportunity, ZERO)

    def _commit(self, opportunity: str | None, change: Decimal) -> None:
        if opportunity is not None:
            self._commitments[opportunity] = self.commitment(opportunity) + change

    def _check_envelope(self, opportunity: str | None, seq: int | None) -> None:
        envelope = self.envelopes.get(opportunity) if opportunity else None
        if opportunity is None or envelope is None:
            return
        committed = self.commitment(opportunity)
        if committed > envelope:
            self._flag(
                "committed-over-envelope",
                opportunity,
                f"committed {committed} > envelope {envelope}",
                seq,
            )

    def report(self) -> Report:
        return Report(
            as_of=self.as_of,
            events=self.events,
            agreements=self.agreements,
            envelopes=self.envelopes,
            anomalies=list(self.anomalies),
        )


REPLAYED_TYPES = ("salur.partnerships.%", "salur.opportunities.%")
Progress = Callable[[int, int], None]


async def replay_ledger(
    conn: ledger.AConn, as_of: dt.datetime | None, progress: Progress | None = None
) -> Report:
    """The report from the ledger: only the event types a replay reads, by time."""
    state = Replay(as_of)
    total = await ledger.size(conn) if progress else 0
    async for seq, event_type, canonical in ledger.stream_canonical(
        conn, types_like=REPLAYED_TYPES, until=as_of
    ):
        state.apply_stored(event_type, canonical, seq)
        if progress is not None and state.events % 10_000 == 0:
            progress(seq + 1, total)
    return state.report()
