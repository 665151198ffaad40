"""The German credit data set (UCI Statlog, CC BY 4.0) with synthetic personal details.

Cite: Hofmann, H. (1994). Statlog (German Credit Data). UCI Machine Learning Repository.
The personal details are generated from a seed; they describe no real person.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

# Column -> tokenization kind of the personal details added to every record.
DEMO_PII: dict[str, str] = {
    "customer_id": "id",
    "full_name": "name",
    "ssn": "ssn",
    "card_number": "pan",
    "iban": "iban",
    "email": "email",
    "phone": "phone",
    "date_of_birth": "date",
}

_FIRST = np.array(
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
_LAST = np.array(
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
_ASCII = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "é": "e", "ë": "e", "þ": "th", "ó": "o", "'": ""}
)
_PHONE_FORMATS = ("({a}){b}-{c}", "{a}-{b}-{c}", "+1-{a}-{b}-{c}", "{a}.{b}.{c}")
# A handful of deliberately malformed values, so the demo shows the quarantine at work:
# (row, column, value). Every one is a realistic data-entry error.
_MALFORMED = (
    (17, "card_number", "4111111111111112"),  # fails Luhn
    (123, "email", "no-at-sign.example.com"),
    (256, "ssn", ""),
    (511, "date_of_birth", "31/02/1990"),
    (777, "iban", "DE00 0000"),
)


def german_credit() -> pd.DataFrame:
    """Return the 1,000 German credit applications as shipped (label ``creditability``)."""
    data = resources.files("engine.datasets").joinpath("data/german_credit.csv.gz")
    with resources.as_file(data) as path:
        return pd.read_csv(path)


def _luhn_check_digits(digits: np.ndarray) -> np.ndarray:
    """Return the Luhn check digit for each row of a (n, k) digit array."""
    # Positions counted from the right of the final number: the check digit is position 0,
    # so the last payload digit (position 1) is doubled.
    doubled = digits[:, ::-1].copy()
    doubled[:, ::2] *= 2
    doubled[doubled > 9] -= 9
    return np.asarray((10 - doubled.sum(axis=1) % 10) % 10)


def _digits(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    return rng.integers(0, 10, size=(n, k), dtype=np.int64)


def _pans(rng: np.random.Generator, n: int) -> list[str]:
    body = _digits(rng, n, 15)
    body[:, 0] = np.where(rng.random(n) < 0.6, 4, 5)  # Visa or Mastercard.
    body[body[:, 0] == 5, 1] = rng.integers(1, 6, size=int((body[:, 0] == 5).sum()))
    full = np.concatenate([body, _luhn_check_digits(body)[:, None]], axis=1)
    return ["".join(map(str, row)) for row in full.tolist()]


def _german_ibans(rng: np.random.Generator, n: int) -> list[str]:
    # ISO 13616 mod-97: move "DE00" to the end (D=13, E=14), then 98 - (number mod 97).
    bban = rng.integers(0, 10, size=(n, 18), dtype=np.int64)
    bban[:, 0] = rng.integers(1, 9, size=n)  # Bank codes never start with 0 or 9.
    weights = 10 ** np.arange(11, -1, -1, dtype=np.int64)
    high = (bban[:, :12] * weights).sum(axis=1)
    low = (bban[:, 12:] * weights[6:]).sum(axis=1) * 1_000_000 + 131400
    remainder = ((high % 97) * pow(10, 12, 97) + low % 97) % 97
    check = 98 - remainder
    return [
        f"DE{c:02d}{''.join(map(str, row))}"
        for c, row in zip(check.tolist(), bban.tolist(), strict=True)
    ]


def german_credit_with_pii(seed: int = 2024) -> pd.DataFrame:
    """Return the German credit records with synthetic personal details in front.

    The details are deterministic for a seed: customer id, name, SSN, a Luhn-valid card
    number, a mod-97-valid German IBAN, email, phone and a date of birth consistent with the
    record's ``age_in_years`` (as of 1994-01-01). Five rows carry a deliberately malformed
    value so that a job over this data shows its quarantine.

    Args:
        seed: Seed of the generator.

    Returns:
        A DataFrame with the columns of :data:`DEMO_PII` followed by the credit columns.
    """
    credit = german_credit()
    n = len(credit)
    rng = np.random.default_rng(seed)
    first = _FIRST[rng.integers(0, len(_FIRST), n)]
    last = _LAST[rng.integers(0, len(_LAST), n)]
    names = pd.Series(first) + " " + pd.Series(last)
    # Email handles are ASCII, as most banks' systems still require.
    handle = (pd.Series(first) + "." + pd.Series(last)).str.lower().str.translate(_ASCII)
    emails = (
        handle
        + rng.integers(1, 100, n).astype(str)
        + "@example."
        + pd.Series(np.array(["com", "org", "net"])[rng.integers(0, 3, n)])
    )
    area = rng.integers(1, 900, n)
    area = np.where(area == 666, 667, area)
    ssns = [
        f"{a:03d}-{g:02d}-{s:04d}"
        for a, g, s in zip(
            area.tolist(),
            rng.integers(1, 100, n).tolist(),
            rng.integers(1, 10000, n).tolist(),
            strict=True,
        )
    ]
    phones = [
        _PHONE_FORMATS[f].format(a=a, b=b, c=f"{c:04d}")
        for f, a, b, c in zip(
            rng.integers(0, len(_PHONE_FORMATS), n).tolist(),
            rng.integers(201, 990, n).tolist(),
            rng.integers(200, 1000, n).tolist(),
            rng.integers(0, 10000, n).tolist(),
            strict=True,
        )
    ]
    born = pd.Timestamp("1994-01-01") - pd.to_timedelta(
        credit["age_in_years"].to_numpy() * 365.25 + rng.integers(1, 365, n), unit="D"
    )
    pii = pd.DataFrame(
        {
            "customer_id": [f"G{i:09d}" for i in range(n)],
            "full_name": names,
            "ssn": ssns,
            "card_number": _pans(rng, n),
            "iban": _german_ibans(rng, n),
            "email": emails,
            "phone": phones,
            "date_of_birth": pd.Series(born).dt.strftime("%Y-%m-%d"),
        }
    )
    for row, column, value in _MALFORMED:
        pii.loc[row, column] = value
    return pd.concat([pii, credit], axis=1)
