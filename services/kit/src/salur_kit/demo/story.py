"""The channelling story, act by act, over the services' public HTTP APIs only.

Each act is done by the role that does it in the programme, with its own token. Whatever
one service learns from another over Kafka is waited for by polling (a read, or a command
refused because the service has not heard yet, which changes nothing), never by sleeping.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TextIO
from uuid import UUID

from salur_kit.auth.principal import Role
from salur_kit.demo.api import Actor, Api, DemoError, Json
from salur_kit.demo.cast import BKMS, CITY, CITY_NAME, PARTNERS, BkmCast, PartnerCast, today
from salur_kit.demo.waiting import WaitTimeoutError
from salur_kit.devtokens import DevIssuer

# Refusals that only mean "the service has not heard of it yet over Kafka".
PLANNING_PENDING = frozenset({"bkm-registered", "bkm-verified"})
OPPORTUNITIES_PENDING = frozenset({"partner-registered", "partner-verified"})
PARTNERSHIPS_PENDING = frozenset(
    {
        "match-known",
        "plan-known",
        "bkm-known",
        "opportunity-known",
        "partner-known",
        "activity-known",
        "activity-open-for-channelling",
        "bkm-verified",
        "bank-account-confirmed",
        "opportunity-open",
    }
)


class ActFailedError(Exception):
    def __init__(self, number: int, title: str, cause: Exception) -> None:
        super().__init__(f"act {number} ({title}) failed: {cause}")
        self.number, self.title, self.cause = number, title, cause


@dataclass
class Bkm:
    cast: BkmCast
    id: UUID
    operator: Actor
    plan_id: UUID | None = None
    activities: dict[str, UUID] = field(default_factory=dict)


@dataclass
class Partner:
    cast: PartnerCast
    id: UUID
    officer: Actor
    opportunity_id: UUID | None = None


@dataclass
class Deal:
    """One proposal and, once accepted, its agreement."""

    key: str
    bkm: Bkm
    activity: str
    partner: Partner
    match_id: UUID | None = None
    proposal_id: UUID | None = None
    agreement_id: UUID | None = None


@dataclass
class Outcome:
    """What the story created and what it expects the platform to show for it."""

    bkms: dict[str, Bkm] = field(default_factory=dict)
    partners: dict[str, Partner] = field(default_factory=dict)
    deals: dict[str, Deal] = field(default_factory=dict)
    trace_id: str = ""
    # party key -> (committed, disbursed, spent, returned)
    expected_totals: dict[str, tuple[Decimal, Decimal, Decimal, Decimal]] = field(
        default_factory=dict
    )
    totals: dict[str, Json] = field(default_factory=dict)
    replay: Json = field(default_factory=dict)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _money(value: Any) -> Decimal:
    return Decimal(str(value))


def _rupiah(value: Any) -> str:
    return f"Rp {_money(value):,.0f}".replace(",", ".")


class Story:
    def __init__(self, api: Api, issuer: DevIssuer, out: TextIO) -> None:
        self.api = api
        self.issuer = issuer
        self.out = out
        self.day = today()
        self.facilitator = Actor.minted(
            issuer, f"facilitator of {CITY_NAME}", Role.facilitator, region=CITY
        )
        self.auditor = Actor.minted(issuer, "auditor", Role.auditor)
        self.outcome = Outcome()
        # One W3C trace follows the opening of the first activity across the services.
        self.outcome.trace_id = secrets.token_hex(16)
        self._act = 0

    # -- running -------------------------------------------------------------------------------

    def acts(self) -> list[tuple[str, Callable[[], None]]]:
        return [
            (f"BKMs of {CITY_NAME} registered with units and bank accounts", self.register_bkms),
            ("a facilitator verifies three BKMs; BKM Tunas Baru is not yet verified", self.verify),
            ("PJM Pronangkis plans drafted, submitted and endorsed", self.plans),
            ("activities opened for channelling in all three aspects", self.open_channelling),
            ("partners register and a facilitator verifies them", self.partners),
            ("partners publish funding opportunities", self.opportunities),
            ("matching proposes matches and explains them", self.matches),
            ("BKMs propose; partners accept and reject", self.proposals),
            ("agreements drawn and signed by both sides", self.agreements),
            (
                "tranches disbursed, receipts confirmed, a report rejected and corrected",
                self.drainage_to_completion,
            ),
            ("a partnership terminated with the unspent funds returned", self.termination),
            (
                "a bank-account change holds disbursement until a facilitator confirms it",
                self.bank_account_hold,
            ),
            ("a scholarship tranche paid in one go", self.scholarship),
        ]

    def run(self, more: Sequence[tuple[str, Callable[[], None]]] = ()) -> Outcome:
        """Play every act, then `more`; the first failure names its act."""
        for title, act in [*self.acts(), *more]:
            self.begin(title)
            try:
                act()
            except (DemoError, WaitTimeoutError) as error:
                raise ActFailedError(self._act, title, error) from error
            except (KeyError, TypeError, ValueError) as error:
                # An answer of a shape the story does not expect: an API changed under it.
                raise ActFailedError(
                    self._act, title, DemoError(f"unexpected answer: {error!r}")
                ) from error
        return self.outcome

    def begin(self, title: str) -> None:
        self._act += 1
        self.say(f"\n== Act {self._act}: {title}")

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    # -- registry --------------------------------------------------------------------------------

    def register_bkms(self) -> None:
        for cast in BKMS:
            bkm_id = uuid.uuid4()
            operator = Actor.minted(
                self.issuer, f"operator of {cast.name}", Role.bkm_operator, org=bkm_id
            )
            self.api.command(
                self.facilitator,
                "POST",
                "registry",
                "/bkms",
                {
                    "bkm_id": str(bkm_id),
                    "name": cast.name,
                    "region_code": cast.kelurahan,
                    "address": cast.address,
                    "legal_deed_number": cast.deed,
                    "founded_on": "2010-06-15",
                },
            )
            for unit, head in cast.units:
                self.api.command(
                    operator,
                    "POST",
                    "registry",
                    f"/bkms/{bkm_id}/units",
                    {"unit": unit, "head_name": head},
                )
            bank, number = cast.bank
            self.api.command(
                operator,
                "PUT",
                "registry",
                f"/bkms/{bkm_id}/bank-account",
                {"bank_name": bank, "account_number": number, "account_holder": cast.name},
            )
            self.outcome.bkms[cast.key] = Bkm(cast, bkm_id, operator)
            units = ", ".join(unit for unit, _ in cast.units)
            self.say(f"  {cast.name} ({cast.kelurahan}): units {units}; account at {bank}")

    def verify(self) -> None:
        for bkm in self.outcome.bkms.values():
            if bkm.cast.verified:
                shown = self.api.command(
                    self.facilitator, "POST", "registry", f"/bkms/{bkm.id}/verification"
                )
                account = shown["bank_account"]["confirmation"]
                self.say(f"  {bkm.cast.name}: {shown['status']}, bank account {account}")
            else:
                self.say(f"  {bkm.cast.name}: registered, awaiting verification")

    # -- planning --------------------------------------------------------------------------------

    def plans(self) -> None:
        year = self.day.year
        for bkm in self.outcome.bkms.values():
            plan = self.api.command(
                bkm.operator,
                "POST",
                "planning",
                "/plans",
                {"bkm_id": str(bkm.id), "start_year": year, "end_year": year + 2},
                until_known=PLANNING_PENDING - {"bkm-verified"},
            )
            plan_id = UUID(plan["plan_id"])
            for priority, activity in enumerate(bkm.cast.activities, start=1):
                self.api.command(
                    bkm.operator,
                    "POST",
                    "planning",
                    f"/plans/{plan_id}/activities",
                    {
                        "title": activity.title,
                        "aspect": activity.aspect,
                        "kind": activity.kind,
                        "location": {"region_code": bkm.cast.kelurahan, "rw": "005"},
                        "beneficiaries": {
                            "poor_households": activity.poor_households,
                            "women": activity.poor_households // 2,
                            "total_people": activity.poor_households * 4,
                        },
                        "estimated_cost": activity.cost,
                        "swadaya": {"amount": activity.swadaya},
                        "blm_amount": activity.blm,
                        "planned_year": year,
                        "priority": priority,
                    },
                )
            self.api.command(bkm.operator, "POST", "planning", f"/plans/{plan_id}/submission")
            endorsed = self.api.command(
                self.facilitator,
                "POST",
                "planning",
                f"/plans/{plan_id}/endorsement",
                {
                    "meeting_date": (self.day - dt.timedelta(days=3)).isoformat(),
                    "attendance": 87,
                    "minutes_sha256": _sha(f"rembug warga {bkm.cast.name} {year}"),
                },
            )
            bkm.plan_id = plan_id
            titles = {a.title: a.key for a in bkm.cast.activities}
            bkm.activities = {
                titles[a["title"]]: UUID(a["activity_id"]) for a in endorsed["activities"]
            }
            aspects = sorted({a["aspect"] for a in endorsed["activities"]})
            self.say(
                f"  {bkm.cast.name}: plan {year}-{year + 2} {endorsed['status']} with "
                f"{len(bkm.activities)} activities ({', '.join(aspects)})"
            )

    def open_channelling(self) -> None:
        first = True
        for bkm in self.outcome.bkms.values():
            assert bkm.plan_id is not None
            for activity in bkm.cast.activities:
                activity_id = bkm.activities[activity.key]
                path = f"/plans/{bkm.plan_id}/activities/{activity_id}/channelling"
                body = {"amount_needed": activity.needed}
                if not bkm.cast.verified:
                    refused = self.api.refusal(
                        bkm.operator, "POST", "planning", path, body, rule="bkm-verified"
                    )
                    self.say(f"  {bkm.cast.name}: refused, as it should be: {refused.detail}")
                    continue
                # This command's trace follows it into matching and partnerships.
                self.api.traceparent = (
                    f"00-{self.outcome.trace_id}-{secrets.token_hex(8)}-01" if first else None
                )
                try:
                    self.api.command(
                        bkm.operator, "POST", "planning", path, body, until_known=PLANNING_PENDING
                    )
                finally:
                    self.api.traceparent = None
                first = False
                self.say(f"  {bkm.cast.name}: '{activity.title}' seeks {_rupiah(activity.needed)}")

    # -- partners and opportunities ----------------------------------------------------------

    def partners(self) -> None:
        for cast in PARTNERS:
            partner_id = uuid.uuid4()
            officer = Actor.minted(
                self.issuer, f"officer of {cast.name}", Role.partner_officer, org=partner_id
            )
            self.api.command(
                officer,
                "POST",
                "registry",
                "/partners",
                {
                    "partner_id": str(partner_id),
                    "kind": cast.kind,
                    "name": cast.name,
                    "contact_name": cast.contact,
                    "contact_email": cast.email,
                    "contact_phone": "+62 22 4201234",
                    "regions_of_operation": [CITY],
                },
            )
            shown = self.api.command(
                self.facilitator, "POST", "registry", f"/partners/{partner_id}/verification"
            )
            self.outcome.partners[cast.key] = Partner(cast, partner_id, officer)
            self.say(f"  {cast.name} ({cast.kind.replace('_', ' ')}): {shown['status']}")

    def opportunities(self) -> None:
        for partner in self.outcome.partners.values():
            cast = partner.cast
            # Opportunities may not have heard of the partner yet (registry's events).
            drafted = self.api.command(
                partner.officer,
                "POST",
                "opportunities",
                "/opportunities",
                {
                    "partner_id": str(partner.id),
                    "title": cast.opportunity,
                    "description": f"{cast.opportunity}, tahun anggaran {self.day.year}",
                    "source_kind": cast.source_kind,
                    "budget_code": cast.budget_code,
                    "aspects": list(cast.aspects),
                    "activity_kinds": list(cast.kinds),
                    "eligible_regions": [CITY],
                    "min_amount": cast.min_amount,
                    "max_amount": cast.max_amount,
                    "envelope": cast.envelope,
                    "required_swadaya_percent": cast.swadaya_percent,
                    "open_date": (self.day - dt.timedelta(days=7)).isoformat(),
                    "close_date": (self.day + dt.timedelta(days=90)).isoformat(),
                    "requirements": "proposal, RAB, and the endorsed PJM Pronangkis",
                },
                until_known=OPPORTUNITIES_PENDING,
            )
            opportunity_id = UUID(drafted["opportunity_id"])
            published = self.api.command(
                partner.officer,
                "POST",
                "opportunities",
                f"/opportunities/{opportunity_id}/publication",
                until_known=OPPORTUNITIES_PENDING,
            )
            partner.opportunity_id = opportunity_id
            self.say(
                f"  {cast.name}: '{cast.opportunity}' {published['status']}, envelope "
                f"{_rupiah(cast.envelope)}, {_rupiah(cast.min_amount)} to "
                f"{_rupiah(cast.max_amount)} per activity"
            )

    # -- matching --------------------------------------------------------------------------------

    def story_deals(self) -> list[Deal]:
        bkms, partners = self.outcome.bkms, self.outcome.partners
        return [
            Deal("drainage", bkms["sejahtera"], "drainage", partners["dinas"]),
            Deal("posyandu", bkms["sejahtera"], "posyandu", partners["csr"]),
            Deal("mck", bkms["maju"], "mck", partners["dinas"]),
            Deal("beasiswa", bkms["maju"], "beasiswa", partners["csr"]),
            Deal("usaha", bkms["harapan"], "usaha", partners["bank"]),
        ]

    def matches(self) -> None:
        for deal in self.story_deals():
            activity_id = deal.bkm.activities[deal.activity]
            opportunity_id = str(deal.partner.opportunity_id)

            def proposed(
                activity_id: UUID = activity_id,
                wanted: str = opportunity_id,
                operator: Actor = deal.bkm.operator,
            ) -> Json | None:
                # The BKM's own question: which opportunities fit this activity?
                found = self.api.get(
                    operator, "matching", f"/activities/{activity_id}/opportunities"
                )
                mine = [m for m in found if m["opportunity"]["opportunity_id"] == wanted]
                return mine[0] if mine else None

            match = self.api.waiter.until("matching to propose a match", proposed)
            deal.match_id = UUID(match["match_id"])
            self.outcome.deals[deal.key] = deal
            best = max(match["reasons"], key=lambda r: r["points"], default=None)
            why = f"; mostly: {best['explanation']}" if best else ""
            self.say(
                f"  {deal.bkm.cast.name} '{_title(deal)}' <-> {deal.partner.cast.name}: "
                f"score {match['score']}/10000{why}"
            )
        csr = self.outcome.partners["csr"]
        ranked = self.api.get(
            csr.officer, "matching", f"/opportunities/{csr.opportunity_id}/activities"
        )
        ours = {a for b in self.outcome.bkms.values() for a in b.activities.values()}
        titles = [
            m["activity"]["title"] for m in ranked if UUID(m["activity"]["activity_id"]) in ours
        ]
        self.say(f"  {csr.cast.name} asks where its money does most: {'; '.join(titles[:3])}")
        sejahtera = self.outcome.bkms["sejahtera"]
        bank = self.outcome.partners["bank"]
        why_not = self.api.get(
            sejahtera.operator,
            "matching",
            f"/activities/{sejahtera.activities['drainage']}/opportunities/{bank.opportunity_id}",
        )
        failed = ", ".join(r["rule"] for r in why_not["failed_rules"])
        self.say(f"  drainage <-> {bank.cast.name}: not eligible ({failed})")

    # -- partnerships ------------------------------------------------------------------------------

    def proposals(self) -> None:
        for deal in self.outcome.deals.values():
            activity = next(a for a in deal.bkm.cast.activities if a.key == deal.activity)
            proposal = self.api.command(
                deal.bkm.operator,
                "POST",
                "partnerships",
                "/proposals",
                {
                    "match_id": str(deal.match_id),
                    "amount_requested": activity.needed,
                    "swadaya_amount": activity.swadaya,
                    "work_plan": f"Rencana kerja: {activity.title}, dikerjakan KSM setempat.",
                },
                until_known=PARTNERSHIPS_PENDING,
            )
            deal.proposal_id = UUID(proposal["proposal_id"])
            officer = deal.partner.officer
            if deal.key == "mck":
                reason = "this year's APBD slot for sanitation is already allocated"
                shown = self.api.command(
                    officer,
                    "POST",
                    "partnerships",
                    f"/proposals/{deal.proposal_id}/rejection",
                    {"reason": reason},
                )
            else:
                shown = self.api.command(
                    officer, "POST", "partnerships", f"/proposals/{deal.proposal_id}/acceptance"
                )
            self.say(
                f"  {deal.bkm.cast.name} asks {deal.partner.cast.name} for "
                f"{_rupiah(activity.needed)}: {shown['status']}"
            )

    def accepted(self) -> Iterator[Deal]:
        return (d for d in self.outcome.deals.values() if d.key != "mck")

    def agreements(self) -> None:
        schedules = {
            "drainage": ["50000000.00", "50000000.00"],
            "posyandu": ["30000000.00", "20000000.00"],
            "beasiswa": ["25000000.00"],
            "usaha": ["20000000.00", "20000000.00"],
        }
        for deal in self.accepted():
            tranches = schedules[deal.key]
            amount = sum((Decimal(t) for t in tranches), Decimal(0))
            drawn = self.api.command(
                deal.partner.officer,
                "POST",
                "partnerships",
                f"/proposals/{deal.proposal_id}/agreement",
                {
                    "amount": f"{amount:.2f}",
                    "tranches": [
                        {"amount": t, "condition": f"tranche {n}: after the previous report"}
                        for n, t in enumerate(tranches, start=1)
                    ],
                    "report_before_next_tranche": True,
                    "reporting_duty": "a realisation report with receipts after each tranche",
                    "start_date": self.day.isoformat(),
                    "end_date": (self.day + dt.timedelta(days=365)).isoformat(),
                    "document_sha256": _sha(f"perjanjian kerja sama {deal.key}"),
                },
                until_known=PARTNERSHIPS_PENDING,
            )
            deal.agreement_id = UUID(drawn["agreement_id"])
            path = f"/agreements/{deal.agreement_id}/signatures"
            self.api.command(
                deal.partner.officer,
                "POST",
                "partnerships",
                f"{path}/partner",
                until_known=PARTNERSHIPS_PENDING,
            )
            signed = self.api.command(
                deal.bkm.operator,
                "POST",
                "partnerships",
                f"{path}/bkm",
                until_known=PARTNERSHIPS_PENDING,
            )
            self.say(
                f"  {deal.partner.cast.name} and {deal.bkm.cast.name}: {_rupiah(amount)} in "
                f"{len(tranches)} tranche(s), {signed['status'].replace('_', ' ')}"
            )

    def disburse(self, deal: Deal, number: int, amount: str, account: str | None = None) -> Json:
        return self.api.command(
            deal.partner.officer,
            "POST",
            "partnerships",
            f"/agreements/{deal.agreement_id}/tranches/{number}/disbursement",
            self._disbursement(deal, number, amount, account),
            until_known=PARTNERSHIPS_PENDING,
        )

    def _disbursement(self, deal: Deal, number: int, amount: str, account: str | None) -> Json:
        body: Json = {
            "amount": amount,
            "transfer_reference": f"TRF-{deal.key.upper()}-{number}-{deal.agreement_id}"[:60],
            "disbursed_on": self.day.isoformat(),
        }
        if account is not None:
            body["destination_account"] = account
        return body

    def receive(self, deal: Deal, number: int) -> Json:
        return self.api.command(
            deal.bkm.operator,
            "POST",
            "partnerships",
            f"/agreements/{deal.agreement_id}/tranches/{number}/receipt",
            {"received_on": self.day.isoformat()},
        )

    def report(self, deal: Deal, tranche: int, lines: list[tuple[str, str, str]]) -> int:
        created = self.api.command(
            deal.bkm.operator,
            "POST",
            "partnerships",
            f"/agreements/{deal.agreement_id}/reports",
            {
                "tranche_number": tranche,
                "lines": [
                    {
                        "spent_on": self.day.isoformat(),
                        "category": category,
                        "amount": amount,
                        "payee": payee,
                        "evidence_sha256": _sha(f"{deal.key} {category} {payee} {amount}"),
                    }
                    for category, amount, payee in lines
                ],
                "physical_progress_percent": 50 * tranche,
                "beneficiaries_reached": 40 * tranche,
            },
        )
        number: int = created["report_number"]
        return number

    def review(self, deal: Deal, number: int, rejection: str | None = None) -> Json:
        path = f"/agreements/{deal.agreement_id}/reports/{number}"
        if rejection is None:
            return self.api.command(
                deal.partner.officer, "POST", "partnerships", f"{path}/acceptance"
            )
        return self.api.command(
            deal.partner.officer, "POST", "partnerships", f"{path}/rejection", {"reason": rejection}
        )

    def drainage_to_completion(self) -> None:
        deal = self.outcome.deals["drainage"]
        self.disburse(deal, 1, "50000000.00")
        self.receive(deal, 1)
        self.say("  tranche 1 (Rp 50.000.000) disbursed to BKM Sejahtera Bersama and received")
        first = self.report(
            deal,
            1,
            [
                ("material", "45000000.00", "TB Sumber Makmur"),
                ("konsumsi rapat", "5000000.00", "Warung Bu Ani"),
            ],
        )
        reason = "meeting refreshments are not an eligible cost; report labour with its receipts"
        self.review(deal, first, rejection=reason)
        self.say(f"  report {first} rejected: {reason}")
        corrected = self.report(
            deal,
            1,
            [
                ("material", "45000000.00", "TB Sumber Makmur"),
                ("upah tukang", "5000000.00", "KSM Maju Jaya"),
            ],
        )
        self.review(deal, corrected)
        self.say(f"  corrected report {corrected} accepted")
        self.disburse(deal, 2, "50000000.00")
        self.receive(deal, 2)
        last = self.report(deal, 2, [("material dan upah", "50000000.00", "KSM Maju Jaya")])
        shown = self.review(deal, last)
        self.say(f"  tranche 2 disbursed, received, report {last} accepted: {shown['status']}")
        if shown["status"] != "completed":
            raise DemoError(f"the drainage agreement is {shown['status']}, not completed")

    def termination(self) -> None:
        deal = self.outcome.deals["posyandu"]
        self.disburse(deal, 1, "30000000.00")
        self.receive(deal, 1)
        number = self.report(deal, 1, [("alat kesehatan dan PMT", "20000000.00", "Apotek Sehat")])
        self.review(deal, number)
        self.say("  tranche 1 (Rp 30.000.000) disbursed; Rp 20.000.000 spent and accepted")
        shown = self.api.command(
            deal.partner.officer,
            "POST",
            "partnerships",
            f"/agreements/{deal.agreement_id}/termination",
            {
                "reason": "the company cut its CSR budget for next year",
                "returned_amount": "10000000.00",
                "return_transfer_reference": f"RET-{deal.agreement_id}"[:60],
            },
        )
        self.say(f"  {shown['status']}: Rp 10.000.000 unspent returned to {deal.partner.cast.name}")

    def bank_account_hold(self) -> None:
        deal = self.outcome.deals["usaha"]
        bkm = deal.bkm
        new_account = "0098765432199"
        self.api.command(
            bkm.operator,
            "PUT",
            "registry",
            f"/bkms/{bkm.id}/bank-account",
            {
                "bank_name": "Bank BJB",
                "account_number": new_account,
                "account_holder": bkm.cast.name,
            },
        )
        self.say(f"  {bkm.cast.name} moves its account to Bank BJB {new_account}")
        # Sent to the new account, the tranche can never reach the old one: refused for the
        # old destination until partnerships hears of the change, then held for confirmation.
        body = self._disbursement(deal, 1, "20000000.00", new_account)
        path = f"/agreements/{deal.agreement_id}/tranches/1/disbursement"
        held = self.api.refusal(
            deal.partner.officer,
            "POST",
            "partnerships",
            path,
            body,
            rule="bank-account-confirmed",
            meanwhile={"destination-verified-account"},
        )
        self.say(f"  {deal.partner.cast.name} tries to disburse: held ({held.detail})")
        confirmed = self.api.command(
            self.facilitator, "POST", "registry", f"/bkms/{bkm.id}/bank-account/confirmation"
        )
        self.say(f"  the facilitator confirms it: {confirmed['bank_account']['confirmation']}")
        self.disburse(deal, 1, "20000000.00", new_account)
        self.receive(deal, 1)
        number = self.report(deal, 1, [("bahan baku dan alat", "15000000.00", "CV Kerupuk Jaya")])
        self.review(deal, number)
        self.say("  tranche 1 (Rp 20.000.000) paid to the new account; Rp 15.000.000 accepted")

    def scholarship(self) -> None:
        deal = self.outcome.deals["beasiswa"]
        self.disburse(deal, 1, "25000000.00")
        self.receive(deal, 1)
        self.say(f"  Rp 25.000.000 disbursed to {deal.bkm.cast.name} and received")


def _title(deal: Deal) -> str:
    return next(a.title for a in deal.bkm.cast.activities if a.key == deal.activity)
