from __future__ import annotations

from uuid import uuid4

import pytest
from salur_kit.auth import Principal, Role
from salur_kit.errors import ForbiddenError

pytestmark = pytest.mark.unit
BKM = uuid4()
PARTNER = uuid4()
operator = Principal("op", Role.bkm_operator, BKM)
officer = Principal("off", Role.partner_officer, PARTNER)
facilitator = Principal("fac", Role.facilitator, region_prefix="32.73")
auditor = Principal("aud", Role.auditor)


def test_a_caller_with_one_of_the_roles_passes() -> None:
    auditor.require_role(Role.facilitator, Role.auditor)


def test_a_caller_without_the_role_is_forbidden_naming_it() -> None:
    with pytest.raises(ForbiddenError, match="facilitator"):
        auditor.require_role(Role.facilitator)


def test_an_operator_acts_only_on_their_own_bkm() -> None:
    operator.require_bkm_operator_of(BKM)
    with pytest.raises(ForbiddenError, match=str(PARTNER)):
        operator.require_bkm_operator_of(PARTNER)


def test_an_officer_of_the_same_organisation_is_not_a_bkm_operator() -> None:
    with pytest.raises(ForbiddenError, match="bkm_operator"):
        Principal("x", Role.partner_officer, BKM).require_bkm_operator_of(BKM)


def test_an_officer_acts_only_for_their_own_partner() -> None:
    officer.require_partner_officer_of(PARTNER)
    with pytest.raises(ForbiddenError):
        officer.require_partner_officer_of(BKM)
    with pytest.raises(ForbiddenError):
        operator.require_partner_officer_of(PARTNER)


@pytest.mark.parametrize("code", ["32.73", "32.73.01", "32.73.01.1001"])
def test_a_facilitator_acts_inside_their_region_prefix(code: str) -> None:
    facilitator.require_facilitator_for(code)


@pytest.mark.parametrize("code", ["32.730.01.1001", "32.7", "32.74.01.1001", "31.73.01.1001"])
def test_a_facilitator_is_forbidden_outside_whole_segments_of_their_prefix(code: str) -> None:
    with pytest.raises(ForbiddenError, match="region"):
        facilitator.require_facilitator_for(code)


def test_only_a_facilitator_passes_the_facilitator_check() -> None:
    with pytest.raises(ForbiddenError):
        auditor.require_facilitator_for("32.73.01.1001")
