"""Registry HTTP edge: parse one model, call one use case, return one model."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel, Field
from salur_contracts.values import PartnerKind, RegionCode, RegionPrefix, UnitKind
from salur_kit.auth import Principal, current_principal
from salur_kit.http import CommandModel, application_of, command_router, expected_version, set_etag

from salur_registry import readmodel
from salur_registry.application import RegistryApplication
from salur_registry.domain import Bkm, Partner

router = command_router()
Caller = Annotated[Principal, Depends(current_principal)]
Expected = Annotated[int | None, Depends(expected_version)]
Text = Annotated[str, Field(min_length=1, max_length=200)]
Reason = Annotated[str, Field(min_length=3, max_length=1000)]


App = Annotated[RegistryApplication, Depends(application_of(RegistryApplication))]

# -- models ----------------------------------------------------------------------------


class RegisterBkm(CommandModel):
    bkm_id: UUID | None = Field(
        default=None, description="client-chosen id; an operator must send their own BKM id"
    )
    name: Text = Field(examples=["BKM Sejahtera Bersama"])
    region_code: RegionCode = Field(description="kelurahan code", examples=["32.73.01.1001"])
    address: Annotated[str, Field(min_length=1, max_length=500)]
    legal_deed_number: Text = Field(examples=["AHU-0012345.AH.01.07.2010"])
    founded_on: dt.date


class AddUnit(CommandModel):
    unit: UnitKind
    head_name: Text


class ChangeBankAccount(CommandModel):
    bank_name: Text = Field(examples=["Bank Rakyat Indonesia"])
    account_number: Annotated[str, Field(pattern=r"^\d{5,20}$", examples=["0123456789"])]
    account_holder: Text


class WithReason(CommandModel):
    reason: Reason


class RegisterPartner(CommandModel):
    partner_id: UUID | None = None
    kind: PartnerKind
    name: Text
    contact_name: Text
    contact_email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=200)]
    contact_phone: Annotated[str, Field(pattern=r"^\+?[0-9 ()-]{6,20}$")]
    regions_of_operation: Annotated[list[RegionPrefix], Field(min_length=1, max_length=100)]


class BankAccountOut(BaseModel):
    bank_name: str
    account_number: str
    account_holder: str
    confirmation: Literal["awaiting_confirmation", "confirmed"]


class BkmOut(BaseModel):
    bkm_id: UUID
    name: str
    region_code: str
    address: str
    legal_deed_number: str
    founded_on: dt.date
    status: str
    units: dict[str, str]
    bank_account: BankAccountOut | None
    version: int

    @classmethod
    def of(cls, bkm: Bkm) -> BkmOut:
        return cls(
            bkm_id=bkm.id,
            name=bkm.name,
            region_code=bkm.region_code,
            address=bkm.address,
            legal_deed_number=bkm.legal_deed_number,
            founded_on=bkm.founded_on,
            status=bkm.status,
            units=dict(bkm.units),
            bank_account=BankAccountOut(**bkm.bank_account) if bkm.bank_account else None,
            version=bkm.version,
        )


class PartnerOut(BaseModel):
    partner_id: UUID
    kind: str
    name: str
    contact_name: str
    contact_email: str
    contact_phone: str
    regions_of_operation: list[str]
    status: str
    version: int

    @classmethod
    def of(cls, partner: Partner) -> PartnerOut:
        return cls(
            partner_id=partner.id,
            kind=partner.kind,
            name=partner.name,
            contact_name=partner.contact_name,
            contact_email=partner.contact_email,
            contact_phone=partner.contact_phone,
            regions_of_operation=list(partner.regions_of_operation),
            status=partner.status,
            version=partner.version,
        )


class Page(BaseModel):
    items: list[dict[str, Any]]
    next_after: int | None = Field(description="pass as `after` for the next page")


def _bkm(response: Response, bkm: Bkm) -> BkmOut:
    set_etag(response, bkm.version)
    return BkmOut.of(bkm)


def _partner(response: Response, partner: Partner) -> PartnerOut:
    set_etag(response, partner.version)
    return PartnerOut.of(partner)


def _page(rows: list[dict[str, Any]], limit: int) -> Page:
    items = [{k: v for k, v in row.items() if k != "seq"} for row in rows]
    return Page(items=items, next_after=rows[-1]["seq"] if len(rows) == limit else None)


# -- BKMs ------------------------------------------------------------------------------


@router.post("/bkms", status_code=201, tags=["bkms"])
def register_bkm(body: RegisterBkm, caller: Caller, app: App, response: Response) -> BkmOut:
    bkm = app.register_bkm(caller, **body.model_dump())
    response.headers["Location"] = f"/bkms/{bkm.id}"
    return _bkm(response, bkm)


@router.get("/bkms/{bkm_id}", tags=["bkms"])
def get_bkm(bkm_id: UUID, caller: Caller, app: App, response: Response) -> BkmOut:
    return _bkm(response, app.get_bkm(bkm_id))


@router.get("/bkms", tags=["bkms"])
async def list_bkms(
    request: Request,
    caller: Caller,
    region: Annotated[RegionPrefix | None, Query(description="region-code prefix")] = None,
    status: Literal["registered", "verified", "suspended"] | None = None,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page:
    async with request.app.state.read_pool.connection() as conn:
        rows = await readmodel.list_bkms(
            conn, region_prefix=region, status=status, after=after, limit=limit
        )
    return _page(list(rows), limit)


@router.post("/bkms/{bkm_id}/units", tags=["bkms"])
def add_unit(
    bkm_id: UUID, body: AddUnit, caller: Caller, app: App, expected: Expected, response: Response
) -> BkmOut:
    return _bkm(response, app.add_unit(caller, bkm_id, body.unit, body.head_name, expected))


@router.delete("/bkms/{bkm_id}/units/{unit}", tags=["bkms"])
def remove_unit(
    bkm_id: UUID, unit: UnitKind, caller: Caller, app: App, expected: Expected, response: Response
) -> BkmOut:
    return _bkm(response, app.remove_unit(caller, bkm_id, unit, expected))


@router.put("/bkms/{bkm_id}/bank-account", tags=["bkms"])
def change_bank_account(
    bkm_id: UUID,
    body: ChangeBankAccount,
    caller: Caller,
    app: App,
    expected: Expected,
    response: Response,
) -> BkmOut:
    bkm = app.change_bank_account(caller, bkm_id, **body.model_dump(), expected=expected)
    return _bkm(response, bkm)


@router.post("/bkms/{bkm_id}/bank-account/confirmation", tags=["bkms"])
def confirm_bank_account(
    bkm_id: UUID, caller: Caller, app: App, expected: Expected, response: Response
) -> BkmOut:
    return _bkm(response, app.confirm_bank_account(caller, bkm_id, expected))


@router.post("/bkms/{bkm_id}/verification", tags=["bkms"])
def verify_bkm(
    bkm_id: UUID, caller: Caller, app: App, expected: Expected, response: Response
) -> BkmOut:
    return _bkm(response, app.verify_bkm(caller, bkm_id, expected))


@router.post("/bkms/{bkm_id}/suspension", tags=["bkms"])
def suspend_bkm(
    bkm_id: UUID, body: WithReason, caller: Caller, app: App, expected: Expected, response: Response
) -> BkmOut:
    return _bkm(response, app.suspend_bkm(caller, bkm_id, body.reason, expected))


@router.post("/bkms/{bkm_id}/reinstatement", tags=["bkms"])
def reinstate_bkm(
    bkm_id: UUID, body: WithReason, caller: Caller, app: App, expected: Expected, response: Response
) -> BkmOut:
    return _bkm(response, app.reinstate_bkm(caller, bkm_id, body.reason, expected))


# -- partners --------------------------------------------------------------------------


@router.post("/partners", status_code=201, tags=["partners"])
def register_partner(
    body: RegisterPartner, caller: Caller, app: App, response: Response
) -> PartnerOut:
    fields = body.model_dump()
    fields["regions_of_operation"] = tuple(body.regions_of_operation)
    partner = app.register_partner(caller, **fields)
    response.headers["Location"] = f"/partners/{partner.id}"
    return _partner(response, partner)


@router.get("/partners/{partner_id}", tags=["partners"])
def get_partner(partner_id: UUID, caller: Caller, app: App, response: Response) -> PartnerOut:
    return _partner(response, app.get_partner(partner_id))


@router.get("/partners", tags=["partners"])
async def list_partners(
    request: Request,
    caller: Caller,
    region: Annotated[RegionPrefix | None, Query(description="region-code prefix")] = None,
    status: Literal["registered", "verified"] | None = None,
    kind: PartnerKind | None = None,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page:
    async with request.app.state.read_pool.connection() as conn:
        rows = await readmodel.list_partners(
            conn, region_prefix=region, status=status, kind=kind, after=after, limit=limit
        )
    return _page(list(rows), limit)


@router.post("/partners/{partner_id}/verification", tags=["partners"])
def verify_partner(
    partner_id: UUID, caller: Caller, app: App, expected: Expected, response: Response
) -> PartnerOut:
    return _partner(response, app.verify_partner(caller, partner_id, expected))
