"""The registry's story, told once and run twice: in memory and on real Postgres."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from uuid import UUID, uuid4

import pytest
from salur_kit.auth import Principal, Role
from salur_kit.errors import ConflictError, ForbiddenError, NotFoundError, StaleVersionError
from salur_registry.application import RegistryApplication
from salur_registry.integration import to_integration

FACILITATOR = Principal(
    subject="fasilitator-bandung",
    role=Role.facilitator,
    organisation_id=None,
    region_prefix="32.73",
)
OTHER_FACILITATOR = Principal(
    subject="fasilitator-bogor", role=Role.facilitator, organisation_id=None, region_prefix="32.71"
)
AUDITOR = Principal(subject="bpkp", role=Role.auditor, organisation_id=None, region_prefix=None)


def operator(bkm_id: UUID) -> Principal:
    return Principal(
        subject=f"operator-{bkm_id}",
        role=Role.bkm_operator,
        organisation_id=bkm_id,
        region_prefix=None,
    )


def officer(partner_id: UUID) -> Principal:
    return Principal(
        subject="officer", role=Role.partner_officer, organisation_id=partner_id, region_prefix=None
    )


@pytest.fixture
def app(event_store_env: Mapping[str, str]) -> Iterator[RegistryApplication]:
    application = RegistryApplication(event_store_env)
    yield application
    application.close()


def register(
    app: RegistryApplication, by: Principal = FACILITATOR, bkm_id: UUID | None = None
) -> UUID:
    bkm = app.register_bkm(
        by,
        bkm_id=bkm_id,
        name="BKM Mekar Sari",
        region_code="32.73.01.1001",
        address="Jl. Cibeunying 4, Bandung",
        legal_deed_number="AHU-0001",
        founded_on=dt.date(2008, 3, 12),
    )
    return bkm.id


def test_story_of_a_bkm_from_registration_to_suspension(app: RegistryApplication) -> None:
    # A facilitator registers the BKM of a kelurahan in Bandung.
    bkm_id = register(app)
    me = operator(bkm_id)

    # Its operator adds the three units and the account that receives funds.
    app.add_unit(me, bkm_id, "UPK", "Siti Aminah", expected=1)
    app.add_unit(me, bkm_id, "UPL", "Dedi", expected=None)
    app.add_unit(me, bkm_id, "UPS", "Rina", expected=None)
    app.change_bank_account(
        me,
        bkm_id,
        bank_name="BRI",
        account_number="0123456789",
        account_holder="BKM Mekar Sari",
        expected=None,
    )

    # The facilitator verifies it, which confirms the account.
    bkm = app.verify_bkm(FACILITATOR, bkm_id, expected=None)
    assert bkm.status == "verified"
    assert bkm.bank_account is not None
    assert bkm.bank_account["confirmation"] == "confirmed"

    # A new account waits for the facilitator's confirmation.
    app.change_bank_account(
        me,
        bkm_id,
        bank_name="BNI",
        account_number="99887766",
        account_holder="BKM Mekar Sari",
        expected=None,
    )
    assert app.get_bkm(bkm_id).bank_account["confirmation"] == "awaiting_confirmation"  # type: ignore[index]
    app.confirm_bank_account(FACILITATOR, bkm_id, expected=None)

    # Suspended and reinstated, with reasons.
    app.suspend_bkm(FACILITATOR, bkm_id, "laporan keuangan terlambat", expected=None)
    assert app.get_bkm(bkm_id).status == "suspended"
    app.reinstate_bkm(FACILITATOR, bkm_id, "laporan sudah diterima", expected=None)

    reloaded = app.get_bkm(bkm_id)
    assert reloaded.status == "verified"
    assert reloaded.units == {"UPK": "Siti Aminah", "UPL": "Dedi", "UPS": "Rina"}
    assert reloaded.bank_account == {
        "bank_name": "BNI",
        "account_number": "99887766",
        "account_holder": "BKM Mekar Sari",
        "confirmation": "confirmed",
    }
    assert reloaded.version == 11

    # Every event of the story leaves the service as a valid public event.
    published = [
        to_integration(app.mapper.to_domain_event(n))
        for n in app.recorder.select_notifications(1, 100)
    ]
    assert [type(e).__name__ for e in published] == [
        "BkmRegistered",
        "BkmUnitAdded",
        "BkmUnitAdded",
        "BkmUnitAdded",
        "BkmBankAccountChanged",
        "BkmVerified",
        "BkmBankAccountConfirmed",
        "BkmBankAccountChanged",
        "BkmBankAccountConfirmed",
        "BkmSuspended",
        "BkmReinstated",
    ]
    assert all(e is not None and e.subject == str(bkm_id) for e in published)


def test_story_of_a_partner(app: RegistryApplication) -> None:
    partner_id = uuid4()
    app.register_partner(
        officer(partner_id),
        partner_id=partner_id,
        kind="company_csr",
        name="PT Sinar Jaya CSR",
        contact_name="Ani",
        contact_email="csr@sinarjaya.co.id",
        contact_phone="+62 22 1234567",
        regions_of_operation=("32",),
    )
    partner = app.verify_partner(FACILITATOR, partner_id, expected=1)
    assert partner.status == "verified"
    assert app.get_partner(partner_id).version == 2
    published = [
        to_integration(app.mapper.to_domain_event(n))
        for n in app.recorder.select_notifications(1, 100)
    ]
    assert [type(e).__name__ for e in published] == ["PartnerRegistered", "PartnerVerified"]


class TestAuthorisation:
    def test_an_operator_registers_only_their_own_bkm(self, app: RegistryApplication) -> None:
        with pytest.raises(ForbiddenError):
            register(app, by=operator(uuid4()), bkm_id=uuid4())
        own = uuid4()
        assert register(app, by=operator(own), bkm_id=own) == own

    def test_an_id_already_registered_is_refused_and_the_first_registration_stands(
        self, app: RegistryApplication
    ) -> None:
        own = uuid4()
        register(app, by=operator(own), bkm_id=own)
        with pytest.raises(ConflictError) as refused:
            register(app, by=operator(own), bkm_id=own)
        assert refused.value.rule == "unique-id"
        assert app.get_bkm(own).version == 1
        partner_id = uuid4()
        app.register_partner(
            officer(partner_id),
            partner_id=partner_id,
            kind="company_csr",
            name="PT Contoh",
            contact_name="Rina",
            contact_email="rina@contoh.co.id",
            contact_phone="+62 22 7654321",
            regions_of_operation=("32.73",),
        )
        with pytest.raises(ConflictError, match="already registered"):
            app.register_partner(
                officer(partner_id),
                partner_id=partner_id,
                kind="company_csr",
                name="PT Lain",
                contact_name="Budi",
                contact_email="budi@lain.co.id",
                contact_phone="+62 22 1111111",
                regions_of_operation=("32.73",),
            )
        assert app.get_partner(partner_id).name == "PT Contoh"

    def test_an_operator_cannot_touch_another_bkm(self, app: RegistryApplication) -> None:
        bkm_id = register(app)
        with pytest.raises(ForbiddenError):
            app.add_unit(operator(uuid4()), bkm_id, "UPK", "X", expected=None)

    def test_a_facilitator_acts_only_inside_their_region(self, app: RegistryApplication) -> None:
        bkm_id = register(app)
        with pytest.raises(ForbiddenError):
            app.suspend_bkm(OTHER_FACILITATOR, bkm_id, "bukan wilayahnya", expected=None)
        with pytest.raises(ForbiddenError):
            register(app, by=OTHER_FACILITATOR)

    def test_an_auditor_reads_but_never_writes(self, app: RegistryApplication) -> None:
        bkm_id = register(app)
        assert app.get_bkm(bkm_id).name == "BKM Mekar Sari"
        with pytest.raises(ForbiddenError):
            app.verify_bkm(AUDITOR, bkm_id, expected=None)
        with pytest.raises(ForbiddenError):
            register(app, by=AUDITOR)


class TestConsistency:
    def test_a_stale_expected_version_is_refused_and_changes_nothing(
        self, app: RegistryApplication
    ) -> None:
        bkm_id = register(app)
        app.add_unit(operator(bkm_id), bkm_id, "UPK", "Siti", expected=1)
        with pytest.raises(StaleVersionError):
            app.add_unit(operator(bkm_id), bkm_id, "UPL", "Dedi", expected=1)
        assert app.get_bkm(bkm_id).units == {"UPK": "Siti"}

    def test_the_same_id_cannot_be_registered_twice(self, app: RegistryApplication) -> None:
        bkm_id = register(app)
        with pytest.raises(ConflictError):
            register(app, bkm_id=bkm_id)

    def test_an_unknown_bkm_is_not_found(self, app: RegistryApplication) -> None:
        with pytest.raises(NotFoundError):
            app.get_bkm(uuid4())
