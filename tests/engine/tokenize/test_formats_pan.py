"""PAN tokens: kept digits and separators, the Luhn rule, exact reversibility, bad input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.keys import KeyMaterial
from engine.tokenize import FormatOptions, Kind, Scheme
from engine.tokenize._formats.keyed import ColumnKeys
from engine.tokenize._formats.pan import kept_digits, luhn_residue, pan
from tests.engine.tokenize._support import back, luhn_ok, pans, run, with_check_digit

SCHEMES = [{}, {"scheme": Scheme.FF3_1}]


def digits_of(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


@settings(max_examples=40, deadline=None)
@given(values=st.lists(pans(), min_size=1, max_size=20), valid=st.booleans())
def test_round_trip_and_format(values: list[str], valid: bool) -> None:
    tokens, reasons = run(values, Kind.PAN, pan_luhn_valid=valid)
    assert reasons == {}
    assert back(tokens, Kind.PAN, pan_luhn_valid=valid) == values
    for value, token in zip(values, tokens, strict=True):
        assert len(token) == len(value)
        # Separators stay where they were; digits stay digits.
        assert [c for c in token if not c.isdigit()] == [c for c in value if not c.isdigit()]
        assert all(a.isdigit() == b.isdigit() for a, b in zip(value, token, strict=True))
        d, t = digits_of(value), digits_of(token)
        first, last = kept_digits(len(d), 6, 4)
        assert t[:first] == d[:first]
        assert t[len(t) - last :] == d[len(d) - last :]
        assert len(d) - first - last >= 6
        # The checksum rule: tokens fail Luhn by default and pass it on request.
        assert luhn_ok(t) is valid


@pytest.mark.parametrize(
    ("options", "count"),
    [
        pytest.param({}, 10**5, marks=pytest.mark.slow),
        ({}, 10**4),
        ({"scheme": Scheme.FF3_1}, 10**4),
    ],
)
def test_every_luhn_valid_middle_maps_to_a_distinct_failing_token(
    options: dict[str, Any], count: int
) -> None:
    # 13 digits keep 3 + 4, so six are tokenized. Take all 10^5 Luhn-valid middles of one
    # prefix/suffix (the slow case; 10^4 of them otherwise): the token map is injective,
    # every token fails Luhn, and all invert.
    middles = np.arange(10**6)
    digits = np.zeros((10**6, 13), dtype=np.int64)
    digits[:, :3] = [4, 1, 1]
    digits[:, 9:] = [1, 1, 1, 1]
    for j in range(6):
        digits[:, 3 + j] = middles // 10 ** (5 - j) % 10
    valid = digits[luhn_residue(digits) == 0]
    assert valid.shape[0] == 10**5
    values = ["".join(map(str, row)) for row in valid[:count].tolist()]
    tokens, reasons = run(values, Kind.PAN, **options)
    assert reasons == {}
    assert len(set(tokens)) == len(values)
    assert not any(luhn_ok(t) for t in tokens[:2000])
    assert (luhn_residue(np.array([[int(c) for c in t] for t in tokens])) != 0).all()
    assert all(t[:3] == "411" and t[-4:] == "1111" for t in tokens)
    assert back(tokens, Kind.PAN, **options) == values


def test_kept_prefix_shrinks_to_keep_six_tokenized_digits() -> None:
    assert kept_digits(16, 6, 4) == (6, 4)
    assert kept_digits(15, 6, 4) == (5, 4)  # Amex: 5 + 4 kept, 6 tokenized.
    assert kept_digits(12, 6, 4) == (2, 4)
    assert kept_digits(19, 8, 4) == (8, 4)
    assert kept_digits(12, 6, 6) == (0, 6)


def test_amex_keeps_five_and_four() -> None:
    amex = with_check_digit("37828224631000"[:14])
    (token,), _ = run([amex], Kind.PAN)
    assert token[:5] == amex[:5]
    assert token[-4:] == amex[-4:]
    assert token[5:11] != amex[5:11]


def test_configurable_kept_digits() -> None:
    value = with_check_digit("411111111111111")
    (token,), _ = run([value], Kind.PAN, pan_keep_first=0, pan_keep_last=0)
    assert back([token], Kind.PAN, pan_keep_first=0, pan_keep_last=0) == [value]
    (token4,), _ = run([value], Kind.PAN, pan_keep_first=4, pan_keep_last=2)
    assert token4[:4] == value[:4]
    assert token4[-2:] == value[-2:]


def test_kept_digits_are_bound_into_the_token() -> None:
    # Same middle, different BIN: the tokenized middles differ (keyed offsets).
    a = with_check_digit("411111" + "123456" + "111")
    b = with_check_digit("511111" + "123456" + "111")
    (ta, tb), _ = run([a, b], Kind.PAN)
    assert ta[6:12] != tb[6:12]


def test_equal_values_in_two_columns_differ_and_key_matters() -> None:
    value = with_check_digit("411111111111111")
    (t1,), _ = run([value], Kind.PAN, column="card")
    (t2,), _ = run([value], Kind.PAN, column="card2")
    (t3,), _ = run([value], Kind.PAN, column="card", secret=bytes(32))
    assert len({t1, t2, t3}) == 3


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("4111111111111112", "pan: fails Luhn"),
        ("532443918", "pan: length 9 outside 12-19"),
        ("4" * 20, "pan: length 20 outside 12-19"),
        ("4111-1111-1111-111X", "pan: invalid characters"),
        ("4111 1111-1111 1111", "pan: mixed separators"),
        ("4111--1111-1111-1111", "pan: bad separators"),
        ("-4111111111111111", "pan: bad separators"),
        (
            "\uff14\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11",
            "pan: non-ASCII characters",
        ),
        ("N/A", "pan: invalid characters"),
    ],
)
def test_bad_input_is_quarantined(value: str, reason: str) -> None:
    tokens, reasons = run([value], Kind.PAN)
    assert tokens == [None]
    assert reasons == {0: reason}
    assert value not in reason


def test_detokenize_rejects_luhn_valid_values_as_tokens() -> None:
    key = KeyMaterial(key_id="k", version=1, secret=bytes(32))
    keys = ColumnKeys(key, Kind.PAN, Scheme.FF1, "c")
    valid = with_check_digit("411111111111111")
    values = np.array([valid], dtype=object)
    _, reasons = pan(values, keys, FormatOptions(), True)
    assert list(reasons) == ["pan: not a token"]
    # Luhn-failing values that are not images of sigma are not tokens either.
    candidates = [with_check_digit("41111111111" + f"{i:04d}")[:-1] + "0" for i in range(50)]
    failing = np.array([c for c in candidates if not luhn_ok(c)], dtype=object)
    _, reasons = pan(failing, keys, FormatOptions(), True)
    assert "pan: not a token" in set(reasons)
    assert all(r is None or r == "pan: not a token" for r in reasons)
