"""Payment card numbers: middle digits tokenized, Luhn rule of the token chosen on purpose.

Let V be the middles that make the PAN Luhn-valid and I the rest. By default a token is
pi_I(sigma(m)): sigma is a fixed public bijection from V onto I_1 (the middles whose Luhn
sum is 1 mod 10; it changes the last middle digit so the sum moves by +1) and pi_I is FF1
cycle-walked over the full middle domain restricted to I (expected 1.11 steps). Tokens
then always fail the Luhn check. On request (``pan_luhn_valid``) the token is pi_V(m),
FF1 cycle-walked restricted to V (expected 10 steps), so tokens pass it. Both are exact
bijections, so both are reversible.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from engine.tokenize._formats.base import Objects, flag, new_reasons, none_mask
from engine.tokenize._formats.bytegrid import ByteBatch
from engine.tokenize._formats.engine import from_codes, to_codes
from engine.tokenize._formats.keyed import ColumnKeys
from engine.tokenize._formats.options import FormatOptions

__all__ = ["kept_digits", "luhn_residue", "pan"]

IntArray = NDArray[np.int64]
Digits = NDArray[np.uint8]
# The Luhn contribution of a doubled digit, and its inverse permutation.
_DOUBLE: Final = np.array([0, 2, 4, 6, 8, 1, 3, 5, 7, 9], dtype=np.uint8)
_UNDOUBLE: Final = np.argsort(_DOUBLE).astype(np.uint8)
_MIN_MIDDLE: Final = 6  # 10^6: NIST SP 800-38G Rev. 1 minimum domain.
# The bytes of the fast path: ASCII digits, space and dash.
_PAN_BYTES: Final = np.isin(np.arange(256), np.frombuffer(b"0123456789 -", dtype=np.uint8))


def _doubled(n: int) -> NDArray[np.bool_]:
    # Luhn doubles every second digit counting from the check digit (rightmost, undoubled).
    out: NDArray[np.bool_] = (n - 1 - np.arange(n)) % 2 == 1
    return out


def _luhn_sum(digits: NDArray[np.integer[Any]], doubled: NDArray[np.bool_]) -> IntArray:
    d = digits.astype(np.uint8, copy=False)
    plain = d[:, ~doubled].sum(axis=1, dtype=np.int64)
    out: IntArray = plain + _DOUBLE[d[:, doubled]].sum(axis=1, dtype=np.int64)
    return out


def luhn_residue(digits: NDArray[np.integer[Any]]) -> IntArray:
    """Return the Luhn sum mod 10 of every row of a (rows, n) digit array (0 = valid)."""
    out: IntArray = _luhn_sum(digits, _doubled(digits.shape[1])) % 10
    return out


def kept_digits(n: int, keep_first: int, keep_last: int) -> tuple[int, int]:
    """Return (first, last) digits kept for a PAN of n digits, so >= 6 are tokenized."""
    first = max(0, min(keep_first, n - keep_last - _MIN_MIDDLE))
    return first, keep_last


def _set(reasons: Objects, rows: NDArray[np.integer[Any]], reason: str) -> None:
    hit = rows[none_mask(reasons[rows])]
    reasons[hit] = reason


def _validate(codes: NDArray[np.uint32], reasons: Objects) -> tuple[Digits, NDArray[np.bool_]]:
    """Flag malformed rows; return (digit values, digit mask) as uint8 arrays."""
    flag(reasons, (codes > 127).any(axis=1), "pan: non-ASCII characters")
    low = codes if codes.dtype == np.uint8 else np.minimum(codes, 255).astype(np.uint8)
    d8 = low - np.uint8(ord("0"))
    digit = d8 < 10
    pad = codes == 0
    if not (digit | pad).all():
        space, dash = codes == ord(" "), codes == ord("-")
        sep = space | dash
        flag(reasons, (~(digit | sep | pad)).any(axis=1), "pan: invalid characters")
        flag(reasons, space.any(axis=1) & dash.any(axis=1), "pan: mixed separators")
        length = (~pad).sum(axis=1)
        last = np.take_along_axis(sep, np.maximum(length - 1, 0)[:, None], axis=1)[:, 0]
        doubled = (sep[:, 1:] & sep[:, :-1]).any(axis=1)
        flag(reasons, sep[:, 0] | last | doubled, "pan: bad separators")
    count = digit.sum(axis=1)
    outside = (count < 12) | (count > 19)
    if not outside.any():
        return d8, digit
    for n in np.unique(count[outside & none_mask(reasons)]).tolist():
        flag(reasons, count == n, f"pan: length {n} outside 12-19")
    return d8, digit


def pan(
    values: Objects, keys: ColumnKeys, opts: FormatOptions, decrypt: bool
) -> tuple[Objects, Objects]:
    """Tokenize (or detokenize) PANs of 12-19 digits; spaces or dashes kept in place."""
    rows = values.shape[0]
    reasons = new_reasons(rows)
    out = new_reasons(rows)
    if rows == 0:
        return out, reasons
    try:
        batch = ByteBatch(values)
    except ValueError:
        return _pan_codes(values, keys, opts, decrypt)
    # Fast path: ASCII rows of digits, spaces and dashes, as one (rows, length) byte grid
    # per length. Every other row (letters, NULs, non-ASCII) takes the code-point path;
    # both apply the same rules row by row, so the split never changes a result.
    slow = ~batch.ascii
    done = np.zeros(rows, dtype=bool)
    data = batch.data.copy()
    for length in np.flatnonzero(np.bincount(batch.lengths[batch.ascii])).tolist():
        sel = np.flatnonzero(batch.ascii & (batch.lengths == length))
        grid = batch.rows(sel, length)
        plain = _PAN_BYTES[grid].all(axis=1)
        if not plain.all():
            slow[sel[~plain]] = True
            sel, grid = sel[plain], grid[plain]
        if sel.shape[0] == 0:
            continue
        sub = new_reasons(sel.shape[0])
        batch.put(data, sel, _tokenize(grid, sub, keys, opts, decrypt=decrypt))
        reasons[sel] = sub
        done[sel] = True
    hard = np.flatnonzero(slow)
    if hard.shape[0]:
        out[hard], reasons[hard] = _pan_codes(values[hard], keys, opts, decrypt)
    good = done & none_mask(reasons)
    if good.all():
        return batch.strings(data), reasons
    if good.any():
        out[good] = batch.strings(data)[good]
    return out, reasons


def _pan_codes(
    values: Objects, keys: ColumnKeys, opts: FormatOptions, decrypt: bool
) -> tuple[Objects, Objects]:
    """The code-point path: any str values (NUL padded to one width)."""
    rows = values.shape[0]
    reasons = new_reasons(rows)
    out = new_reasons(rows)
    codes = _tokenize(to_codes(values), reasons, keys, opts, decrypt=decrypt)
    ok = np.flatnonzero(none_mask(reasons))
    if ok.shape[0]:
        out[ok] = from_codes(codes[ok])
    return out, reasons


def _tokenize(
    codes: NDArray[Any], reasons: Objects, keys: ColumnKeys, opts: FormatOptions, *, decrypt: bool
) -> NDArray[Any]:
    """Validate a (rows, width) character grid (0 = padding) and tokenize its valid rows.

    Sets ``reasons`` of the rejected rows; returns the grid with valid rows tokenized
    (``codes`` itself, changed in place, when every row is valid).
    """
    # Validation on the code-point array: one numpy pass per rule.
    d8, digit = _validate(codes, reasons)
    ok = np.flatnonzero(none_mask(reasons))
    if ok.shape[0] == 0:
        return codes
    everything = ok.shape[0] == codes.shape[0]
    work = codes if everything else codes[ok]
    mask = digit if everything else digit[ok]
    d8 = d8 if everything else d8[ok]
    # Group by layout (where the digits are): few layouts, one fixed digit position list each.
    packed = np.ascontiguousarray(np.packbits(mask, axis=1))
    layouts = packed.view(f"V{packed.shape[1]}").reshape(-1)
    if (packed == packed[0]).all():
        first, layout_of = np.zeros(1, dtype=np.int64), np.zeros(ok.shape[0], dtype=np.int64)
    else:
        _, first, layout_of = np.unique(layouts, return_index=True, return_inverse=True)
    layout_of = layout_of.reshape(-1)
    zero = np.uint32(ord("0")).astype(codes.dtype)
    for g, row in enumerate(first.tolist()):
        sel = np.flatnonzero(layout_of == g) if first.shape[0] > 1 else np.arange(ok.shape[0])
        pos = np.flatnonzero(mask[row])
        contiguous = pos[-1] == pos.shape[0] - 1
        digits = d8[sel, : pos.shape[0]] if contiguous else d8[sel[:, None], pos[None, :]]
        new, bad = _group(keys, opts, digits, decrypt=decrypt)
        new_codes = new.astype(codes.dtype) + zero
        if contiguous:
            work[sel, : pos.shape[0]] = new_codes
        else:
            work[sel[:, None], pos[None, :]] = new_codes
        _set(reasons, ok[sel[bad]], _bad_reason(opts, decrypt))
    if everything:
        return work
    result = codes.copy()
    result[ok] = work
    return result


def _bad_reason(opts: FormatOptions, decrypt: bool) -> str:
    return "pan: not a token" if decrypt else "pan: fails Luhn"


def _group(
    keys: ColumnKeys, opts: FormatOptions, digits: Digits, *, decrypt: bool
) -> tuple[Digits, NDArray[np.bool_]]:
    """Tokenize one group of PANs with n digits; returns (digits, rows rejected)."""
    n = digits.shape[1]
    first, last = kept_digits(n, opts.pan_keep_first, opts.pan_keep_last)
    stop = n - last
    residue = luhn_residue(digits)
    want_valid = opts.pan_luhn_valid
    # Inputs must pass Luhn; tokens must fail it (or pass it, with pan_luhn_valid).
    bad = ((residue == 0) != want_valid) if decrypt else residue != 0
    work = digits[~bad] if bad.any() else digits
    # The kept digits as one decimal integer (at most 14 digits: no overflow), then n.
    context = np.zeros(work.shape[0], dtype=np.uint64)
    for j in [*range(first), *range(stop, n)]:
        context *= np.uint64(10)
        context += work[:, j]
    context = context * np.uint64(32) + np.uint64(n)
    walker = _Walker(keys, work, first, stop, context)
    dbl = bool(_doubled(n)[stop - 1])
    good = np.ones(work.shape[0], dtype=bool)
    if not decrypt:
        middle = work[:, first:stop]
        start = middle if want_valid else _sigma(middle, dbl, +1)
        result = walker.walk(start, in_valid=want_valid, decrypt=False)
    else:
        result = walker.walk(work[:, first:stop], in_valid=want_valid, decrypt=True)
        if not want_valid:
            # Only images of sigma (Luhn sum 1) are tokens of Luhn-valid PANs.
            good = walker.residue(result) == 1
            result = _sigma(result, dbl, -1)
    bad[np.flatnonzero(~bad)[~good]] = True
    out = digits.copy()
    if not bad.any():
        out[:, first:stop] = result
    else:
        out[np.flatnonzero(~bad)[:, None], np.arange(first, stop)[None, :]] = result[good]
    return out, bad


def _sigma(middle: Digits, doubled: bool, step: int) -> Digits:
    """Shift the Luhn sum by ``step`` by changing the last middle digit (a bijection)."""
    out = middle.copy()
    last = middle[:, -1]
    if doubled:
        out[:, -1] = _UNDOUBLE[(_DOUBLE[last].astype(np.int64) + step) % 10]
    else:
        out[:, -1] = (last.astype(np.int64) + step) % 10
    return out


class _Walker:
    """Cycle walking of P = FF1 o W over the middle domain, restricted to V or to I."""

    def __init__(
        self, keys: ColumnKeys, digits: Digits, first: int, stop: int, context: Any
    ) -> None:
        self._cipher = keys.cipher(10)
        self._tweak = keys.tweak("pan")
        n = digits.shape[1]
        self._middle_doubled = _doubled(n)[first:stop]
        kept = digits.copy()
        kept[:, first:stop] = 0
        # The Luhn contribution of the kept digits, computed once.
        self._fixed = luhn_residue(kept)
        # W: keyed digit-wise offsets binding the kept digits (BIN, last four) into the token.
        self._offsets = (keys.offsets16("pan", context, stop - first) % 10).astype(np.uint8)

    def residue(self, middle: Digits, rows: IntArray | None = None) -> IntArray:
        """Return the Luhn residue of the PANs with their middles replaced."""
        fixed = self._fixed if rows is None else self._fixed[rows]
        out: IntArray = (fixed + _luhn_sum(middle, self._middle_doubled)) % 10
        return out

    def walk(self, start: Digits, *, in_valid: bool, decrypt: bool) -> Digits:
        """Apply P (or its inverse) until each row lands in V (in_valid) or in I."""
        x = self._step(start, None, decrypt=decrypt)
        pending = np.flatnonzero((self.residue(x) == 0) != in_valid)
        while pending.shape[0]:
            x[pending] = self._step(x[pending], pending, decrypt=decrypt)
            valid = self.residue(x[pending], pending) == 0
            pending = pending[valid != in_valid]
        return x

    def _step(self, x: Digits, rows: IntArray | None, *, decrypt: bool) -> Digits:
        off = self._offsets if rows is None else self._offsets[rows]
        if decrypt:
            plain = self._cipher.decrypt_numerals(np.ascontiguousarray(x), self._tweak)
            out: Digits = (plain + np.uint8(10) - off) % np.uint8(10)
            return out
        shifted = np.ascontiguousarray((x + off) % np.uint8(10))
        result: Digits = self._cipher.encrypt_numerals(shifted, self._tweak)
        return result
