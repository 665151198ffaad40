"""Validation rules: Luhn and issuer ranges, IBAN mod-97, SSN structure, calendar dates."""

from __future__ import annotations

import datetime as dt
import re
from typing import Final

__all__ = [
    "IBAN_LENGTHS",
    "iban_status",
    "is_plausible_birth_date",
    "is_valid_ssn",
    "luhn_ok",
    "pan_issuer_ok",
    "parse_date",
]

# ISO 3166 country -> IBAN length (SWIFT IBAN registry, release 99).
IBAN_LENGTHS: Final[dict[str, int]] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24,
    "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27,
    "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
    "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27,
    "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28,
    "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31,
    "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip

# (prefix low, prefix high, allowed lengths): ISO/IEC 7812 issuer ranges of the major schemes.
_ISSUERS: Final[tuple[tuple[str, str, frozenset[int]], ...]] = (
    ("4", "4", frozenset({13, 16, 19})),  # Visa
    ("51", "55", frozenset({16})),  # Mastercard
    ("2221", "2720", frozenset({16})),  # Mastercard 2-series
    ("34", "34", frozenset({15})),  # American Express
    ("37", "37", frozenset({15})),
    ("300", "305", frozenset(range(14, 20))),  # Diners Club
    ("36", "36", frozenset(range(14, 20))),
    ("38", "39", frozenset(range(16, 20))),
    ("6011", "6011", frozenset(range(16, 20))),  # Discover
    ("644", "649", frozenset(range(16, 20))),
    ("65", "65", frozenset(range(16, 20))),
    ("3528", "3589", frozenset(range(16, 20))),  # JCB
    ("62", "62", frozenset(range(16, 20))),  # UnionPay
    ("2200", "2204", frozenset(range(16, 20))),  # Mir
    ("50", "50", frozenset(range(12, 20))),  # Maestro
    ("56", "58", frozenset(range(12, 20))),
    ("6304", "6304", frozenset(range(12, 20))),
    ("6759", "6759", frozenset(range(12, 20))),
    ("6761", "6763", frozenset(range(12, 20))),
    ("60", "60", frozenset({16})),  # RuPay
)

# Numbers the SSA voided after they were published (advertising, Woolworth wallet card).
_IBAN_DIGITS: Final = {ord(c): str(i) for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 10)}
_VOID_SSNS: Final = frozenset({"078051120", "219099999", "457555462"})
_DIGITS: Final = re.compile(r"\d+")


_DOUBLED: Final = {str(d): (2 * d - 9 if d > 4 else 2 * d) for d in range(10)}
_BY_FIRST: Final = {
    first: tuple(r for r in _ISSUERS if r[0][0] <= first <= r[1][0]) for first in "0123456789"
}


def luhn_ok(digits: str) -> bool:
    """Return True if the digit string passes the Luhn (mod 10) check."""
    rev = digits[::-1]
    total = sum(map(int, rev[0::2])) + sum(map(_DOUBLED.__getitem__, rev[1::2]))
    return total % 10 == 0


def pan_issuer_ok(digits: str) -> bool:
    """Return True if the PAN's prefix and length belong to a known card scheme."""
    n = len(digits)
    for low, high, lengths in _BY_FIRST.get(digits[:1], ()):
        if n in lengths and low <= digits[: len(low)] <= high:
            return True
    return False


def iban_status(compact: str) -> str:
    """Classify an upper-case IBAN without spaces.

    Returns:
        ``"valid"`` (registered length and mod-97 = 1), ``"token"`` (check digits 00 or
        01: no IBAN carries them, FinVeil tokens do) or ``"invalid"``.
    """
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact[2:4].isdigit():
        return "invalid"
    if compact[2:4] in ("00", "01"):
        return "token"
    # ISO 13616: move the first four characters to the end, letters to 10..35, mod 97.
    number = (compact[4:] + compact[:4]).translate(_IBAN_DIGITS)
    if not number.isdigit():
        return "invalid"
    return "valid" if int(number) % 97 == 1 else "invalid"


def is_valid_ssn(digits: str) -> bool:
    """Return True for a structurally valid US SSN (9 digits).

    Area 000, 666 and 900-999, group 00 and serial 0000 are never issued (SSA).
    """
    if len(digits) != 9 or not digits.isdigit():
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    return digits not in _VOID_SSNS


_MONTHS: Final[dict[str, int]] = {
    name: i
    for i, names in enumerate(
        (
            ("jan", "january", "januar", "janvier", "enero"),
            ("feb", "february", "februar", "fevrier", "febrero"),
            ("mar", "march", "marz", "maerz", "mars", "marzo"),
            ("apr", "april", "avril", "abril"),
            ("may", "mai", "mayo"),
            ("jun", "june", "juni", "juin", "junio"),
            ("jul", "july", "juli", "juillet", "julio"),
            ("aug", "august", "aout", "agosto"),
            ("sep", "sept", "september", "septembre", "septiembre"),
            ("oct", "october", "okt", "oktober", "octobre", "octubre"),
            ("nov", "november", "novembre", "noviembre"),
            ("dec", "december", "dez", "dezember", "decembre", "diciembre"),
        ),
        start=1,
    )
    for name in names
}


def parse_date(text: str) -> dt.date | None:
    """Parse a date in a common numeric or month-name format; ``None`` if it is not one.

    Numeric forms: ``YYYY-MM-DD``, ``YYYY/MM/DD``, ``YYYYMMDD``, ``DD.MM.YYYY``,
    ``DD/MM/YYYY`` or ``MM/DD/YYYY`` (the first that is a real date), and the same with
    ``-``. Month names in English, German, French and Spanish.
    """
    nums = [int(x) for x in _DIGITS.findall(text)]
    words = re.findall(r"[^\W\d_]+", text.lower())
    try:
        if words:
            month = next((_MONTHS[w] for w in words if w in _MONTHS), 0)
            if not month or len(nums) != 2:
                return None
            day, year = (nums[0], nums[1]) if nums[1] > 31 else (nums[1], nums[0])
            return dt.date(year, month, day)
        if len(nums) == 1 and len(text) == 8:
            return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
        if len(nums) != 3:
            return None
        a, b, c = nums
        if a > 31:
            return dt.date(a, b, c)
        for day, month in ((a, b), (b, a)):
            try:
                return dt.date(c, month, day)
            except ValueError:
                continue
    except ValueError:
        return None
    return None


def is_plausible_birth_date(day: dt.date, *, today: dt.date) -> bool:
    """Return True if ``day`` could be a living person's birth date (1900 up to today)."""
    return dt.date(1900, 1, 1) <= day <= today
