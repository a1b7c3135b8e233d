"""Money: rupiah as exact decimals, a two-decimal string on the wire, never a float."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from salur_contracts.values import CURRENCY, Money, PositiveMoney

pytestmark = pytest.mark.unit


class Priced(BaseModel):
    amount: Money


class Positive(BaseModel):
    amount: PositiveMoney


@pytest.mark.parametrize(
    ("given_value", "expected"),
    [
        ("1500000.00", Decimal("1500000.00")),
        ("1500000", Decimal("1500000.00")),
        ("0.5", Decimal("0.50")),
        ("0", Decimal("0.00")),
        (Decimal("12.34"), Decimal("12.34")),
        (Decimal("12.340"), Decimal("12.34")),
        (250, Decimal("250.00")),
    ],
)
def test_accepts_decimal_strings_decimals_and_integers(given_value: Any, expected: Decimal) -> None:
    assert Priced(amount=given_value).amount == expected


@pytest.mark.parametrize(
    ("given_value", "rule"),
    [
        (1.0, "not a float"),
        (1500000.5, "not a float"),
        (True, "not a boolean"),
        (Decimal("NaN"), "finite"),
        (Decimal("Infinity"), "finite"),
        (Decimal("-Infinity"), "finite"),
        ("NaN", "decimal string"),
        ("Infinity", "decimal string"),
        ("1.005", "at most two decimals"),
        (Decimal("1.005"), "at most two decimals"),
        ("1e6", "no spaces or exponent"),
        ("1E+6", "no spaces or exponent"),
        ("", "decimal string"),
        (" 100.00", "no spaces"),
        ("100.00 ", "no spaces"),
        ("1 000", "no spaces"),
        ("1,000.00", "decimal string"),
        ("+5", "decimal string"),
        (".5", "decimal string"),
        ("5.", "decimal string"),
        ("-1.00", "must not be negative"),
        (-1, "must not be negative"),
        ("١٢٣", "decimal string"),
        (None, "not NoneType"),
        (Decimal("1e18"), "less than 10\\^18"),
    ],
)
def test_refuses_input_that_is_not_an_exact_rupiah_amount(given_value: Any, rule: str) -> None:
    with pytest.raises(ValidationError, match=rule):
        Priced(amount=given_value)


def test_names_the_float_rule_in_the_error_message() -> None:
    with pytest.raises(ValidationError) as caught:
        Priced(amount=1.0)
    assert 'money must be a decimal string such as "1500000.00", not a float' in str(caught.value)


def test_refuses_a_json_number_with_a_fraction_because_it_arrives_as_a_float() -> None:
    with pytest.raises(ValidationError, match="not a float"):
        Priced.model_validate_json('{"amount": 10.5}')


def test_serialises_to_a_string_with_exactly_two_decimals() -> None:
    assert Priced(amount="1500000").model_dump_json() == '{"amount":"1500000.00"}'
    assert Priced(amount=Decimal("0.1")).model_dump_json() == '{"amount":"0.10"}'
    assert Priced(amount=Decimal("1E+3")).model_dump_json() == '{"amount":"1000.00"}'


def test_keeps_a_decimal_in_python_mode() -> None:
    assert Priced(amount="7.5").model_dump() == {"amount": Decimal("7.50")}


@pytest.mark.parametrize("given_value", ["0", "0.00", 0, "-3.00"])
def test_positive_money_refuses_zero_and_negative_amounts(given_value: Any) -> None:
    with pytest.raises(ValidationError):
        Positive(amount=given_value)


def test_positive_money_accepts_one_sen() -> None:
    assert Positive(amount="0.01").amount == Decimal("0.01")


def test_currency_is_rupiah() -> None:
    assert CURRENCY == "IDR"


def test_json_schema_describes_a_decimal_string_with_an_example() -> None:
    schema = Priced.model_json_schema()["properties"]["amount"]
    assert schema["type"] == "string"
    assert schema["examples"] == ["1500000.00"]
    assert schema["pattern"] == r"^[0-9]+(\.[0-9]{1,2})?$"


@given(
    st.decimals(
        min_value=Decimal(0), max_value=Decimal("999999999999999999.99"), places=2, allow_nan=False
    )
)
def test_any_two_place_amount_survives_a_json_round_trip_exactly(amount: Decimal) -> None:
    text = Priced(amount=amount).model_dump_json()
    back = Priced.model_validate_json(text).amount
    assert back == amount
    assert str(back) == f"{amount:.2f}"
