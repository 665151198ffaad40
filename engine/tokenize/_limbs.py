"""Wide numeral-string integers as base-R limbs (R = radix^k < 2^31), one row per value.

Limbs make radix conversion trivial and keep every binary-conversion step inside 64 bits.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "LIMB_LIMIT",
    "LimbFormat",
    "add_limbs",
    "from_be_bytes_mod_limbs",
    "limb_columns",
    "limb_format",
    "pack_limbs",
    "sub_limbs",
    "to_be_bytes_limbs",
]

LIMB_LIMIT: Final = 1 << 256
_BASE_BOUND: Final = (1 << 31) - 1
_MASK32: Final = np.uint64(0xFFFFFFFF)
_SHIFT32: Final = np.uint64(32)

Limbs = NDArray[np.uint64]
"""Shape (rows, count); column 0 is the least significant limb, every limb < base."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LimbFormat:
    """How m numerals of a radix split into limbs of k numerals (the top one may be short)."""

    radix: int
    m: int
    k: int
    count: int
    base: int
    top_modulus: int


@functools.cache
def limb_format(radix: int, m: int) -> LimbFormat:
    """Return the limb layout for m numerals of ``radix``."""
    k, power = 0, 1
    while power * radix <= _BASE_BOUND:
        k += 1
        power *= radix
    count = -(-m // k)
    return LimbFormat(
        radix=radix,
        m=m,
        k=k,
        count=count,
        base=power,
        top_modulus=radix ** (m - (count - 1) * k),
    )


def _column_slices(fmt: LimbFormat) -> list[slice]:
    """Numeral columns of each limb, least significant limb first."""
    return [slice(max(fmt.m - (j + 1) * fmt.k, 0), fmt.m - j * fmt.k) for j in range(fmt.count)]


def pack_limbs(numerals: NDArray[Any], fmt: LimbFormat) -> Limbs:
    """Return the limbs of every row of numerals (first column most significant)."""
    out = np.empty((numerals.shape[0], fmt.count), dtype=np.uint64)
    r = np.uint64(fmt.radix)
    for j, cols in enumerate(_column_slices(fmt)):
        part = numerals[:, cols]
        acc = part[:, 0].astype(np.uint64)
        for c in range(1, part.shape[1]):
            acc *= r
            acc += part[:, c]
        out[:, j] = acc
    return out


def limb_columns(fmt: LimbFormat) -> list[tuple[int, slice]]:
    """Return (limb index, numeral columns) pairs, for unpacking limb by limb."""
    return list(enumerate(_column_slices(fmt)))


def _moduli(fmt: LimbFormat) -> list[np.uint64]:
    return [np.uint64(fmt.base)] * (fmt.count - 1) + [np.uint64(fmt.top_modulus)]


def add_limbs(a: NDArray[Any], b: NDArray[Any], fmt: LimbFormat) -> Limbs:
    """Return (a + b) mod radix^m, limb by limb with carries; a and b already reduced."""
    out = np.empty_like(a)
    carry = np.zeros(a.shape[0], dtype=np.uint64)
    for j, modulus in enumerate(_moduli(fmt)):
        total = a[:, j] + b[:, j] + carry
        carry = (total >= modulus).astype(np.uint64)
        total -= carry * modulus
        out[:, j] = total
    # The carry out of the top limb is a multiple of radix^m: dropping it reduces.
    return out


def sub_limbs(a: NDArray[Any], b: NDArray[Any], fmt: LimbFormat) -> Limbs:
    """Return (a - b) mod radix^m, limb by limb with borrows; a and b already reduced."""
    out = np.empty_like(a)
    borrow = np.zeros(a.shape[0], dtype=np.uint64)
    for j, modulus in enumerate(_moduli(fmt)):
        subtrahend = b[:, j] + borrow
        borrow = (a[:, j] < subtrahend).astype(np.uint64)
        out[:, j] = a[:, j] + borrow * modulus - subtrahend
    return out


def to_be_bytes_limbs(limbs: NDArray[Any], base: int, nbytes: int) -> NDArray[np.uint8]:
    """Return every value (limbs of ``base``) as ``nbytes`` big-endian bytes; it must fit."""
    rows = limbs.shape[0]
    words = -(-nbytes // 4)
    # Binary 32-bit words, least significant first: Horner x = x * base + limb, where
    # word * base + carry < 2^32 * 2^31 + 2^32 stays inside 64 bits.
    binary = np.zeros((rows, words), dtype=np.uint64)
    factor = np.uint64(base)
    active = 0
    for j in range(limbs.shape[1] - 1, -1, -1):
        carry = limbs[:, j].copy()
        active = min(active + 1, words)
        for i in range(active):
            t = binary[:, i] * factor + carry
            binary[:, i] = t & _MASK32
            carry = t >> _SHIFT32
    image = binary[:, ::-1].astype(">u4").view(np.uint8).reshape(rows, 4 * words)
    return image[:, 4 * words - nbytes :]


def from_be_bytes_mod_limbs(buf: NDArray[np.uint8], fmt: LimbFormat) -> Limbs:
    """Return NUM(row) mod radix^m as limbs, for every big-endian byte row of ``buf``."""
    rows, nbytes = buf.shape
    pad = -nbytes % 4
    tmp = np.zeros((rows, nbytes + pad), dtype=np.uint8)
    tmp[:, pad:] = buf
    chunks = tmp.view(">u4").astype(np.uint64)
    acc = np.zeros((rows, fmt.count), dtype=np.uint64)
    base = np.uint64(fmt.base)
    # Horner acc = acc * 2^32 + chunk, kept modulo base^count (a multiple of radix^m).
    # With limb < base < 2^31 and carry < 2^33, limb * 2^32 + carry < 2^64.
    for c in range(chunks.shape[1]):
        carry = chunks[:, c].copy()
        for j in range(fmt.count):
            t = (acc[:, j] << _SHIFT32) + carry
            carry = t // base
            acc[:, j] = t - carry * base
    top = acc[:, fmt.count - 1]
    modulus = np.uint64(fmt.top_modulus)
    acc[:, fmt.count - 1] = top - (top // modulus) * modulus
    return acc
