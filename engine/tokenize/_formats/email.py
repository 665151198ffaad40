"""Email addresses: local part tokenized with its punctuation kept, domain kept or tokenized."""

from __future__ import annotations

from typing import Final

import numpy as np

from engine.tokenize._formats.alphabets import ALNUM_LOWER, ASCII_UPPER
from engine.tokenize._formats.base import Objects, flag, new_reasons, none_mask, series
from engine.tokenize._formats.engine import (
    BoolArray,
    CharMap,
    Codes,
    from_codes,
    to_codes,
    transform,
)
from engine.tokenize._formats.keyed import ColumnKeys, hash_context
from engine.tokenize._formats.options import FormatOptions

__all__ = ["email"]

# Lower-case letters and digits share one radix-36 class; upper-case letters stay upper
# case (radix 26), so tokens keep the case pattern and detokenize exactly.
_MAP: Final = CharMap([ALNUM_LOWER, ASCII_UPPER])
_EMAIL: Final = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
_MAX_LOCAL: Final = 64


def email(
    values: Objects, keys: ColumnKeys, opts: FormatOptions, decrypt: bool
) -> tuple[Objects, Objects]:
    """Tokenize (or detokenize) email addresses."""
    rows = values.shape[0]
    reasons = new_reasons(rows)
    s = series(values)
    flag(reasons, s.str.contains(r"[^\x00-\x7f]"), "email: non-ASCII characters")
    flag(reasons, s.str.contains(r"\s"), "email: contains whitespace")
    ats = s.str.count("@")
    flag(reasons, ats == 0, "email: no @")
    flag(reasons, ats > 1, "email: more than one @")
    flag(reasons, s.str.startswith("@"), "email: empty local part")
    flag(reasons, s.str.endswith("@"), "email: empty domain")
    flag(reasons, ~s.str.fullmatch(_EMAIL), "email: malformed")
    at = s.str.find("@").to_numpy(dtype=np.int64)
    flag(reasons, at > _MAX_LOCAL, "email: local part longer than 64")
    out = new_reasons(rows)
    ok = np.flatnonzero(none_mask(reasons))
    if ok.shape[0] == 0:
        return out, reasons
    codes = to_codes(values[ok])
    at = at[ok]
    dot = s.str.rfind(".").to_numpy(dtype=np.int64)[ok]
    pos = np.arange(codes.shape[1])[None, :]
    alnum = _MAP.lookup(codes)[0] >= 0
    local = alnum & (pos < at[:, None])
    domain = alnum & (pos > at[:, None]) & (pos < dot[:, None])
    failed = np.zeros(ok.shape[0], dtype=bool)
    if decrypt and opts.email_tokenize_domain:
        codes, failed = _domain(keys, codes, domain, decrypt=True)
    # The (plaintext, lower-cased) domain is bound into the local part's token.
    plain = series(from_codes(codes))
    domain_text = plain.str.replace(r"^[^@]*@", "", regex=True).str.lower()
    context = hash_context(domain_text.to_numpy(dtype=object))
    codes, failed_local = transform(
        keys, "email-local", codes, local, _MAP, decrypt=decrypt, context=context
    )
    failed |= failed_local
    if not decrypt and opts.email_tokenize_domain:
        codes, failed_domain = _domain(keys, codes, domain, decrypt=False)
        failed |= failed_domain
    out[ok] = from_codes(codes)
    flag(reasons, np.isin(np.arange(rows), ok[failed]), "email: too long for the scheme")
    out[~none_mask(reasons)] = None
    return out, reasons


def _domain(
    keys: ColumnKeys, codes: Codes, mask: BoolArray, *, decrypt: bool
) -> tuple[Codes, BoolArray]:
    """Tokenize the domain labels before the TLD, binding the TLD into the token."""
    text = series(from_codes(codes))
    tld = text.str.replace(r"^.*\.", "", regex=True).str.lower().to_numpy(dtype=object)
    return transform(
        keys, "email-domain", codes, mask, _MAP, decrypt=decrypt, context=hash_context(tld)
    )
