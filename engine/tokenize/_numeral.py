"""Numeral-string arithmetic over whole batches, shared by FF1 and FF3-1.

Halves are uint64 below 2^63, base-R limbs below 2^256, exact Python ints beyond.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from engine.tokenize._limbs import (
    LIMB_LIMIT,
    add_limbs,
    from_be_bytes_mod_limbs,
    limb_columns,
    limb_format,
    pack_limbs,
    sub_limbs,
    to_be_bytes_limbs,
)

__all__ = [
    "FAST_LIMIT",
    "Ints",
    "add_mod",
    "byte_length",
    "from_be_bytes_mod",
    "ilog_floor",
    "min_length",
    "mod_words",
    "numeral_dtype",
    "pack",
    "sub_mod",
    "to_be_bytes",
    "unpack",
]

# A modulus below 2^63 keeps every intermediate of the uint64 path (a + b < 2M, and the
# shift-and-reduce step r * 2^k + chunk with k = 64 - bitlen(M)) inside 64 bits.
FAST_LIMIT: Final = 1 << 63
_HALF_WORD: Final = 1 << 32
_WORD_MASK: Final = (1 << 64) - 1
# Digit tables for unpacking hold at most this many k-digit entries (256 KiB for radix 10).
_TABLE_ENTRIES: Final = 1 << 16

Ints = NDArray[np.uint64] | NDArray[np.object_]
"""One integer per row: uint64 (1-D) below FAST_LIMIT, limbs (2-D) below LIMB_LIMIT, else ints."""


def ilog_floor(radix: int, bound: int) -> int:
    """Return the largest k with radix**k <= bound (exact integer arithmetic)."""
    k, power = 0, radix
    while power <= bound:
        k += 1
        power *= radix
    return k


def min_length(radix: int, domain: int = 1_000_000) -> int:
    """Return the smallest length n >= 2 with radix**n >= domain (SP 800-38G Rev. 1, §5.2)."""
    n, power = 1, radix
    while power < domain or n < 2:
        n += 1
        power *= radix
    return n


def byte_length(radix: int, length: int) -> int:
    """Return ceil(ceil(length * log2(radix)) / 8), computed exactly."""
    # ceil(log2(radix**length)) is the bit length of radix**length - 1, for every radix.
    top: int = radix**length - 1
    return (top.bit_length() + 7) // 8


def numeral_dtype(radix: int) -> type[np.unsignedinteger[Any]]:
    """Return the smallest unsigned dtype that holds every numeral of ``radix``."""
    return np.uint8 if radix <= 256 else np.uint16


def _chunk_digits(radix: int) -> int:
    """Return the most digits whose value fits below FAST_LIMIT."""
    return ilog_floor(radix, FAST_LIMIT - 1)


def _pack_u64(numerals: NDArray[np.integer], radix: int) -> NDArray[np.uint64]:
    # Horner: every partial value is below radix**m <= 2^63, so nothing overflows.
    r = np.uint64(radix)
    acc = numerals[:, 0].astype(np.uint64)
    for j in range(1, numerals.shape[1]):
        acc *= r
        acc += numerals[:, j]
    return acc


def pack(numerals: NDArray[np.integer], radix: int) -> Ints:
    """Return NUM_radix of every row, the first column being the most significant."""
    rows, m = numerals.shape
    if numerals.dtype.kind != "u":
        numerals = numerals.astype(np.uint64)
    if radix**m < FAST_LIMIT:
        return _pack_u64(numerals, radix)
    if radix**m < LIMB_LIMIT:
        return pack_limbs(numerals, limb_format(radix, m))
    k = _chunk_digits(radix)
    acc: NDArray[np.object_] = np.zeros(rows, dtype=object)
    for start in range(0, m, k):
        part = numerals[:, start : start + k]
        scale = radix ** part.shape[1]
        acc = acc * scale + _pack_u64(part, radix).astype(object)
    return acc


def _unpack_u64(values: NDArray[np.uint64], radix: int, m: int, out: NDArray[np.integer]) -> None:
    r = np.uint64(radix)
    rest = values.copy()
    for j in range(m - 1, 0, -1):
        quotient = rest // r
        out[:, j] = rest - quotient * r
        rest = quotient
    out[:, 0] = rest


@functools.cache
def _digit_table(radix: int, k: int) -> NDArray[np.uint32]:
    """Return, for 0 <= x < radix**k, the k numerals of x packed into a uint32 (read-only).

    The numerals sit in the last k bytes of the word's little-endian byte image.
    """
    values = np.arange(radix**k, dtype=np.uint64)
    digits = np.zeros((radix**k, 4), dtype=np.uint8)
    _unpack_u64(values, radix, k, digits[:, 4 - k :])
    table = digits.view("<u4").reshape(-1).astype(np.uint32)
    table.setflags(write=False)
    return table


def _unpack_table(values: NDArray[np.uint64], radix: int, m: int, k: int) -> NDArray[np.uint8]:
    # One division per k numerals and a table lookup, instead of a division per numeral.
    table = _digit_table(radix, k)
    chunks = -(-m // k)
    words = np.empty((values.shape[0], chunks), dtype="<u4")
    scale = np.uint64(radix**k)
    rest = values
    for j in range(chunks - 1, 0, -1):
        quotient = rest // scale
        words[:, j] = np.take(table, rest - quotient * scale)
        rest = quotient
    words[:, 0] = np.take(table, rest)
    wide = words.view(np.uint8).reshape(values.shape[0], chunks, 4)[:, :, 4 - k :]
    return wide.reshape(values.shape[0], chunks * k)[:, chunks * k - m :]


def unpack(values: Ints, radix: int, m: int) -> NDArray[np.unsignedinteger[Any]]:
    """Return STR^m_radix of every value (inverse of ``pack``); values must be < radix**m."""
    if values.ndim == 2:
        wide = np.empty((values.shape[0], m), dtype=numeral_dtype(radix))
        for j, cols in limb_columns(limb_format(radix, m)):
            wide[:, cols] = unpack(values[:, j], radix, cols.stop - cols.start)
        return wide
    if values.dtype != object:
        k = min(ilog_floor(radix, _TABLE_ENTRIES), 4, m)
        if k >= 2:
            return _unpack_table(values.astype(np.uint64, copy=False), radix, m, k)
    out = np.empty((values.shape[0], m), dtype=numeral_dtype(radix))
    if values.dtype != object:
        _unpack_u64(values.astype(np.uint64, copy=False), radix, m, out)
        return out
    k = _chunk_digits(radix)
    rest = values
    end = m
    while end > 0:
        width = min(k, end)
        scale = radix**width
        low = (rest % scale).astype(np.uint64)
        rest = rest // scale
        _unpack_u64(low, radix, width, out[:, end - width : end])
        end -= width
    return out


def to_be_bytes(values: Ints, nbytes: int, radix: int) -> NDArray[np.uint8]:
    """Return every value as ``nbytes`` big-endian bytes, shape (rows, nbytes)."""
    rows = values.shape[0]
    if values.ndim == 2:
        return to_be_bytes_limbs(values, limb_format(radix, 1).base, nbytes)
    if values.dtype != object and nbytes >= 8:
        out = np.zeros((rows, nbytes), dtype=np.uint8)
        out[:, nbytes - 8 :] = values.astype(">u8").view(np.uint8).reshape(rows, 8)
        return out
    if values.dtype != object:
        full = values.astype(">u8").view(np.uint8).reshape(rows, 8)
        return full[:, 8 - nbytes :]
    # Exact integers: peel off 64-bit words (object-array ops), then lay them out in numpy.
    count = -(-nbytes // 8)
    words = np.empty((rows, count), dtype=">u8")
    rest: NDArray[Any] = values
    for j in range(count - 1, -1, -1):
        words[:, j] = (rest & _WORD_MASK).astype(np.uint64)
        rest = rest >> 64
    return words.view(np.uint8).reshape(rows, 8 * count)[:, 8 * count - nbytes :]


def _words(buf: NDArray[np.uint8]) -> list[tuple[NDArray[np.uint64], int]]:
    """Split big-endian byte rows into 64-bit words, most significant first."""
    rows, nbytes = buf.shape
    pad = -nbytes % 8
    tmp = np.zeros((rows, nbytes + pad), dtype=np.uint8)
    tmp[:, pad:] = buf
    words = tmp.view(">u8").astype(np.uint64)
    return [(np.ascontiguousarray(words[:, j]), 64) for j in range(words.shape[1])]


def _rem(x: NDArray[np.uint64], m: np.uint64) -> NDArray[np.uint64]:
    """Return x mod m; numpy divides by a scalar much faster than it takes a remainder."""
    product = x // m
    product *= m
    np.subtract(x, product, out=product)
    return product


def mod_words(words: Sequence[tuple[NDArray[np.uint64], int]], modulus: int) -> NDArray[np.uint64]:
    """Return NUM mod ``modulus`` (< FAST_LIMIT) of a number given as (word, bit width) pairs.

    The pairs are most significant first; a word's value must be below 2^width.
    """
    m = np.uint64(modulus)
    acc = _rem(words[0][0], m)
    if modulus < _HALF_WORD:
        # acc * (2^width mod M) + (word mod M) < M^2 + M < 2^64.
        for word, width in words[1:]:
            acc *= np.uint64(pow(2, width, modulus))
            acc += _rem(word, m)
            acc = _rem(acc, m)
        return acc
    # Horner over windows of at most `step` bits: acc < M <= 2^(64 - step), so shifting acc
    # left by `step` bits and or-ing in the window stays below 2^64.
    step = 64 - modulus.bit_length()
    for word, width in words[1:]:
        pos = width
        while pos > 0:
            take = min(step, pos)
            pos -= take
            # take <= step <= 62, so the mask is always needed.
            piece = word >> np.uint64(pos) if pos else word.copy()
            piece &= np.uint64((1 << take) - 1)
            acc <<= np.uint64(take)
            acc |= piece
            acc = _rem(acc, m)
    return acc


def from_be_bytes_mod(buf: NDArray[np.uint8], radix: int, m: int) -> Ints:
    """Return NUM(row) mod radix**m for every big-endian byte row of ``buf``."""
    modulus = radix**m
    if FAST_LIMIT <= modulus < LIMB_LIMIT:
        return from_be_bytes_mod_limbs(buf, limb_format(radix, m))
    words = _words(buf)
    if modulus < FAST_LIMIT:
        return mod_words(words, modulus)
    exact: NDArray[Any] = words[0][0].astype(object)
    for word, _ in words[1:]:
        exact = (exact << 64) | word.astype(object)
    reduced: NDArray[np.object_] = exact % modulus
    return reduced


def add_mod(a: Ints, b: Ints, radix: int, m: int) -> Ints:
    """Return (a + b) mod radix**m elementwise, for a, b already reduced."""
    modulus = radix**m
    if a.ndim == 2:
        return add_limbs(a, b, limb_format(radix, m))
    if modulus >= FAST_LIMIT:
        exact: Ints = (a + b) % modulus
        return exact
    # a + b < 2M < 2^64. Where a + b >= M, (a + b) - M is the smaller of the two; elsewhere
    # the subtraction wraps to a value above 2^64 - M > a + b.
    total: NDArray[np.uint64] = a + b
    reduced: NDArray[np.uint64] = np.minimum(total, total - np.uint64(modulus))
    return reduced


def sub_mod(a: Ints, b: Ints, radix: int, m: int) -> Ints:
    """Return (a - b) mod radix**m elementwise, for a, b already reduced."""
    modulus = radix**m
    if a.ndim == 2:
        return sub_limbs(a, b, limb_format(radix, m))
    if modulus >= FAST_LIMIT:
        exact: Ints = (a - b) % modulus
        return exact
    # Where a >= b, a - b < M and adding M gives a larger value; where a < b, a - b wraps
    # to 2^64 - (b - a) and adding M wraps back to the smaller, correct residue.
    diff: NDArray[np.uint64] = a - b
    reduced: NDArray[np.uint64] = np.minimum(diff, diff + np.uint64(modulus))
    return reduced
