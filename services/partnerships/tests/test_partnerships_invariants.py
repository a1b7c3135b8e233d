"""Property-based: whatever commands the parties give, in whatever order, the money holds.

Hypothesis draws sequences of commands (draw and sign agreements, disburse any tranche at
any amount, confirm, report any spending, accept, reject, terminate, and opportunities'
commitments arriving late); refused commands are expected. After every step:
Σ disbursed ≤ agreed, Σ spent ≤ Σ disbursed, and committed ≤ envelope per opportunity.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from partnerships_world import World
from salur_kit.errors import SalurError
from salur_partnerships.application import PartnershipsApplication
from salur_partnerships.domain import Agreement

pytestmark = pytest.mark.unit

ENVELOPE = Decimal("200000000.00")
MILLION = Decimal("1000000.00")

Step = tuple[str, int, int, int]
steps = st.lists(
    st.tuples(
        st.sampled_from(
            ["sign", "disburse", "receive", "report", "accept", "reject", "terminate", "commit"]
        ),
        st.integers(0, 4),  # which agreement
        st.integers(1, 4),  # which tranche / report
        st.integers(1, 120),  # an amount, in millions
    ),
    max_size=40,
)


def _apply(world: World, agreements: list[UUID], step: Step) -> None:
    op, which, number, millions = step
    amount = Decimal(millions) * MILLION
    app = world.app
    if op == "sign":
        tranches = tuple(str(amount / number) for _ in range(number))
        agreement_id = world.agreement(str(amount), tranches, report_first=millions % 2 == 0)
        agreements.append(agreement_id)
        app.sign(world.officer, agreement_id, "partner", None)
        app.sign(world.operator, agreement_id, "bkm", None)
        return
    if not agreements:
        return
    agreement_id = agreements[which % len(agreements)]
    agreement = app.get_agreement(agreement_id)
    if op == "disburse":
        scheduled = agreement.terms.tranches[(number - 1) % len(agreement.terms.tranches)]
        given_amount = scheduled["amount"] if millions % 3 else amount
        world.disburse(agreement_id, number, str(given_amount))
    elif op == "receive":
        world.receive(agreement_id, number)
    elif op == "report":
        world.report(agreement_id, number, str(amount / 4), str(amount / 5))
    elif op == "accept":
        app.accept_report(world.officer, agreement_id, number, None)
    elif op == "reject":
        app.reject_report(world.officer, agreement_id, number, "tidak lengkap", None)
    elif op == "terminate":
        unspent = agreement.total_disbursed - agreement.total_spent
        returned = unspent if millions % 2 else amount
        app.terminate(
            world.officer,
            agreement_id,
            reason="berhenti",
            returned_amount=returned,
            return_transfer_reference="RET-1",
            expected=None,
        )
    elif op == "commit":
        # Opportunities' running total after committing everything signed so far.
        signed = [app.get_agreement(a) for a in agreements]
        committed = sum((a.terms.amount for a in signed if a.status != "draft"), Decimal(0))
        world.envelope_committed(agreement_id, str(committed), str(ENVELOPE))


def _check(world: World, agreements: list[UUID]) -> None:
    committed = Decimal(0)
    for agreement_id in agreements:
        a: Agreement = world.app.get_agreement(agreement_id)
        assert a.total_disbursed <= a.terms.amount
        assert a.total_reported <= a.total_disbursed
        assert a.total_spent <= a.total_disbursed
        if a.status != "draft":
            committed += a.terms.amount
    assert committed <= ENVELOPE


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(sequence=steps)
def test_money_invariants_hold_under_any_sequence_of_commands(sequence: list[Step]) -> None:
    app = PartnershipsApplication()
    world = World(app).everything(envelope=str(ENVELOPE))
    agreements: list[UUID] = []
    for step in sequence:
        # A refused command is expected; the invariants must hold all the same.
        with contextlib.suppress(SalurError):
            _apply(world, agreements, step)
        _check(world, agreements)
    app.close()
