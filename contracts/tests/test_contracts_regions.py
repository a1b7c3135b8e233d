"""Region codes: Kemendagri PP.KK.CC.DDDD codes and whole-segment prefixes."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError
from salur_contracts.values import RegionCode, RegionPrefix, region_in_prefix

pytestmark = pytest.mark.unit


class Located(BaseModel):
    code: RegionCode


class Scoped(BaseModel):
    prefix: RegionPrefix


def test_accepts_a_full_kelurahan_code() -> None:
    assert Located(code="31.71.01.1001").code == "31.71.01.1001"


@pytest.mark.parametrize(
    "bad",
    [
        "31.71.01",
        "31.71.01.100",
        "31.71.01.10011",
        "3171011001",
        "31-71-01-1001",
        "",
        " 31.71.01.1001",
        "31.71.01.1001\n",
        "aa.71.01.1001",
        "٣١.71.01.1001",
    ],
)
def test_refuses_a_malformed_region_code_with_the_expected_shape_in_the_error(bad: str) -> None:
    with pytest.raises(ValidationError, match=r"PP\.KK\.CC\.DDDD"):
        Located(code=bad)


def test_refuses_a_region_code_given_as_a_number() -> None:
    with pytest.raises(ValidationError, match="region code"):
        Located.model_validate({"code": 3171011001})


@pytest.mark.parametrize("good", ["32", "32.73", "32.73.01", "32.73.01.1001"])
def test_accepts_prefixes_of_whole_segments(good: str) -> None:
    assert Scoped(prefix=good).prefix == good


@pytest.mark.parametrize("bad", ["3", "32.7", "32.730", "32.73.1", "32.73.01.100", "32.", ""])
def test_refuses_a_prefix_that_cuts_a_segment(bad: str) -> None:
    with pytest.raises(ValidationError, match="whole Kemendagri segments"):
        Scoped(prefix=bad)


@pytest.mark.parametrize(
    ("code", "prefix", "inside"),
    [
        ("32.73.01.1001", "32", True),
        ("32.73.01.1001", "32.73", True),
        ("32.73.01.1001", "32.73.01", True),
        ("32.73.01.1001", "32.73.01.1001", True),
        ("32.73.01.1001", "32.74", False),
        ("32.73.01.1001", "33", False),
        ("32.73.01.1001", "32.73.02", False),
        ("32.73", "32.73.01", False),
        ("32.73.01", "32.73", True),
    ],
)
def test_matches_a_code_against_a_prefix_on_whole_segments(
    code: str, prefix: str, inside: bool
) -> None:
    assert region_in_prefix(code, prefix) is inside


@pytest.mark.parametrize(("code", "prefix"), [("32.73.01.1001", "32.7"), ("32.730.01", "32.73")])
def test_refuses_to_match_malformed_codes_or_prefixes(code: str, prefix: str) -> None:
    with pytest.raises(ValueError, match="not a Kemendagri region code or prefix"):
        region_in_prefix(code, prefix)
