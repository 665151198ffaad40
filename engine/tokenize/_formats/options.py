"""Kinds of PII, cipher schemes and per-column format options."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import Enum

from engine.errors import ConfigError

__all__ = ["ColumnProtection", "FormatOptions", "Kind", "Scheme"]


class Kind(Enum):
    """The kind of personal data a column holds; it selects the token format."""

    ID = "id"
    NAME = "name"
    SSN = "ssn"
    PAN = "pan"
    IBAN = "iban"
    EMAIL = "email"
    PHONE = "phone"
    DATE = "date"
    TEXT = "text"


class Scheme(Enum):
    """The NIST SP 800-38G Rev. 1 cipher behind the format-preserving kinds.

    FF3-1 is kept for interoperability only: NIST's draft SP 800-38G Rev. 2 withdraws it,
    leaving FF1 as the one approved mode.
    """

    FF1 = "FF1"
    FF3_1 = "FF3-1"


def _default_date_min() -> dt.date:
    return dt.date(1900, 1, 1)


def _default_date_max() -> dt.date:
    return dt.date(2099, 12, 31)


@dataclass(frozen=True, slots=True, kw_only=True)
class FormatOptions:
    """How one column is tokenized; every field has a documented default.

    Args:
        scheme: FF1 (default) or FF3-1 for the format-preserving kinds.
        tweak_label: The text the column tweak is derived from; defaults to the column name.
            Give two columns (in two tables) the same label to make their tokens joinable.
        allow_missing: If true, None/NaN/empty values pass through unchanged instead of
            quarantining the row.
        pan_keep_first: Leading PAN digits kept in clear (shrunk so that at least six
            digits are tokenized).
        pan_keep_last: Trailing PAN digits kept in clear.
        pan_luhn_valid: If true, PAN tokens pass the Luhn check; by default they fail it.
        iban_valid_check_digits: If true, IBAN tokens carry valid check digits; by default
            their check digits are "00" or "01", which no IBAN can carry.
        email_tokenize_domain: If true, the domain labels before the TLD are tokenized too.
        date_format: The ``strftime`` format of the date column.
        date_keep_year: If true, a date token keeps the year (only day and month change).
        date_min: The earliest date accepted and produced (year 1678 or later).
        date_max: The latest date accepted and produced (year 2261 or earlier).

    Raises:
        ConfigError: an option is out of range.
    """

    scheme: Scheme = Scheme.FF1
    tweak_label: str | None = None
    allow_missing: bool = False
    pan_keep_first: int = 6
    pan_keep_last: int = 4
    pan_luhn_valid: bool = False
    iban_valid_check_digits: bool = False
    email_tokenize_domain: bool = False
    date_format: str = "%Y-%m-%d"
    date_keep_year: bool = False
    date_min: dt.date = field(default_factory=_default_date_min)
    date_max: dt.date = field(default_factory=_default_date_max)

    def __post_init__(self) -> None:
        if not isinstance(self.scheme, Scheme):
            raise ConfigError("scheme: must be a Scheme")
        if self.tweak_label is not None and not self.tweak_label:
            raise ConfigError("tweak_label: must be non-empty or None")
        if not 0 <= self.pan_keep_first <= 8:
            raise ConfigError("pan_keep_first: must lie in [0, 8]")
        if not 0 <= self.pan_keep_last <= 6:
            raise ConfigError("pan_keep_last: must lie in [0, 6]")
        if not self.date_min < self.date_max:
            raise ConfigError("date_min: must be earlier than date_max")
        if self.date_min.year < 1678 or self.date_max.year > 2261:
            # The parser is pandas': its timestamps span 1677-09-21 to 2262-04-11.
            raise ConfigError("date_min: dates must lie in years 1678-2261")
        probe = dt.date(2001, 2, 3)
        try:
            parsed = dt.datetime.strptime(probe.strftime(self.date_format), self.date_format)
        except ValueError as exc:
            raise ConfigError("date_format: cannot be parsed back") from exc
        if parsed.date() != probe:
            raise ConfigError("date_format: must contain the year, month and day")


@dataclass(frozen=True, slots=True, kw_only=True)
class ColumnProtection:
    """How one column was protected, for the job manifest.

    Args:
        kind: The kind of PII.
        method: "FF1", "FF3-1", "AES-SIV" or "small-domain-PRP".
        key_id: The keyring name of the key.
        key_version: The key version.
        tweak_id: A public identifier of the column tweak ("tw1:" + 16 hex digits).
        small_domain_fallback: True if parts with fewer than 10^6 possible values use the
            small-domain keyed permutation instead of the FPE cipher.
    """

    kind: Kind
    method: str
    key_id: str
    key_version: int
    tweak_id: str
    small_domain_fallback: bool
