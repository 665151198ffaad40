"""The batched numeral arithmetic (uint64, limbs and exact paths) against Python integers."""

from __future__ import annotations

import random

import numpy as np
import pytest

from engine.tokenize._limbs import LIMB_LIMIT, limb_format
from engine.tokenize._numeral import (
    FAST_LIMIT,
    add_mod,
    byte_length,
    from_be_bytes_mod,
    ilog_floor,
    min_length,
    mod_words,
    pack,
    sub_mod,
    to_be_bytes,
    unpack,
)

# (radix, m) pairs on both sides of 2^32, FAST_LIMIT (2^63) and LIMB_LIMIT (2^256).
DOMAINS = [
    (10, 6), (10, 9), (10, 10), (2, 31), (2, 32), (10, 18), (2, 62), (2, 63), (2, 64),
    (10, 19), (10, 28), (36, 15), (36, 49), (255, 9), (256, 8), (257, 8), (3, 40),
    (65536, 4), (65536, 15), (65536, 16), (10, 77), (10, 78), (10, 80), (2, 300),
]  # fmt: skip


def _value_of(row: np.ndarray, radix: int) -> int:
    return sum(int(d) * radix ** (len(row) - 1 - j) for j, d in enumerate(row))


def _numerals(rng: np.random.Generator, radix: int, m: int, rows: int) -> np.ndarray:
    numerals = rng.integers(0, radix, size=(rows, m))
    numerals[0] = radix - 1
    numerals[1] = 0
    return numerals


def _to_python(values: np.ndarray, radix: int, m: int) -> list[int]:
    return [_value_of(row, radix) for row in unpack(values, radix, m)]


def test_representation_follows_the_domain() -> None:
    assert pack(np.zeros((1, 18), dtype=np.uint8), 10).dtype == np.uint64
    assert pack(np.zeros((1, 19), dtype=np.uint8), 10).ndim == 2
    assert pack(np.zeros((1, 77), dtype=np.uint8), 10).ndim == 2
    assert pack(np.zeros((1, 78), dtype=np.uint8), 10).dtype == object
    assert 10**77 < LIMB_LIMIT <= 10**78
    assert FAST_LIMIT == 2**63


@pytest.mark.parametrize(("radix", "m"), DOMAINS)
def test_pack_and_unpack_invert(radix: int, m: int) -> None:
    rng = np.random.default_rng(radix + m)
    numerals = _numerals(rng, radix, m, 12)
    packed = pack(numerals, radix)
    np.testing.assert_array_equal(unpack(packed, radix, m), numerals)
    if packed.ndim == 1:
        assert [int(x) for x in packed] == [_value_of(row, radix) for row in numerals]


@pytest.mark.parametrize(("radix", "m"), DOMAINS)
def test_to_be_bytes_matches_python(radix: int, m: int) -> None:
    rng = np.random.default_rng(radix * 7 + m)
    numerals = _numerals(rng, radix, m, 12)
    expected = [_value_of(row, radix) for row in numerals]
    for nbytes in {byte_length(radix, m), byte_length(radix, m) + 3, 12}:
        if nbytes < byte_length(radix, m):
            continue
        out = to_be_bytes(pack(numerals, radix), nbytes, radix)
        assert out.shape == (12, nbytes)
        assert [int.from_bytes(bytes(row), "big") for row in out] == expected


@pytest.mark.parametrize(("radix", "m"), DOMAINS)
@pytest.mark.parametrize("nbytes", [1, 4, 7, 8, 9, 12, 16, 17, 20, 40])
def test_from_be_bytes_mod_matches_python(radix: int, m: int, nbytes: int) -> None:
    rng = random.Random(radix * 131 + m * 7 + nbytes)  # noqa: S311 - test data, not keys.
    modulus = radix**m
    values = [2 ** (8 * nbytes) - 1, 0, modulus % 2 ** (8 * nbytes), modulus - 1]
    values = [v % 2 ** (8 * nbytes) for v in values]
    values += [rng.getrandbits(8 * nbytes) for _ in range(30)]
    raw = b"".join(x.to_bytes(nbytes, "big") for x in values)
    buf = np.frombuffer(raw, dtype=np.uint8).reshape(len(values), nbytes)
    assert _to_python(from_be_bytes_mod(buf, radix, m), radix, m) == [x % modulus for x in values]


@pytest.mark.parametrize(("radix", "m"), DOMAINS)
def test_add_and_sub_mod_match_python(radix: int, m: int) -> None:
    rng = np.random.default_rng(radix * 3 + m)
    modulus = radix**m
    a = _numerals(rng, radix, m, 40)
    b = _numerals(rng, radix, m, 40)
    b[1] = radix - 1  # 0 - (M - 1) and (M - 1) + (M - 1).
    b[2] = 0
    left, right = pack(a, radix), pack(b, radix)
    xs = [_value_of(row, radix) for row in a]
    ys = [_value_of(row, radix) for row in b]
    added = _to_python(add_mod(left, right, radix, m), radix, m)
    subtracted = _to_python(sub_mod(left, right, radix, m), radix, m)
    assert added == [(x + y) % modulus for x, y in zip(xs, ys, strict=True)]
    assert subtracted == [(x - y) % modulus for x, y in zip(xs, ys, strict=True)]


MODULI = [2, 3, 10**6, 10**8, 2**32 - 5, 2**32, 10**10, 2**48 + 1, 2**56 - 1, 2**57 + 3]
MODULI += [10**18, 2**62, 2**63 - 1]


@pytest.mark.parametrize("modulus", MODULI)
@pytest.mark.parametrize("widths", [(64,), (64, 64), (64, 32), (17, 64, 5)])
def test_mod_words_matches_python(modulus: int, widths: tuple[int, ...]) -> None:
    rng = random.Random(modulus + sum(widths))  # noqa: S311 - test data, not keys.
    rows = 30
    columns = [[rng.getrandbits(w) for _ in range(rows)] for w in widths]
    for column, width in zip(columns, widths, strict=True):
        column[0] = 2**width - 1
    words = [(np.array(c, dtype=np.uint64), w) for c, w in zip(columns, widths, strict=True)]
    expected = []
    for i in range(rows):
        value = 0
        for column, width in zip(columns, widths, strict=True):
            value = (value << width) | column[i]
        expected.append(value % modulus)
    assert [int(x) for x in mod_words(words, modulus)] == expected


def test_bounds_are_exact() -> None:
    assert ilog_floor(10, 2**96) == 28
    assert ilog_floor(2, 2**96) == 96
    assert ilog_floor(16, 2**96) == 24
    assert min_length(10) == 6
    assert min_length(2) == 20
    assert min_length(1000) == 2
    assert min_length(65536) == 2
    assert byte_length(10, 8) == 4
    assert byte_length(2, 16) == 2
    assert byte_length(2, 17) == 3
    assert byte_length(65536, 4) == 8
    fmt = limb_format(10, 19)
    assert (fmt.k, fmt.count, fmt.base, fmt.top_modulus) == (9, 3, 10**9, 10)
    assert limb_format(65536, 4).base == 65536
