"""The German credit data set (UCI Statlog, CC BY 4.0) with synthetic personal details.

Cite: Hofmann, H. (1994). Statlog (German Credit Data). UCI Machine Learning Repository.
The personal details are generated from a seed; they describe no real person.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

from engine.datasets._pii import emails, full_names, german_ibans, pans, person_names, phones

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
    first, last = person_names(rng, n)
    names = full_names(first, last)
    mails = emails(rng, first, last)
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
    phone_numbers = phones(rng, n)
    born = pd.Timestamp("1994-01-01") - pd.to_timedelta(
        credit["age_in_years"].to_numpy() * 365.25 + rng.integers(1, 365, n), unit="D"
    )
    pii = pd.DataFrame(
        {
            "customer_id": [f"G{i:09d}" for i in range(n)],
            "full_name": names,
            "ssn": ssns,
            "card_number": pans(rng, n),
            "iban": german_ibans(rng, n),
            "email": mails,
            "phone": phone_numbers,
            "date_of_birth": pd.Series(born).dt.strftime("%Y-%m-%d"),
        }
    )
    for row, column, value in _MALFORMED:
        pii.loc[row, column] = value
    return pd.concat([pii, credit], axis=1)
