"""US Social Security numbers and phone numbers: digits tokenized in place."""

from __future__ import annotations

from typing import Final

import numpy as np

from engine.tokenize._formats.alphabets import DIGITS
from engine.tokenize._formats.base import Objects, flag, new_reasons, none_mask, series
from engine.tokenize._formats.bytegrid import ByteBatch
from engine.tokenize._formats.engine import CharMap, from_codes, permute, to_codes, transform
from engine.tokenize._formats.keyed import ColumnKeys
from engine.tokenize._formats.options import FormatOptions

__all__ = ["DIGIT_MAP", "apply_mask", "phone", "ssn"]

DIGIT_MAP: Final = CharMap([DIGITS])
_NON_ASCII: Final = r"[^\x00-\x7f]"
_SSN_LAYOUT: Final = r"[0-9]{3}-[0-9]{2}-[0-9]{4}|[0-9]{9}"
_CC: Final = r"^((?:\+|00)[0-9]{1,3}[-. ])"
_CC_TEST: Final = r"^(?:\+|00)[0-9]{1,3}[-. ]"
_PHONE: Final = (
    r"(?:(?:\+|00)[0-9]{1,3}[-. ])?(?:\([0-9]{1,4}\) ?)?[0-9]+(?:[-. ][0-9]+)*(?:x[0-9]{1,6})?"
)


def apply_mask(
    values: Objects,
    reasons: Objects,
    keys: ColumnKeys,
    part: str,
    *,
    decrypt: bool,
    prefix: np.ndarray | None = None,
) -> Objects:
    """Tokenize the ASCII digits of the rows without a reason (after ``prefix`` chars)."""
    out = new_reasons(values.shape[0])
    ok = np.flatnonzero(none_mask(reasons))
    if ok.shape[0] == 0:
        return out
    codes = to_codes(values[ok])
    mask = (codes >= ord("0")) & (codes <= ord("9"))
    if prefix is not None:
        mask &= np.arange(codes.shape[1])[None, :] >= prefix[ok][:, None]
    new, failed = transform(keys, part, codes, mask, DIGIT_MAP, decrypt=decrypt)
    out[ok] = from_codes(new)
    flag(reasons, np.isin(np.arange(values.shape[0]), ok[failed]), f"{part}: too long")
    out[~none_mask(reasons)] = None
    return out


def ssn(
    values: Objects, keys: ColumnKeys, opts: FormatOptions, decrypt: bool
) -> tuple[Objects, Objects]:
    """Tokenize (or detokenize) SSNs ``ddd-dd-dddd`` or ``ddddddddd``, dashes kept."""
    rows = values.shape[0]
    try:
        batch = ByteBatch(values)
    except ValueError:
        return _ssn_text(values, keys, opts, decrypt)
    # Fast path: ASCII rows of the two layouts, as (rows, 9) digit grids. Every other row
    # takes the text path; both apply the same rules row by row.
    reasons = new_reasons(rows)
    out = new_reasons(rows)
    slow = np.ones(rows, dtype=bool)
    tokenized = np.zeros(rows, dtype=bool)
    data = batch.data.copy()
    for length, digit_cols in ((9, _PLAIN_COLS), (11, _DASHED_COLS)):
        sel = np.flatnonzero(batch.ascii & (batch.lengths == length))
        if sel.shape[0] == 0:
            continue
        grid = batch.rows(sel, length)
        digits = grid[:, digit_cols] - np.uint8(ord("0"))
        fits = (digits < 10).all(axis=1)
        if length == 11:
            fits &= (grid[:, 3] == ord("-")) & (grid[:, 6] == ord("-"))
        sel, grid, digits = sel[fits], grid[fits], digits[fits]
        slow[sel] = False
        good = np.ones(sel.shape[0], dtype=bool)
        if not decrypt:
            good = _ssn_rules(digits, reasons, sel)
        sel, grid, digits = sel[good], grid[good], digits[good]
        if sel.shape[0] == 0:
            continue
        radix = np.full(digits.shape, 10, dtype=np.int64)
        # The same call ``transform`` makes for nine digits of one class.
        new, _ = permute(keys, "ssn", digits.astype(np.int64), radix, decrypt=decrypt)
        grid[:, digit_cols] = new.astype(np.uint8) + np.uint8(ord("0"))
        batch.put(data, sel, grid)
        tokenized[sel] = True
    hard = np.flatnonzero(slow)
    if hard.shape[0]:
        out[hard], reasons[hard] = _ssn_text(values[hard], keys, opts, decrypt)
    done = np.flatnonzero(tokenized)
    if done.shape[0]:
        out[done] = batch.strings(data)[done]
    return out, reasons


_PLAIN_COLS: Final = np.arange(9)
_DASHED_COLS: Final = np.array([0, 1, 2, 4, 5, 7, 8, 9, 10])


def _ssn_rules(digits: np.ndarray, reasons: Objects, sel: np.ndarray) -> np.ndarray:
    """Apply the SSA structure rules to (rows, 9) digits; return the rows that pass."""
    area = digits[:, 0].astype(np.int64) * 100 + digits[:, 1] * 10 + digits[:, 2]
    group = digits[:, 3].astype(np.int64) * 10 + digits[:, 4]
    serial = (digits[:, 5:].astype(np.int64) * np.array([1000, 100, 10, 1])).sum(axis=1)
    bad_area = (area == 0) | (area == 666) | (area >= 900)
    reasons[sel[bad_area]] = "ssn: invalid area number"
    bad_group = ~bad_area & (group == 0)
    reasons[sel[bad_group]] = "ssn: invalid group number"
    bad_serial = ~bad_area & ~bad_group & (serial == 0)
    reasons[sel[bad_serial]] = "ssn: invalid serial number"
    good: np.ndarray = ~(bad_area | bad_group | bad_serial)
    return good


def _ssn_text(
    values: Objects, keys: ColumnKeys, opts: FormatOptions, decrypt: bool
) -> tuple[Objects, Objects]:
    """The text path: any str values, pandas string rules."""
    reasons = new_reasons(values.shape[0])
    s = series(values)
    flag(reasons, s.str.contains(_NON_ASCII), "ssn: non-ASCII characters")
    flag(reasons, s.str.count("[0-9]") != 9, "ssn: wrong number of digits")
    flag(reasons, ~s.str.fullmatch(_SSN_LAYOUT), "ssn: bad layout")
    if not decrypt:
        # Structure rules of the SSA: never-issued areas, groups and serials.
        digits = s.str.replace("-", "", regex=False)
        area = digits.str.slice(0, 3)
        bad_area = area.isin(["000", "666"]) | area.str.startswith("9")
        flag(reasons, bad_area, "ssn: invalid area number")
        flag(reasons, digits.str.slice(3, 5) == "00", "ssn: invalid group number")
        flag(reasons, digits.str.slice(5, 9) == "0000", "ssn: invalid serial number")
    return apply_mask(values, reasons, keys, "ssn", decrypt=decrypt), reasons


def phone(
    values: Objects, keys: ColumnKeys, opts: FormatOptions, decrypt: bool
) -> tuple[Objects, Objects]:
    """Tokenize phone numbers: the country code and layout kept, the other digits changed."""
    reasons = new_reasons(values.shape[0])
    s = series(values)
    flag(reasons, s.str.contains(_NON_ASCII), "phone: non-ASCII characters")
    flag(reasons, ~s.str.fullmatch(_PHONE), "phone: bad layout")
    cc = s.str.extract(_CC, expand=False).fillna("")
    national = s.str.slice(0, 64).str.replace(r"x[0-9]+$", "", regex=True)
    count = national.str.count("[0-9]") - cc.str.count("[0-9]")
    flag(reasons, (count < 7) | (count > 15), "phone: wrong number of digits")
    prefix = cc.str.len().to_numpy(dtype=np.int64)
    out = apply_mask(values, reasons, keys, "phone", decrypt=decrypt, prefix=prefix)
    # A number without a country code must not map to one that starts like "001-" (it
    # would parse differently): cycle-walk those tokens (about 1%) until they do not.
    while True:
        done = none_mask(out)
        text = series(np.where(done, "", out))
        again = np.flatnonzero(~done & (prefix == 0) & text.str.contains(_CC_TEST).to_numpy())
        if again.shape[0] == 0:
            return out, reasons
        sub = apply_mask(out[again], new_reasons(again.shape[0]), keys, "phone", decrypt=decrypt)
        out[again] = sub
