"""The shared slot engine: tokenize marked characters of a batch in place, by class.

A format marks which characters of each value are tokenized and gives each a character
class (digits, letters of one script and case, ...). Every row's marked characters form a
mixed-radix numeral string; the engine permutes it with one of three rules:

* uniform radix r <= 36 and r^n >= 10^6: the FPE cipher directly (FF1 or FF3-1);
* mixed radices, product D >= 10^6: the value's integer in [0, D) is written as L numerals
  of a radix R (from a fixed grid in [2^6, 2^12]) with R^L >= D as tight as possible, and
  the cipher (radix R) is cycle-walked into [0, D);
* product D < 10^6 (below NIST's FPE minimum): the small-domain keyed permutation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from engine.tokenize._formats.bytegrid import ascii_codes
from engine.tokenize._formats.keyed import NIST_MIN_DOMAIN, ColumnKeys

__all__ = ["BoolArray", "CharMap", "Codes", "from_codes", "permute", "to_codes", "transform"]

Codes = NDArray[np.uint32]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
_U64_LIMIT = 10**19


def to_codes(values: Sequence[str] | NDArray[np.object_]) -> Codes:
    """Return the code points of ``values`` as a (rows, width) array, NUL padded."""
    if isinstance(values, np.ndarray):
        fast = ascii_codes(values)
        if fast is not None:
            return fast
    arr = np.array(list(values), dtype=str)
    if arr.shape[0] == 0:
        return np.zeros((0, 1), dtype=np.uint32)
    width = max(1, arr.dtype.itemsize // 4)
    arr = arr.astype(f"<U{width}")
    return arr.view(np.uint32).reshape(arr.shape[0], width).copy()


def from_codes(codes: NDArray[Any]) -> NDArray[np.object_]:
    """Return one str per row of a code-point array (trailing NULs dropped)."""
    width = codes.shape[1]
    flat = np.ascontiguousarray(codes, dtype=np.uint32).view(f"<U{width}").reshape(-1)
    return flat.astype(object)


class CharMap:
    """Character classes: code point -> (class, numeral) and back, for whole arrays."""

    __slots__ = ("_bmp_cls", "_bmp_num", "_cls", "_flat", "_num", "_points", "_start", "radix")

    def __init__(self, classes: Sequence[str | range]) -> None:
        chunks = [
            np.fromiter((ord(c) for c in cl), dtype=np.uint32)
            if isinstance(cl, str)
            else np.arange(cl.start, cl.stop, dtype=np.uint32)
            for cl in classes
        ]
        sizes = np.array([c.shape[0] for c in chunks], dtype=np.int64)
        self.radix = sizes
        self._start = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self._flat = np.concatenate(chunks)
        cls = np.repeat(np.arange(len(chunks), dtype=np.int64), sizes)
        num = np.concatenate([np.arange(s, dtype=np.int64) for s in sizes])
        order = np.argsort(self._flat, kind="stable")
        if np.unique(self._flat).shape[0] != self._flat.shape[0]:
            raise ValueError("classes: a character belongs to two classes")
        self._points = self._flat[order]
        self._cls = cls[order]
        self._num = num[order]
        # A direct table for the Basic Multilingual Plane (one index per character).
        bmp = self._points < 0x10000
        self._bmp_cls = np.full(0x10000, -1, dtype=np.int64)
        self._bmp_num = np.zeros(0x10000, dtype=np.int64)
        self._bmp_cls[self._points[bmp]] = self._cls[bmp]
        self._bmp_num[self._points[bmp]] = self._num[bmp]

    def lookup(self, codes: Codes) -> tuple[IntArray, IntArray]:
        """Return (class, numeral) per character; class -1 for characters of no class."""
        if codes.size == 0 or int(codes.max()) < 0x10000:
            return self._bmp_cls[codes], self._bmp_num[codes]
        idx = np.searchsorted(self._points, codes)
        idx = np.minimum(idx, self._points.shape[0] - 1)
        hit = self._points[idx] == codes
        return np.where(hit, self._cls[idx], -1), np.where(hit, self._num[idx], 0)

    def chars(self, cls: IntArray, num: IntArray) -> Codes:
        """Return the code points of (class, numeral) pairs."""
        out: Codes = self._flat[self._start[cls] + num]
        return out


def transform(
    keys: ColumnKeys,
    part: str,
    codes: Codes,
    mask: BoolArray,
    charmap: CharMap,
    *,
    decrypt: bool,
    context: NDArray[np.uint64] | None = None,
) -> tuple[Codes, BoolArray]:
    """Permute the marked characters of every row in place.

    Args:
        keys: The column's keys.
        part: The format part (domain separation of tweaks).
        codes: (rows, width) code points.
        mask: (rows, width) True where a character is tokenized; each must have a class.
        charmap: The character classes.
        decrypt: Invert instead of tokenize.
        context: Optional per-row 64-bit value bound into the token (kept parts).

    Returns:
        (new codes, rows the scheme cannot handle (too long for FF3-1)).
    """
    rows = codes.shape[0]
    out = codes.copy()
    if rows == 0 or not mask.any():
        return out, np.zeros(rows, dtype=bool)
    # Only the marked characters are looked up: hit k is the slot-th marked one of its row.
    # (Flat indices: one gather or scatter per array.)
    hits = np.flatnonzero(mask)
    rows_hit = hits // codes.shape[1]
    count = mask.sum(axis=1)
    width = int(count.max())
    row_start = np.cumsum(count) - count
    slots = rows_hit * width + (np.arange(hits.shape[0]) - row_start[rows_hit])
    flat_out = out.reshape(-1)
    cls_hit, num_hit = charmap.lookup(flat_out[hits])
    slot_cls = np.zeros(rows * width, dtype=np.int64)
    slot_num = np.zeros(rows * width, dtype=np.int64)
    slot_cls[slots] = cls_hit
    slot_num[slots] = num_hit
    valid = np.arange(width)[None, :] < count[:, None]
    radix = np.where(valid, charmap.radix[slot_cls.reshape(rows, width)], 1)
    new_num, failed = permute(
        keys, part, slot_num.reshape(rows, width), radix, decrypt=decrypt, context=context
    )
    flat_out[hits] = charmap.chars(cls_hit, np.ascontiguousarray(new_num).reshape(-1)[slots])
    return out, failed


def compact_positions(mask: BoolArray, width: int) -> IntArray:
    """Return (rows, width): the column of each row's j-th marked character (0 padded)."""
    rows_hit, cols_hit = np.nonzero(mask)
    slot = (np.cumsum(mask, axis=1) - 1)[rows_hit, cols_hit]
    order = np.zeros((mask.shape[0], width), dtype=np.int64)
    order[rows_hit, slot] = cols_hit
    return order


def permute(
    keys: ColumnKeys,
    part: str,
    num: IntArray,
    radix: IntArray,
    *,
    decrypt: bool,
    context: NDArray[np.uint64] | None = None,
) -> tuple[IntArray, BoolArray]:
    """Permute mixed-radix numeral rows (radix 1 marks padding after a row's end)."""
    rows = num.shape[0]
    out = num.copy()
    failed = np.zeros(rows, dtype=bool)
    offsets = None
    if context is not None:
        offsets = keys.offsets(part, context, num.shape[1]) % radix
        if not decrypt:
            out = (out + offsets) % radix
    patterns, inverse = _group_rows(radix)
    small: dict[int, list[int]] = {}
    direct: dict[tuple[int, int], list[int]] = {}
    mixed: list[int] = []
    sizes: list[int] = []
    for p, pattern in enumerate(patterns.tolist()):
        real = [r for r in pattern if r > 1]
        size = 1
        for r in real:
            size *= r
        sizes.append(size)
        if size < NIST_MIN_DOMAIN:
            small.setdefault(size, []).append(p)
        elif len(set(real)) == 1 and real[0] <= 36:
            direct.setdefault((real[0], len(real)), []).append(p)
        else:
            mixed.append(p)
    for size, pats in small.items():
        sel = np.flatnonzero(np.isin(inverse, pats))
        out[sel] = _small(keys, part, out[sel], radix[sel], size, decrypt=decrypt)
    for (r, n), pats in direct.items():
        sel = np.flatnonzero(np.isin(inverse, pats))
        cipher = keys.cipher(r)
        if n > cipher.maxlen:
            failed[sel] = True
            continue
        block = np.ascontiguousarray(out[sel][:, :n])
        tweak = keys.tweak(part + "/direct")
        fn = cipher.decrypt_numerals if decrypt else cipher.encrypt_numerals
        out[np.ix_(sel, np.arange(n))] = fn(block, tweak)
    if mixed:
        sel = np.flatnonzero(np.isin(inverse, mixed))
        row_sizes = [sizes[p] for p in inverse[sel].tolist()]
        res, bad = _mixed(keys, part, out[sel], radix[sel], row_sizes, decrypt=decrypt)
        out[sel] = res
        failed[sel] = bad
    if offsets is not None and decrypt:
        out = (out - offsets) % radix
    return out, failed


def _group_rows(radix: IntArray) -> tuple[IntArray, IntArray]:
    """Return (distinct rows, row -> index of its distinct row), sorting bytes, not rows."""
    present = np.zeros(int(radix.max()) + 1, dtype=np.int64)
    present[radix.reshape(-1)] = 1
    if present.sum() >= 255:
        patterns, inverse = np.unique(radix, axis=0, return_inverse=True)
        return patterns, inverse.reshape(-1)
    # Ids 1..254 in one byte each: a row becomes a fixed-width byte string with no NULs.
    ids = np.cumsum(present).astype(np.uint8)[radix]
    keys = np.ascontiguousarray(ids).view(f"S{radix.shape[1]}").reshape(-1)
    _, first, codes = np.unique(keys, return_index=True, return_inverse=True)
    return radix[first], codes.reshape(-1).astype(np.int64)


def _to_int(num: IntArray, radix: IntArray, big: bool) -> NDArray[Any]:
    acc: NDArray[Any] = np.zeros(num.shape[0], dtype=object if big else np.uint64)
    rad = radix.astype(object) if big else radix.astype(np.uint64)
    val = num.astype(object) if big else num.astype(np.uint64)
    for j in range(num.shape[1]):
        acc = acc * rad[:, j] + val[:, j]
    return acc


def _from_int(x: NDArray[Any], radix: IntArray, big: bool) -> IntArray:
    out = np.zeros(radix.shape, dtype=np.int64)
    rad = radix.astype(object) if big else radix.astype(np.uint64)
    for j in reversed(range(radix.shape[1])):
        out[:, j] = (x % rad[:, j]).astype(np.int64)
        x = x // rad[:, j]
    return out


def _small(
    keys: ColumnKeys, part: str, num: IntArray, radix: IntArray, size: int, *, decrypt: bool
) -> IntArray:
    forward, inverse = keys.prp(part, size)
    x = _to_int(num, radix, False).astype(np.int64)
    y = (inverse if decrypt else forward)[x]
    return _from_int(y.astype(np.uint64), radix, False)


# Radices of the mixed path: 49 values log-spaced from 2^6 to 2^12 (1/8 bit apart), so
# some R^L lands just above any domain size (R^L / D < 1.63, 1.13 on average) while few
# cipher objects are ever built.
_MIXED_RADICES: Final = tuple(round(2 ** (6 + j / 8)) for j in range(49))


def _base(size: int) -> tuple[int, int]:
    """Return (R, L), L >= 2, with R^L >= size and R^L / size the smallest over the grid."""
    best = (math.inf, 0, 0)
    for r in _MIXED_RADICES:
        length = max(2, math.ceil(math.log(size) / math.log(r)) - 1)
        while r**length < size:
            length += 1
        waste = length * math.log2(r) - math.log2(size)
        if waste < best[0]:
            best = (waste, r, length)
    return best[1], best[2]


def _numerals(x: NDArray[Any], radix: int, length: int) -> IntArray:
    out = np.zeros((x.shape[0], length), dtype=np.int64)
    for k in reversed(range(length)):
        out[:, k] = (x % radix).astype(np.int64)
        x = x // radix
    return out


def _mixed(
    keys: ColumnKeys,
    part: str,
    num: IntArray,
    radix: IntArray,
    sizes: list[int],
    *,
    decrypt: bool,
) -> tuple[IntArray, BoolArray]:
    rows = num.shape[0]
    big = max(sizes) > _U64_LIMIT
    bound: NDArray[Any] = np.array(sizes, dtype=object if big else np.uint64)
    # Each row's integer in [0, D) is written as L numerals of a radix R from a fixed grid,
    # chosen so that R^L >= D is as tight as possible (R^L / D about 1.13): cycle walking
    # then rarely takes a second step.
    bases = {size: _base(size) for size in set(sizes)}
    shapes = np.array([bases[size] for size in sizes], dtype=np.int64).reshape(rows, 2)
    x = _to_int(num, radix, big)
    tweak = keys.tweak(part + "/mixed")
    failed = np.zeros(rows, dtype=bool)
    for r, length in np.unique(shapes, axis=0).tolist():
        sel = np.flatnonzero((shapes[:, 0] == r) & (shapes[:, 1] == length))
        cipher = keys.cipher(r)
        if length > cipher.maxlen:
            failed[sel] = True
            continue
        fn = cipher.decrypt_numerals if decrypt else cipher.encrypt_numerals
        digits = _numerals(x[sel], r, length)
        pending = np.arange(sel.shape[0])
        # Cycle walking: re-apply the cipher until the value falls back inside [0, D).
        while pending.shape[0]:
            digits[pending] = fn(np.ascontiguousarray(digits[pending]), tweak)
            value = _to_int(digits[pending], np.full((pending.shape[0], length), r), big)
            outside = np.asarray(value >= bound[sel[pending]], dtype=bool)
            pending = pending[outside]
        x[sel] = _to_int(digits, np.full(digits.shape, r), big)
    return _from_int(x, radix, big), failed
