"""IBANs: country code kept, BBAN tokenized per character class, check digits chosen."""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import NDArray

from engine.tokenize._formats.alphabets import ASCII_UPPER, DIGITS
from engine.tokenize._formats.base import Objects, flag, new_reasons, none_mask, series
from engine.tokenize._formats.engine import CharMap, from_codes, to_codes, transform
from engine.tokenize._formats.keyed import ColumnKeys
from engine.tokenize._formats.options import FormatOptions

__all__ = ["IBAN_LENGTHS", "iban", "mod97_residue"]

# ISO 13616 registry lengths: the EU/EEA and SEPA countries, GB, CH and NO among them.
IBAN_LENGTHS: Final = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22,
    "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GI": 23,
    "GL": 18, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IS": 26, "IT": 27, "LI": 21,
    "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28,
    "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "VA": 22,
}  # fmt: skip
_MAP: Final = CharMap([DIGITS, ASCII_UPPER])
_SPACED: Final = r"[A-Z0-9]{4}(?: [A-Z0-9]{4})*(?: [A-Z0-9]{1,3})?"


def mod97_residue(compact: Objects) -> NDArray[np.int64]:
    """Return the ISO 7064 MOD 97-10 residue of each compact IBAN (1 = valid)."""
    out = np.zeros(compact.shape[0], dtype=np.int64)
    lengths = np.fromiter(map(len, compact), dtype=np.int64, count=compact.shape[0])
    for length in np.unique(lengths).tolist():
        sel = np.flatnonzero(lengths == length)
        codes = to_codes(compact[sel]).astype(np.int64)
        # Move country code and check digits to the end; letters count as 10..35.
        order = [*range(4, length), 0, 1, 2, 3]
        r = np.zeros(sel.shape[0], dtype=np.int64)
        for j in order:
            c = codes[:, j]
            letter = c >= ord("A")
            value = np.where(letter, c - ord("A") + 10, c - ord("0"))
            r = (r * np.where(letter, 100, 10) + value) % 97
        out[sel] = r
    return out


def _token_check(residue00: NDArray[np.int64], valid: bool) -> NDArray[np.int64]:
    """Return the check digits of a token from the residue with check digits "00"."""
    if valid:
        return 98 - residue00
    # "00" and "01" are never issued (valid check digits lie in 02-98); "01" only when
    # "00" would happen to satisfy the arithmetic.
    return np.where(residue00 == 1, 1, 0)


def _residue00(values: Objects) -> NDArray[np.int64]:
    compact = series(values).str.replace(" ", "", regex=False)
    zeroed = compact.str.slice(0, 2) + "00" + compact.str.slice(4)
    return mod97_residue(zeroed.to_numpy(dtype=object))


def iban(
    values: Objects, keys: ColumnKeys, opts: FormatOptions, decrypt: bool
) -> tuple[Objects, Objects]:
    """Tokenize (or detokenize) IBANs, electronic or print format (spaces kept)."""
    rows = values.shape[0]
    reasons = new_reasons(rows)
    s = series(values)
    flag(reasons, s.str.contains(r"[^\x00-\x7f]"), "iban: non-ASCII characters")
    flag(reasons, s.str.contains(r"[^A-Z0-9 ]"), "iban: invalid characters")
    spaced = s.str.contains(" ", regex=False)
    flag(reasons, spaced & ~s.str.fullmatch(_SPACED), "iban: bad spacing")
    compact = s.str.replace(" ", "", regex=False)
    flag(reasons, ~compact.str.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]+"), "iban: bad layout")
    country = compact.str.slice(0, 2)
    expected = country.map(IBAN_LENGTHS).astype("float64").to_numpy()
    flag(reasons, np.isnan(expected), "iban: unknown country")
    flag(reasons, compact.str.len().to_numpy() != expected, "iban: wrong length for country")
    ok = np.flatnonzero(none_mask(reasons))
    out = new_reasons(rows)
    if ok.shape[0] == 0:
        return out, reasons
    check = compact.str.slice(2, 4).to_numpy(dtype=object)[ok].astype(np.int64)
    if decrypt:
        wanted = _token_check(_residue00(values[ok]), opts.iban_valid_check_digits)
        bad = check != wanted
    else:
        bad = mod97_residue(compact.to_numpy(dtype=object)[ok]) != 1
    reason = "iban: not a token" if decrypt else "iban: bad check digits"
    flag(reasons, np.isin(np.arange(rows), ok[bad]), reason)
    ok = ok[~bad]
    if ok.shape[0] == 0:
        return out, reasons
    codes = to_codes(values[ok])
    mask = (np.arange(codes.shape[1])[None, :] >= 4) & (codes != ord(" ")) & (codes != 0)
    # The country code is bound into the token through the keyed offsets.
    context = (codes[:, 0].astype(np.uint64) << np.uint64(8)) | codes[:, 1].astype(np.uint64)
    new, _ = transform(keys, "iban", codes, mask, _MAP, decrypt=decrypt, context=context)
    residue = _residue00(from_codes(new))
    digits = 98 - residue if decrypt else _token_check(residue, opts.iban_valid_check_digits)
    new[:, 2] = (digits // 10 + ord("0")).astype(np.uint32)
    new[:, 3] = (digits % 10 + ord("0")).astype(np.uint32)
    out[ok] = from_codes(new)
    return out, reasons
