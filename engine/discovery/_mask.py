"""Masked previews: enough shape to locate a finding, never enough to recover the value.

SECURITY: the rules (documented in docs/discovery.md) are
- PAN: at most the first 6 and last 4 digits (PCI DSS 3.4), and always at least 6 digits
  hidden, so short PANs show fewer leading digits: ``411111******1111``;
- SSN: ``***-**-`` and the last 4 digits; IBAN: country code, stars, last 4 characters;
- phone: separators and the last 2 digits: ``+** *** *** **71``;
- email: first character of the local part and of the domain only when that part has at
  least 4 characters, then the top-level domain: ``j***@e***.com``;
- date of birth: separators only (``**.**.****``); name: initials (``J*** D***``).
"""

from __future__ import annotations

import re
from typing import Final

from engine.discovery._finding import EntityKind

__all__ = ["mask"]

_ALNUM: Final = re.compile(r"[^\W_]")
_DIGIT: Final = re.compile(r"\d")


def _pan(value: str) -> str:
    digits = "".join(ch for ch in value if ch.isdigit())
    n = len(digits)
    first = max(0, min(6, n - 10))
    return digits[:first] + "*" * (n - first - 4) + digits[-4:]


def _ssn(value: str) -> str:
    digits = "".join(ch for ch in value if ch.isdigit())
    return "***-**-" + digits[-4:]


def _iban(value: str) -> str:
    compact = "".join(ch for ch in value if ch.isalnum()).upper()
    return compact[:2] + "*" * (len(compact) - 6) + compact[-4:]


def _phone(value: str) -> str:
    total = sum(ch.isdigit() for ch in value)
    seen = 0
    out = []
    for ch in value:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen > total - 2 else "*")
        else:
            out.append(ch)
    return "".join(out)


def _part(text: str) -> str:
    return (text[0] if len(text) >= 4 else "*") + "***"


def _email(value: str) -> str:
    local, _, domain = value.rpartition("@")
    host, _, tld = domain.rpartition(".")
    return f"{_part(local)}@{_part(host)}.{tld.lower()}"


def _dob(value: str) -> str:
    return _ALNUM.sub("*", value)


def _name(value: str) -> str:
    return " ".join(word[0] + "***" for word in value.split() if word)


_RULES: Final = {
    EntityKind.PAN: _pan,
    EntityKind.SSN: _ssn,
    EntityKind.IBAN: _iban,
    EntityKind.PHONE: _phone,
    EntityKind.EMAIL: _email,
    EntityKind.DOB: _dob,
    EntityKind.NAME: _name,
}


def mask(kind: EntityKind, value: str) -> str:
    """Return the masked preview of ``value`` (already validated as ``kind``).

    >>> mask(EntityKind.PAN, "4111 1111 1111 1111")
    '411111******1111'
    >>> mask(EntityKind.EMAIL, "john.doe@example.com")
    'j***@e***.com'
    """
    return _RULES[kind](value)
