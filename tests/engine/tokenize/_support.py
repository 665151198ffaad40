"""Shared helpers for the format and frame tests: keys, references, one-column runs."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
from hypothesis import strategies as st

from engine.keys import KeyMaterial
from engine.tokenize import FormatOptions, Kind, detokenize_frame, tokenize_frame

SECRET = bytes(range(32))
OTHER_SECRET = bytes(range(1, 33))


def keys(secret: bytes = SECRET) -> dict[Kind, KeyMaterial]:
    return {k: KeyMaterial(key_id=f"tokenize.{k.value}", version=1, secret=secret) for k in Kind}


# Every reason a format may give: fixed strings (two with a number in them).
FIXED_REASONS = re.compile(
    r"missing|empty|whitespace only|[a-z]+: not a string|[a-z]+: longer than \d+ characters"
    r"|pan: (non-ASCII characters|invalid characters|mixed separators|bad separators"
    r"|length \d+ outside 12-19|fails Luhn|not a token)"
    r"|iban: (non-ASCII characters|invalid characters|bad spacing|bad layout|unknown country"
    r"|wrong length for country|bad check digits|not a token)"
    r"|ssn: (non-ASCII characters|wrong number of digits|bad layout|invalid area number"
    r"|invalid group number|invalid serial number)"
    r"|phone: (non-ASCII characters|bad layout|wrong number of digits)"
    r"|email: (non-ASCII characters|contains whitespace|no @|more than one @|empty local part"
    r"|empty domain|malformed|local part longer than 64|too long for the scheme)"
    r"|name: (contains digits|unsupported script|unsupported character|no letters"
    r"|too long for the scheme)"
    r"|date: (non-ASCII characters|not a valid date in the expected format|not in canonical form"
    r"|outside the accepted range)"
    r"|(id|text): not a token"
)


def run(
    values: list[Any],
    kind: Kind,
    *,
    column: str = "c",
    secret: bytes = SECRET,
    dtype: Any = object,
    **options: Any,
) -> tuple[list[Any], dict[int, str]]:
    """Tokenize one column; return (token or None per value, row -> reason)."""
    df = pd.DataFrame({column: pd.Series(values, dtype=dtype)})
    out = tokenize_frame(df, {column: kind}, keys(secret), options=FormatOptions(**options))
    reasons = dict(zip(out.quarantine["row"], out.quarantine["reason"], strict=True))
    for reason in reasons.values():
        assert FIXED_REASONS.fullmatch(reason), reason
    tokens = [out.frame[column].get(i) if i in out.frame.index else None for i in df.index]
    assert len(out.frame) + len(reasons) == len(values)
    return tokens, reasons


def back(
    tokens: list[str], kind: Kind, *, column: str = "c", secret: bytes = SECRET, **options: Any
) -> list[Any]:
    """Detokenize one column of tokens."""
    df = pd.DataFrame({column: pd.Series(tokens, dtype=object)})
    out = detokenize_frame(df, {column: kind}, keys(secret), options=FormatOptions(**options))
    return list(out[column])


def luhn_ok(digits: str) -> bool:
    """Reference Luhn check (independent of the implementation)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def with_check_digit(body: str) -> str:
    """Append the Luhn check digit to ``body``."""
    for c in "0123456789":
        if luhn_ok(body + c):
            return body + c
    raise AssertionError("unreachable")


def iban_ok(iban: str) -> bool:
    """Reference ISO 7064 MOD 97-10 check."""
    compact = iban.replace(" ", "")
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def iban_with_check(country: str, bban: str) -> str:
    """Return the IBAN with valid check digits for ``country`` and ``bban``."""
    value = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    return f"{country}{98 - value % 97:02d}{bban}"


def shape(value: str) -> str:
    """Digits -> 9, upper -> A, lower -> a, everything else kept."""
    out = []
    for ch in value:
        if ch.isdigit():
            out.append("9")
        elif ch.isalpha():
            out.append("A" if ch.isupper() else "a")
        else:
            out.append(ch)
    return "".join(out)


@st.composite
def pans(draw: st.DrawFn, *, separators: bool = True) -> str:
    """Luhn-valid PANs of 12-19 digits, optionally grouped by spaces or dashes."""
    n = draw(st.integers(12, 19))
    body = draw(st.text("0123456789", min_size=n - 1, max_size=n - 1))
    digits = with_check_digit(body)
    if not separators or not draw(st.booleans()):
        return digits
    sep = draw(st.sampled_from([" ", "-"]))
    return sep.join(digits[i : i + 4] for i in range(0, n, 4))
