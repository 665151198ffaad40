"""Detectors: candidate patterns, context labels and a ``validate`` hook per kind.

Patterns run over a *shape* buffer (``0`` for every digit, ``A``/``a`` for ASCII letters,
other bytes kept; see ``_buffer.SHAPE``) so that each one starts with a literal and the
regex engine can skip ahead quickly; only candidates reach ``validate``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import ClassVar, Final

import phonenumbers

from engine.discovery._checks import (
    IBAN_LENGTHS,
    iban_status,
    is_plausible_birth_date,
    is_valid_ssn,
    luhn_ok,
    pan_issuer_ok,
    parse_date,
)
from engine.discovery._finding import EntityKind

__all__ = [
    "DOBDetector",
    "Detector",
    "DetectorRegistry",
    "EmailDetector",
    "IBANDetector",
    "NameDetector",
    "PANDetector",
    "PhoneDetector",
    "SSNDetector",
]

Span = tuple[int, int, float]


class Detector(ABC):
    """Base class: subclasses set ``KIND``, ``PATTERNS``, ``CONTEXT`` and ``validate``.

    ``PATTERNS`` run over the shape buffer; ``CONTEXT`` lists lower-case labels: a
    candidate with one of them shortly before it gets ``CONTEXT_CONFIDENCE``. Detectors
    with a ``LABELLED`` value regex also look for values right after their labels, and
    over every cell of a column whose header is one of their labels.
    """

    KIND: ClassVar[EntityKind]
    PATTERNS: ClassVar[tuple[bytes, ...]] = ()
    CONTEXT: ClassVar[tuple[bytes, ...]] = ()
    LABELLED: ClassVar[bytes | None] = None
    LABELS: ClassVar[tuple[bytes, ...] | None] = None
    REFINE_LABELLED: ClassVar[bool] = False
    CONFIDENCE: ClassVar[float] = 0.9
    CONTEXT_CONFIDENCE: ClassVar[float] = 0.99
    CONTEXT_WINDOW: ClassVar[int] = 40

    def __init__(self) -> None:
        self.patterns = tuple(re.compile(p) for p in self.PATTERNS)
        self.labelled = re.compile(self.LABELLED) if self.LABELLED is not None else None

    def refine(self, buf: bytes, start: int, end: int) -> tuple[int, int] | None:
        """Return the exact span of the value inside a pattern match, or ``None``."""
        return start, end

    @abstractmethod
    def validate(self, value: str, *, labelled: bool) -> float | None:
        """Return a confidence for ``value`` or ``None`` if it is not this kind."""

    def raw_candidates(self, buf: bytes) -> Iterator[tuple[int, int]]:
        """Yield candidate spans found on the raw buffer (default: none)."""
        return iter(())

    def label_ok(self, lower: bytes, start: int, end: int) -> bool:
        """Return True if the label occurrence at ``lower[start:end]`` is a real label."""
        return start == 0 or not lower[start - 1 : start].isalpha()


def _text(buf: bytes, start: int, end: int) -> str:
    return buf[start:end].decode("utf-8", "replace")


class PANDetector(Detector):
    """Payment card numbers: issuer range and length, then Luhn.

    FinVeil PAN tokens fail Luhn by default, so they are not reported.
    """

    KIND = EntityKind.PAN
    PATTERNS = (rb"0000(?<![0Aa_.\-]0000)(?:[ -]?0){8,15}(?![0Aa_])",)
    CONTEXT = (b"card", b"pan", b"visa", b"mastercard", b"amex", b"credit", b"debit", b"karte")
    _GROUPS: Final = frozenset({(4, 4, 4, 4), (4, 4, 4, 4, 3), (4, 6, 5), (4, 6, 4), (4, 4, 4, 1)})
    _IBAN_PREFIX: Final = re.compile(rb"[A-Z]{2}\d{2}[ -]$")
    _GROUPS_PREFIX: Final = frozenset({(4, 4, 4), (4, 4, 4, 2), (4, 4, 4, 3), (4, 4, 4, 4, 2)})

    def refine(self, buf: bytes, start: int, end: int) -> tuple[int, int] | None:
        """Trim trailing digit groups (a CVV, an expiry) until a valid PAN remains."""
        # Every issuer range starts with 2-6: millisecond timestamps and most ids stop here.
        if buf[start] not in b"23456":
            return None
        # Digit groups right after an IBAN-like "CC00 " prefix belong to an IBAN.
        if self._IBAN_PREFIX.match(buf, max(0, start - 5), start):
            return None
        value = buf[start:end].decode("ascii")
        if value.isdigit():
            return (start, end) if self._ok(value) else None
        seps = {ch for ch in value if not ch.isdigit()}
        if len(seps) != 1:
            return None
        groups = value.split(seps.pop())
        for n in range(len(groups), 0, -1):
            shape = tuple(len(g) for g in groups[:n])
            if shape not in self._GROUPS and shape not in self._GROUPS_PREFIX:
                continue
            digits = "".join(groups[:n])
            if self._ok(digits):
                return start, start + sum(len(g) for g in groups[:n]) + n - 1
        return None

    @staticmethod
    def _ok(digits: str) -> bool:
        return 12 <= len(digits) <= 19 and pan_issuer_ok(digits) and luhn_ok(digits)

    def validate(self, value: str, *, labelled: bool) -> float | None:
        """Accept a refined span (refine did the checks)."""
        return self.CONFIDENCE


class IBANDetector(Detector):
    """IBANs (upper case, optionally grouped by 4): registered length, then mod-97.

    FinVeil IBAN tokens carry check digits 00 or 01, which no real IBAN has.
    """

    KIND = EntityKind.IBAN
    PATTERNS = (rb"AA00(?<![Aa0_]AA00)(?: ?[A0]){10,30}",)
    CONTEXT = (b"iban", b"account", b"konto", b"compte", b"cuenta")
    # Lower-case IBANs are rare: they are looked for only right after an "iban" label.
    LABELS = (b"iban",)
    REFINE_LABELLED = True
    LABELLED = rb"[^\n\w]{0,12}(?:is[ \t]+)?([A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]){10,30})"
    CONFIDENCE = 0.97

    def refine(self, buf: bytes, start: int, end: int) -> tuple[int, int] | None:
        """Cut the match at the registered length of its country."""
        want = IBAN_LENGTHS.get(buf[start : start + 2].decode("ascii").upper())
        if want is None:
            return None
        chunk = buf[start:end]
        if b" " not in chunk:
            pos = start + want
        else:
            # Walk the groups: the value ends after ``want`` non-space characters.
            count, pos = 0, start
            for group in chunk.split(b" "):
                if count + len(group) >= want:
                    pos += want - count
                    count = want
                    break
                count += len(group)
                pos += len(group) + 1
            if count < want:
                return None
        if pos > end or buf[pos : pos + 1].isalnum():
            return None
        return start, pos

    def validate(self, value: str, *, labelled: bool) -> float | None:
        """Return the confidence of a mod-97-valid IBAN; tokens and typos are ``None``."""
        compact = value.replace(" ", "").upper()
        return self.CONFIDENCE if iban_status(compact) == "valid" else None


class SSNDetector(Detector):
    """US Social Security numbers: dashed anywhere, undashed only after an SSN label."""

    KIND = EntityKind.SSN
    PATTERNS = (rb"000-00-0000(?<![0Aa_\-.]000-00-0000)(?![0Aa_\-])",)
    CONTEXT = (b"ssn", b"social security")
    LABELLED = (
        rb"[^\n\w]{0,12}(?:(?:number|num|no|nr|#)[^\n\w]{0,3})?(\d{3}[- ]?\d{2}[- ]?\d{4})(?![\d-])"
    )
    CONFIDENCE = 0.9

    def validate(self, value: str, *, labelled: bool) -> float | None:
        """Apply the SSA structure rules."""
        digits = value.replace("-", "").replace(" ", "")
        if not is_valid_ssn(digits):
            return None
        return 0.97 if labelled else self.CONFIDENCE


class EmailDetector(Detector):
    """Email addresses: an ``@`` with a local part and a dotted domain with a letter TLD."""

    KIND = EntityKind.EMAIL
    CONFIDENCE = 0.95
    _DOMAIN: Final = re.compile(
        rb"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
        rb"[A-Za-z0-9])?)*\.([A-Za-z]{2,24})(?![A-Za-z0-9-]|\.[A-Za-z0-9])"
    )
    _LOCAL_REV: Final = re.compile(rb"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}")
    _AT: Final = re.compile(rb"@")
    # Asset names like logo@2x.png look like addresses; these TLDs are file types.
    _FILE_TLDS: Final = frozenset(
        b"png jpg jpeg gif svg webp ico bmp css js mjs map json html htm pdf txt log csv "
        b"xml zip gz tar py java rb php md yaml yml toml".split()
    )

    def raw_candidates(self, buf: bytes) -> Iterator[tuple[int, int]]:
        """Yield each ``local@domain.tld`` around an ``@``."""
        for m in self._AT.finditer(buf):
            at = m.start()
            right = self._DOMAIN.match(buf, at + 1)
            if right is None or right.group(1).lower() in self._FILE_TLDS:
                continue
            window = buf[max(0, at - 64) : at][::-1]
            left = self._LOCAL_REV.match(window)
            if left is None:
                continue
            start = at - left.end()
            while buf[start : start + 1] in (b".", b"'", b"`", b"=", b"/"):
                start += 1
            if start < at:
                yield start, right.end()

    def validate(self, value: str, *, labelled: bool) -> float | None:
        """Reject malformed local parts (dots at the ends, double dots)."""
        local = value.rpartition("@")[0]
        if local.endswith(".") or ".." in local:
            return None
        return self.CONFIDENCE


_CACHE_KEY: Final = secrets.token_bytes(32)
_PHONE_CACHE: Final[dict[bytes, bool]] = {}
_PHONE_CACHE_MAX: Final = 1 << 16


class PhoneDetector(Detector):
    """Phone numbers validated with Google's libphonenumber metadata (``phonenumbers``).

    International numbers (``+CC``) and US-formatted ones anywhere; national numbers only
    after a phone label or in a phone column, tried against ``REGIONS`` in order.
    """

    KIND = EntityKind.PHONE
    PATTERNS = (
        rb"\+0[0 ().\-]{6,20}0",
        rb"\(000\) ?000[-. ]0000(?![0Aa_])",
        rb"000-000-0000(?<![0Aa_.\-+]000-000-0000)(?![0Aa_\-])",
        rb"000\.000\.0000(?<![0Aa_.\-+]000\.000\.0000)(?![0Aa_\-])",
    )
    CONTEXT = (b"phone", b"tel", b"mobil", b"cell", b"fax", b"call", b"reach ", b"text me")
    LABELLED = rb"[^\n\d+(,;|]{0,16}?((?:\+|00)?\(?\d[\d ()./-]{5,20}\d)(?![\d])"
    CONFIDENCE = 0.9
    REGIONS: ClassVar[tuple[str, ...]] = ("US", "GB", "DE", "FR", "NL", "ES", "IT", "CH", "AT")

    def refine(self, buf: bytes, start: int, end: int) -> tuple[int, int] | None:
        """Trim trailing groups until the number is valid."""
        value = buf[start:end].decode("ascii")
        while value:
            if self._valid(value, labelled=False):
                return start, start + len(value)
            cut = max(value.rfind(" "), value.rfind("-"), value.rfind("."))
            if cut <= 0:
                return None
            value = value[:cut].rstrip(" -.(")
        return None

    def _valid(self, value: str, *, labelled: bool) -> bool:
        digits = sum(map(str.isdigit, value))
        if not 7 <= digits <= 15:
            return False
        text = "+" + value[2:] if value.startswith("00") else value
        regions: tuple[str | None, ...]
        if text.startswith("+"):
            regions = (None,)
        elif labelled:
            regions = self.REGIONS
        else:
            regions = ("US",)
        # libphonenumber costs ~50 us a number; logs repeat numbers. The verdict depends
        # only on (text, regions), so it is cached.
        # SECURITY: the cache key is a keyed BLAKE2b digest (random key per process), never
        # the number; the cache is bounded and cleared when full.
        key = hashlib.blake2b(
            "\x1f".join((text, *map(str, regions))).encode("utf-8", "replace"),
            key=_CACHE_KEY,
            digest_size=16,
        ).digest()
        verdict = _PHONE_CACHE.get(key)
        if verdict is None:
            verdict = self._parse_valid(text, regions)
            if len(_PHONE_CACHE) >= _PHONE_CACHE_MAX:
                _PHONE_CACHE.clear()
            _PHONE_CACHE[key] = verdict
        return verdict

    @staticmethod
    def _parse_valid(text: str, regions: tuple[str | None, ...]) -> bool:
        for region in regions:
            try:
                number = phonenumbers.parse(text, region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(number):
                return True
        return False

    def validate(self, value: str, *, labelled: bool) -> float | None:
        """Return a confidence if libphonenumber says the number is valid."""
        if not self._valid(value, labelled=labelled):
            return None
        return 0.95 if labelled or value.startswith("+") else 0.85


_DATE = (
    rb"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4}|\d{8}"
    rb"|\d{1,2}(?:st|nd|rd|th)?\.? ?[A-Za-z\xc3\xa4\xa9\xbb]{3,10}\.?,? \d{4}"
    rb"|[A-Za-z]{3,10}\.? \d{1,2}(?:st|nd|rd|th)?,? \d{4}"
)


class DOBDetector(Detector):
    """Dates of birth: a real, plausible date right after a birth-date label."""

    KIND = EntityKind.DOB
    CONTEXT = (b"dob", b"d.o.b", b"birth", b"born", b"geb", b"naissance", b"nacimiento")
    LABELLED = rb"[^\n\d,;|{}]{0,30}?(" + _DATE + rb")(?![\d])"
    CONFIDENCE = 0.95

    def __init__(self, *, today: dt.date | None = None) -> None:
        super().__init__()
        self.today = today or dt.date.today()

    def label_ok(self, lower: bytes, start: int, end: int) -> bool:
        """Accept labels at a word start (``dob``, ``date_of_birth``, ``birthdate``)."""
        return start == 0 or not lower[start - 1 : start].isalpha() or lower[start:end] == b"birth"

    def validate(self, value: str, *, labelled: bool) -> float | None:
        """Parse the date and require it to lie between 1900 and today."""
        day = parse_date(value)
        if day is None or not is_plausible_birth_date(day, today=self.today):
            return None
        return self.CONFIDENCE


class NameDetector(Detector):
    """Person names in labelled fields (``name``, ``full_name``, ``cardholder``...)."""

    KIND = EntityKind.NAME
    CONTEXT = (b"name", b"holder")
    CONFIDENCE = 0.9
    _VALUE: Final = re.compile(
        r"""["']?\s*(?:[:=]|\bis\b)\s*["']?("""
        r"""[^\W\d_](?:[^\W\d_]|['\u2019.-])*,[ \t]+[^\W\d_](?:[^\W\d_]|['\u2019.-])*"""
        r"""|[^\W\d_](?:[^\W\d_]|['\u2019.-])*(?:[ \t]+[^\W\d_](?:[^\W\d_]|['\u2019.-])*){0,4})"""
    )
    _SINGLE_OK: Final = frozenset(
        {"firstname", "lastname", "givenname", "surname", "familyname", "middlename", "forename"}
    )
    _PERSON: Final = _SINGLE_OK | frozenset(
        {"name", "fullname", "customername", "clientname", "holdername", "cardholder",
         "cardholdername", "accountholder", "accountholdername", "beneficiaryname", "payername",
         "payeename", "contactname", "personname", "employeename", "patientname", "nameoncard",
         "debtorname", "creditorname", "ordername", "billingname", "shippingname",
         "recipientname", "sendername", "ownername", "customerfullname", "userfullname"}
    )  # fmt: skip
    _NOT_PERSON_NEAR: Final = re.compile(
        rb"merchant|product|item|bank|company|organi[sz]ation|store|shop|vendor|service|file"
        rb"|host|device|category|plan|event|field|team|country|city|currency|branch|app\b"
    )
    _PARTICLES: Final = frozenset({"van", "von", "de", "der", "den", "da", "di", "del", "la", "le",
                                   "du", "bin", "al", "y", "dos", "das", "ter"})  # fmt: skip
    _STOP: Final = frozenset(
        {"unknown", "null", "none", "test", "customer", "user", "admin", "n/a", "na", "anonymous",
         "redacted", "ltd", "inc", "llc", "gmbh", "ag", "bank", "corp", "coffee", "store", "shop",
         "services", "group", "company", "co", "plc", "bv", "sa", "card", "premium", "gold",
         "platinum", "account", "the", "and", "of", "is", "not", "my", "your", "on", "in"}
    )  # fmt: skip

    def label_ok(self, lower: bytes, start: int, end: int) -> bool:
        """Accept every occurrence: ``scan_label`` checks the whole field name."""
        return True

    @staticmethod
    def key_at(lower: bytes, start: int, end: int) -> str:
        """Return the normalized field name around a label occurrence."""
        lo = start
        while lo > 0 and (lower[lo - 1 : lo].isalnum() or lower[lo - 1 : lo] in (b"_", b"-")):
            lo -= 1
        hi = end
        while hi < len(lower) and (lower[hi : hi + 1].isalnum() or lower[hi : hi + 1] == b"_"):
            hi += 1
        return re.sub(r"[^a-z0-9]", "", lower[lo:hi].decode("ascii", "replace"))

    @classmethod
    def is_person_key(cls, key: str) -> bool:
        """Return True if a normalized field name labels a person's name."""
        return key in cls._PERSON

    def scan_label(self, buf: bytes, lower: bytes, start: int, end: int) -> Span | None:
        """Return the name after the label occurrence at ``start:end``, if any."""
        key = self.key_at(lower, start, end)
        if not self.is_person_key(key):
            return None
        if key == "name" and self._NOT_PERSON_NEAR.search(lower, max(0, start - 24), start):
            return None
        hi = end
        while hi < len(lower) and (lower[hi : hi + 1].isalnum() or lower[hi : hi + 1] == b"_"):
            hi += 1
        window = buf[hi : hi + 96].decode("utf-8", "ignore")
        m = self._VALUE.match(window)
        if m is None:
            return None
        value = self.clean(m.group(1), single_ok=key in self._SINGLE_OK)
        if value is None:
            return None
        s = hi + len(window[: m.start(1)].encode("utf-8"))
        conf = self.CONFIDENCE if key == "name" else 0.95
        return s, s + len(value.encode("utf-8")), conf

    def clean(self, text: str, *, single_ok: bool) -> str | None:
        """Return the person-name prefix of ``text`` or ``None``."""
        words: list[str] = []
        for word in text.split():
            if word.lower() in self._PARTICLES and words:
                words.append(word)
                continue
            if not word[0].isupper() or word.lower().strip(".") in self._STOP:
                break
            words.append(word)
        while words and words[-1].lower() in self._PARTICLES:
            words.pop()
        if not words or (len(words) < 2 and not single_ok) or len(words) > 5:
            return None
        if any(len(w.strip(".")) < 2 and not w.endswith(".") for w in words):
            return None
        return text[: text.index(words[-1]) + len(words[-1])]

    def validate(self, value: str, *, labelled: bool) -> float | None:
        """Accept a whole cell of a name column."""
        cleaned = self.clean(value.strip(), single_ok=True)
        return self.CONFIDENCE if cleaned is not None and cleaned == value.strip() else None


class DetectorRegistry:
    """The detectors a scan runs, by kind; ``default()`` has one of each kind."""

    __slots__ = ("_detectors",)

    def __init__(self, detectors: tuple[Detector, ...] = ()) -> None:
        self._detectors: dict[EntityKind, Detector] = {}
        for det in detectors:
            self.register(det)

    @classmethod
    def default(cls, *, today: dt.date | None = None) -> DetectorRegistry:
        """Return a registry with the built-in detectors."""
        return cls(
            (PANDetector(), IBANDetector(), SSNDetector(), EmailDetector(), PhoneDetector(),
             DOBDetector(today=today), NameDetector())
        )  # fmt: skip

    def register(self, detector: Detector) -> None:
        """Add ``detector`` (replacing the one of the same kind)."""
        if not isinstance(detector, Detector):
            raise TypeError("detector: must be a Detector")
        self._detectors[detector.KIND] = detector

    def only(self, kinds: frozenset[EntityKind]) -> DetectorRegistry:
        """Return a registry with only the detectors of ``kinds``."""
        return DetectorRegistry(tuple(d for k, d in self._detectors.items() if k in kinds))

    def get(self, kind: EntityKind) -> Detector:
        """Return the detector of ``kind``.

        Raises:
            KeyError: none registered.
        """
        return self._detectors[kind]

    def __iter__(self) -> Iterator[Detector]:
        return iter(tuple(self._detectors.values()))

    def __len__(self) -> int:
        return len(self._detectors)
