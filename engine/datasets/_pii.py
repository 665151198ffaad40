"""Synthetic personal details shared by the demo data sets: names, emails, phones, PANs, IBANs.

Every generator draws from the caller's numpy ``Generator`` in a fixed order, so a data set
built from a seed stays identical as long as its calls stay in the same order.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import NDArray

FIRST_NAMES: Final = np.array(
    [
        "Anna",
        "Lukas",
        "Marie",
        "Jonas",
        "Sophie",
        "Felix",
        "Lena",
        "Paul",
        "Emma",
        "Leon",
        "Hannah",
        "Elias",
        "Lea",
        "Noah",
        "Mia",
        "Ben",
        "Jürgen",
        "Bärbel",
        "Jörg",
        "Günther",
        "Käthe",
        "Sören",
        "Zoë",
        "Renée",
        "José",
        "Ana-Lucia",
        "Hans-Peter",
        "Marie-Luise",
        "O'Neil",
        "Þóra",
    ]
)
LAST_NAMES: Final = np.array(
    [
        "Müller",
        "Schmidt",
        "Schneider",
        "Fischer",
        "Weber",
        "Meyer",
        "Wagner",
        "Becker",
        "Schulz",
        "Hoffmann",
        "Schäfer",
        "Koch",
        "Bauer",
        "Richter",
        "Klein",
        "Wolf",
        "Schröder",
        "Neumann",
        "Schwarz",
        "Zimmermann",
        "Braun",
        "Krüger",
        "Hofmann",
        "Hartmann",
        "Lange",
        "Schmitt",
        "Werner",
        "Krause",
        "Meier",
        "Lehmann",
        "Groß-Weber",
        "D'Angelo",
    ]
)
_ASCII: Final = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "é": "e", "ë": "e", "þ": "th", "ó": "o", "'": ""}
)
PHONE_FORMATS: Final = ("({a}){b}-{c}", "{a}-{b}-{c}", "+1-{a}-{b}-{c}", "{a}.{b}.{c}")
_TLDS: Final = np.array(["com", "org", "net"])


def person_names(rng: np.random.Generator, n: int) -> tuple[NDArray[np.str_], NDArray[np.str_]]:
    """Draw ``n`` first and last names (first names first)."""
    first = FIRST_NAMES[rng.integers(0, len(FIRST_NAMES), n)]
    last = LAST_NAMES[rng.integers(0, len(LAST_NAMES), n)]
    return first, last


def full_names(first: NDArray[np.str_], last: NDArray[np.str_]) -> NDArray[np.object_]:
    """Join first and last names with a space."""
    return np.asarray(np.char.add(np.char.add(first.astype(object), " "), last.astype(object)))


def emails(rng: np.random.Generator, first: NDArray[np.str_], last: NDArray[np.str_]) -> list[str]:
    """Draw an ASCII ``first.last<NN>@example.<tld>`` address per name."""
    n = len(first)
    # Email handles are ASCII, as most banks' systems still require.
    handles = [f"{f}.{s}".lower().translate(_ASCII) for f, s in zip(first, last, strict=True)]
    numbers = rng.integers(1, 100, n).tolist()
    tlds = _TLDS[rng.integers(0, 3, n)].tolist()
    return [f"{h}{k}@example.{t}" for h, k, t in zip(handles, numbers, tlds, strict=True)]


def phones(rng: np.random.Generator, n: int) -> list[str]:
    """Draw ``n`` North American phone numbers in mixed notations."""
    return [
        PHONE_FORMATS[f].format(a=a, b=b, c=f"{c:04d}")
        for f, a, b, c in zip(
            rng.integers(0, len(PHONE_FORMATS), n).tolist(),
            rng.integers(201, 990, n).tolist(),
            rng.integers(200, 1000, n).tolist(),
            rng.integers(0, 10000, n).tolist(),
            strict=True,
        )
    ]


def luhn_check_digits(digits: NDArray[np.int64]) -> NDArray[np.int64]:
    """Return the Luhn check digit for each row of a (n, k) digit array."""
    # Positions counted from the right of the final number: the check digit is position 0,
    # so the last payload digit (position 1) is doubled.
    doubled = digits[:, ::-1].copy()
    doubled[:, ::2] *= 2
    doubled[doubled > 9] -= 9
    return np.asarray((10 - doubled.sum(axis=1) % 10) % 10)


def _digit_strings(digits: NDArray[np.int64]) -> list[str]:
    # One byte per digit, viewed as one fixed-width bytes value per row: no per-digit Python.
    raw = np.ascontiguousarray((digits + ord("0")).astype(np.uint8))
    return [b.decode("ascii") for b in raw.view(f"S{digits.shape[1]}").ravel().tolist()]


def pans(rng: np.random.Generator, n: int) -> list[str]:
    """Draw ``n`` Luhn-valid 16-digit Visa (60 %) or Mastercard card numbers."""
    body = rng.integers(0, 10, size=(n, 15), dtype=np.int64)
    body[:, 0] = np.where(rng.random(n) < 0.6, 4, 5)  # Visa or Mastercard.
    body[body[:, 0] == 5, 1] = rng.integers(1, 6, size=int((body[:, 0] == 5).sum()))
    return _digit_strings(np.concatenate([body, luhn_check_digits(body)[:, None]], axis=1))


def german_ibans(rng: np.random.Generator, n: int) -> list[str]:
    """Draw ``n`` mod-97-valid German IBANs (22 characters, no spaces)."""
    # ISO 13616 mod-97: move "DE00" to the end (D=13, E=14), then 98 - (number mod 97).
    bban = rng.integers(0, 10, size=(n, 18), dtype=np.int64)
    bban[:, 0] = rng.integers(1, 9, size=n)  # Bank codes never start with 0 or 9.
    weights = 10 ** np.arange(11, -1, -1, dtype=np.int64)
    high = (bban[:, :12] * weights).sum(axis=1)
    low = (bban[:, 12:] * weights[6:]).sum(axis=1) * 1_000_000 + 131400
    check = 98 - ((high % 97) * pow(10, 12, 97) + low % 97) % 97
    return [f"DE{c:02d}{b}" for c, b in zip(check.tolist(), _digit_strings(bban), strict=True)]
