from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InputError, ShareMismatch
from engine.smpc import FixedPoint, recombine, split
from engine.smpc._ring import U64, prg, to_words

words = st.lists(st.integers(min_value=0, max_value=2**64 - 1), min_size=0, max_size=50)


@given(values=words, n=st.integers(min_value=2, max_value=6))
@settings(max_examples=60, deadline=None)
def test_split_recombine_inverts_exactly(values: list[int], n: int) -> None:
    x = np.array(values, dtype=U64)
    shares = split(x, n)
    assert len(shares) == n
    assert recombine(shares).tolist() == values


def test_split_shares_look_random() -> None:
    x = np.zeros(4096, dtype=U64)
    first = split(x, 3)[0]
    # Any n-1 shares are uniform: the top bit is set about half the time.
    assert 0.45 < float(np.mean(first >> np.uint64(63))) < 0.55


@given(
    values=st.lists(
        st.floats(min_value=-1e9, max_value=1e9, allow_nan=False), min_size=1, max_size=40
    ),
    frac_bits=st.integers(min_value=0, max_value=24),
)
@settings(max_examples=60, deadline=None)
def test_encode_decode_within_tolerance(values: list[float], frac_bits: int) -> None:
    codec = FixedPoint(frac_bits=frac_bits)
    x = np.array(values)
    back = codec.decode(codec.encode(x))
    assert np.all(np.abs(back - x) <= 0.5 / codec.scale + 1e-9 * np.abs(x))


def test_decimal_encoding_is_exact_in_minor_units() -> None:
    codec = FixedPoint(decimals=2)
    x = np.array([0.01, 19.99, -123456.78, 1e12])
    encoded = codec.encode(x).view(np.int64)
    assert encoded.tolist() == [1, 1999, -12345678, 10**14]
    assert codec.decode(codec.encode(x)).tolist() == x.tolist()


def test_encode_rejects_out_of_range_and_missing_naming_row() -> None:
    codec = FixedPoint(frac_bits=16)
    limit = codec.max_abs
    codec.encode(np.array([limit * 0.999, -limit * 0.999]))
    with pytest.raises(InputError, match="amount: row 1 ") as info:
        codec.encode(np.array([1.0, limit]), field_name="amount")
    assert str(limit) not in str(info.value)
    with pytest.raises(InputError, match="row 2"):
        codec.encode(np.array([1.0, 2.0, np.nan]))
    with pytest.raises(InputError):
        codec.encode(np.array([-np.inf]))


def test_fixed_point_parameters_are_validated() -> None:
    with pytest.raises(ValueError, match="frac_bits"):
        FixedPoint(frac_bits=41)
    with pytest.raises(ValueError, match="decimals"):
        FixedPoint(decimals=13)
    with pytest.raises(ValueError, match="bound_bits"):
        FixedPoint(bound_bits=63)


def test_product_decodes_at_squared_scale() -> None:
    codec = FixedPoint(frac_bits=16)
    a, b = codec.encode(np.array([1.5, -2.25])), codec.encode(np.array([4.0, 3.0]))
    assert codec.decode(a * b, scale_power=2).tolist() == [6.0, -6.75]


def test_prg_is_deterministic_and_label_separated() -> None:
    seed = bytes(range(32))
    assert prg(seed, "a", 8).tolist() == prg(seed, "a", 8).tolist()
    assert prg(seed, "a", 8).tolist() != prg(seed, "b", 8).tolist()
    assert prg(seed, "a", 4).tolist() == prg(seed, "a", 8)[:4].tolist()
    with pytest.raises(ValueError, match="seed"):
        prg(b"short", "a", 1)


def test_recombine_and_to_words_reject_mismatched_shares() -> None:
    with pytest.raises(ShareMismatch):
        recombine([])
    with pytest.raises(ShareMismatch):
        recombine([np.zeros(2, dtype=U64), np.zeros(3, dtype=U64)])
    with pytest.raises(ShareMismatch):
        to_words(b"\x00" * 7, 1)
    with pytest.raises(ValueError, match="n_parties"):
        split(np.zeros(1, dtype=U64), 1)
