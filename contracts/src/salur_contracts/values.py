"""Value types shared by every integration event.

Each type validates itself and carries its own JSON Schema, so a rule (money is a decimal
string, a region code has four segments) is stated once and travels into every event schema
and the AsyncAPI document.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal, TypeAlias
from uuid import UUID

from pydantic import BeforeValidator, Field, PlainSerializer, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

# -- money ---------------------------------------------------------------------------------

CURRENCY = "IDR"
Currency = Literal["IDR"]

_MONEY_TEXT = re.compile(r"-?[0-9]+(\.[0-9]{1,2})?")
_CENT = Decimal("0.01")
# Eighteen integer digits is far beyond any rupiah amount and keeps every value exact in
# Decimal arithmetic and in SQL NUMERIC(20, 2).
MONEY_LIMIT = Decimal(10) ** 18


def _money_error(rule: str) -> PydanticCustomError:
    return PydanticCustomError("money", rule)


def _parse_money(value: Any) -> Decimal:
    """Turn accepted input into an exact Decimal with two places, naming the broken rule."""
    if isinstance(value, bool):
        raise _money_error('money must be a decimal string such as "1500000.00", not a boolean')
    if isinstance(value, float):
        raise _money_error('money must be a decimal string such as "1500000.00", not a float')
    if isinstance(value, str):
        if not _MONEY_TEXT.fullmatch(value):
            raise _money_error(
                'money must be a decimal string such as "1500000.00": digits, an optional '
                "minus sign and at most two decimals, no spaces or exponent"
            )
        amount = Decimal(value)
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise _money_error("money must be a finite amount, not NaN or infinity")
        amount = value
    else:
        raise _money_error(
            f'money must be a decimal string such as "1500000.00", not {type(value).__name__}'
        )
    if abs(amount) >= MONEY_LIMIT:
        raise _money_error("money must be less than 10^18 rupiah")
    try:
        exact = amount.quantize(_CENT)
    except InvalidOperation:  # pragma: no cover - guarded by the limit above
        raise _money_error("money must have at most two decimals") from None
    if exact != amount:
        raise _money_error("money must have at most two decimals (rupiah has two minor digits)")
    return exact


def _non_negative_money(value: Any) -> Decimal:
    amount = _parse_money(value)
    if amount < 0:
        raise _money_error("money must not be negative")
    return amount


def _positive_money(value: Any) -> Decimal:
    amount = _parse_money(value)
    if amount <= 0:
        raise _money_error("money must be greater than zero")
    return amount


def money_text(amount: Decimal) -> str:
    """The JSON form of an amount: always exactly two decimals, never exponent notation."""
    return f"{amount:.2f}"


_MONEY_PATTERN = r"^[0-9]+(\.[0-9]{1,2})?$"
_MONEY_SERIALISER = PlainSerializer(money_text, return_type=str, when_used="json")

Money = Annotated[
    Decimal,
    PlainValidator(_non_negative_money),
    _MONEY_SERIALISER,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": _MONEY_PATTERN,
            "description": "Rupiah (IDR) amount, non-negative, as a decimal string with two "
            "decimals.",
            "examples": ["1500000.00"],
        }
    ),
]
"""A non-negative rupiah amount: Decimal in code, a two-decimal string in JSON."""

PositiveMoney = Annotated[
    Decimal,
    PlainValidator(_positive_money),
    _MONEY_SERIALISER,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": _MONEY_PATTERN,
            "description": "Rupiah (IDR) amount greater than zero, as a decimal string with "
            "two decimals.",
            "examples": ["1500000.00"],
        }
    ),
]
"""A rupiah amount greater than zero."""

# -- region codes --------------------------------------------------------------------------

_CODE = re.compile(r"[0-9]{2}\.[0-9]{2}\.[0-9]{2}\.[0-9]{4}")
_PREFIX = re.compile(r"[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?")
REGION_CODE_PATTERN = r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$"
REGION_PREFIX_PATTERN = r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$"


def _region_code(value: Any) -> str:
    if not isinstance(value, str) or not _CODE.fullmatch(value):
        raise PydanticCustomError(
            "region_code",
            'region code must be a Kemendagri kelurahan code PP.KK.CC.DDDD such as "31.71.01.1001"',
        )
    return value


def _region_prefix(value: Any) -> str:
    if not isinstance(value, str) or not _PREFIX.fullmatch(value):
        raise PydanticCustomError(
            "region_prefix",
            "region prefix must be whole Kemendagri segments: PP, PP.KK, PP.KK.CC or "
            'PP.KK.CC.DDDD, such as "32.73"',
        )
    return value


RegionCode = Annotated[
    str,
    BeforeValidator(_region_code),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": REGION_CODE_PATTERN,
            "description": "Kemendagri kelurahan code PP.KK.CC.DDDD.",
            "examples": ["31.71.01.1001"],
        }
    ),
]
"""A full Kemendagri code of one kelurahan (urban village)."""

RegionPrefix = Annotated[
    str,
    BeforeValidator(_region_prefix),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": REGION_PREFIX_PATTERN,
            "description": "Kemendagri region prefix: province, city, district or kelurahan.",
            "examples": ["32.73"],
        }
    ),
]
"""A province (PP), city (PP.KK), district (PP.KK.CC) or a full kelurahan code."""


def region_in_prefix(code: str, prefix: str) -> bool:
    """Whether `code` lies inside `prefix`, matching whole segments only.

    `32.73` contains `32.73.01.1001`; it does not contain `32.730...`, and `32.7` is refused as
    malformed rather than read as a string prefix. Both arguments may be prefixes, so the same
    helper answers "does this facilitator's region cover that partner's region".
    """
    for name, value in (("code", code), ("prefix", prefix)):
        if not _PREFIX.fullmatch(value):
            raise ValueError(
                f"{name} {value!r} is not a Kemendagri region code or prefix (PP[.KK[.CC[.DDDD]]])"
            )
    wanted = prefix.split(".")
    return code.split(".")[: len(wanted)] == wanted


# -- identifiers and enumerations ----------------------------------------------------------

BkmId: TypeAlias = UUID
PartnerId: TypeAlias = UUID
SubjectId: TypeAlias = str
"""The authenticated principal (token `sub`) who performed an act, e.g. a facilitator."""

UnitKind = Literal["UPK", "UPL", "UPS"]
PartnerKind = Literal[
    "local_government_office",
    "central_programme",
    "company_csr",
    "bank",
    "ngo",
    "university",
    "donor",
    "care_group",
]
BkmStatus = Literal["registered", "verified", "suspended"]
PartnerStatus = Literal["registered", "verified"]
Aspect = Literal["environment", "economy", "social"]
"""Tridaya: the three aspects of poverty alleviation an activity addresses."""
ActivityKind = Literal[
    "drainage",
    "roads",
    "clean_water",
    "sanitation",
    "waste_management",
    "housing_rehabilitation",
    "public_facility",
    "revolving_loan",
    "skills_training",
    "business_development",
    "scholarship",
    "health",
    "nutrition",
    "elderly_care",
    "disaster_preparedness",
    "other",
]
"""What an activity builds or provides; the list of the programme's usual menu."""
Percentage = Annotated[str, Field(pattern=r"^\d{1,3}(\.\d{1,2})?$")]
"""A percentage as a decimal string with at most two decimals, e.g. `"10"` or `"12.5"`."""
BankAccountConfirmation = Literal["confirmed", "awaiting_confirmation"]


def _account_number(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{5,20}", value):
        raise PydanticCustomError(
            "bank_account_number", "bank account number must be 5 to 20 digits, nothing else"
        )
    return value


BankAccountNumber = Annotated[
    str,
    BeforeValidator(_account_number),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\d{5,20}$",
            "description": "Bank account number: 5 to 20 digits.",
            "examples": ["0123456789"],
        }
    ),
]
