from __future__ import annotations

import datetime as dt

import pytest

from engine.discovery._checks import (
    iban_status,
    is_plausible_birth_date,
    is_valid_ssn,
    luhn_ok,
    pan_issuer_ok,
    parse_date,
)


@pytest.mark.parametrize(
    "pan", ["4111111111111111", "5500000000000004", "378282246310005", "6011111111111117",
            "3530111333300000", "2221000000000009", "4222222222222", "36227206271667"],
)  # fmt: skip
def test_known_test_pans_pass(pan: str) -> None:
    assert luhn_ok(pan)
    assert pan_issuer_ok(pan)


def test_luhn_rejects_single_digit_change() -> None:
    assert not luhn_ok("4111111111111112")


@pytest.mark.parametrize(
    "digits", ["1700000000000", "9111111111111111", "41111111111111", "3411111111111111"]
)
def test_issuer_rejects_unknown_prefix_or_length(digits: str) -> None:
    assert not pan_issuer_ok(digits)


def test_iban_status() -> None:
    assert iban_status("DE89370400440532013000") == "valid"
    assert iban_status("GB82WEST12345698765432") == "valid"
    assert iban_status("DE88370400440532013000") == "invalid"
    assert iban_status("DE00370400440532013000") == "token"
    assert iban_status("DE01370400440532013000") == "token"
    assert iban_status("DE8937040044053201300") == "invalid"  # wrong length
    assert iban_status("XX89370400440532013000") == "invalid"


@pytest.mark.parametrize(
    ("ssn", "ok"),
    [("123456789", True), ("000123456", False), ("666123456", False), ("900123456", False),
     ("123006789", False), ("123450000", False), ("078051120", False), ("12345678", False)],
)  # fmt: skip
def test_ssn_structure(ssn: str, ok: bool) -> None:
    assert is_valid_ssn(ssn) is ok


@pytest.mark.parametrize(
    ("text", "day"),
    [("1985-03-12", dt.date(1985, 3, 12)), ("12.03.1985", dt.date(1985, 3, 12)),
     ("03/25/1985", dt.date(1985, 3, 25)), ("19850312", dt.date(1985, 3, 12)),
     ("12 March 1985", dt.date(1985, 3, 12)), ("March 12, 1985", dt.date(1985, 3, 12)),
     ("3. Mai 1970", dt.date(1970, 5, 3)), ("1985-02-30", None), ("12 Foo 1985", None)],
)  # fmt: skip
def test_parse_date(text: str, day: dt.date | None) -> None:
    assert parse_date(text) == day


def test_plausible_birth_date() -> None:
    today = dt.date(2026, 1, 1)
    assert is_plausible_birth_date(dt.date(1950, 1, 1), today=today)
    assert not is_plausible_birth_date(dt.date(2027, 1, 1), today=today)
    assert not is_plausible_birth_date(dt.date(1850, 1, 1), today=today)
