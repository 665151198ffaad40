"""Person names: letters tokenized within their script and case, punctuation kept."""

from __future__ import annotations

from typing import Final

import numpy as np

from engine.tokenize._formats import alphabets as ab
from engine.tokenize._formats.base import Objects, chars_of, flag, new_reasons, none_mask
from engine.tokenize._formats.engine import CharMap, from_codes, to_codes, transform
from engine.tokenize._formats.keyed import ColumnKeys
from engine.tokenize._formats.options import FormatOptions

__all__ = ["KEPT", "name"]


def _span(*ranges: tuple[int, int]) -> str:
    return "".join(chr(c) for lo, hi in ranges for c in range(lo, hi + 1))


def _scripts() -> dict[str, tuple[int, int]]:
    return {key: (lo, hi) for key, lo, hi in ab.RANGES}


_R: Final = _scripts()
# One class per (script, case): a letter maps to a letter of the same script and case.
_MAP: Final = CharMap(
    [
        ab.ASCII_LOWER,
        ab.ASCII_UPPER,
        ab.LATIN_EXT_LOWER,
        ab.LATIN_EXT_UPPER,
        ab.GREEK_LOWER,
        ab.GREEK_UPPER,
        ab.CYRILLIC_LOWER,
        ab.CYRILLIC_UPPER,
        _span(_R["hebrew"]),
        _span(_R["arabic"], _R["arabic2"]),
        _span(_R["hiragana"]),
        _span(_R["katakana"]),
        _span(_R["cjk"]),
        _span(_R["hangul"]),
    ]
)
# Characters kept in place: space, hyphen, apostrophes, dot, comma.
KEPT: Final = " -'\u2019.,"
_KEPT_CODES: Final = np.array([ord(c) for c in KEPT], dtype=np.uint32)


def name(
    values: Objects, keys: ColumnKeys, opts: FormatOptions, decrypt: bool
) -> tuple[Objects, Objects]:
    """Tokenize (or detokenize) person names letter by letter, per script and case."""
    rows = values.shape[0]
    reasons = new_reasons(rows)
    out = new_reasons(rows)
    if rows == 0:
        return out, reasons
    codes = to_codes(values)
    chars = chars_of(codes)
    cls, _ = _MAP.lookup(codes)
    letter = cls >= 0
    other = ~letter & ~np.isin(codes, _KEPT_CODES) & (codes != 0)
    flag(reasons, np.strings.isnumeric(chars).any(axis=1), "name: contains digits")
    flag(reasons, (other & np.strings.isalpha(chars)).any(axis=1), "name: unsupported script")
    flag(reasons, other.any(axis=1), "name: unsupported character")
    flag(reasons, ~letter.any(axis=1), "name: no letters")
    ok = np.flatnonzero(none_mask(reasons))
    if ok.shape[0] == 0:
        return out, reasons
    new, failed = transform(keys, "name", codes[ok], letter[ok], _MAP, decrypt=decrypt)
    out[ok] = from_codes(new)
    flag(reasons, np.isin(np.arange(rows), ok[failed]), "name: too long for the scheme")
    out[~none_mask(reasons)] = None
    return out, reasons
