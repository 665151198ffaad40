import pandas as pd

from engine.datasets import DEMO_PII, german_credit, german_credit_with_pii


def _luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _iban_ok(iban: str) -> bool:
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def test_real_records_are_intact() -> None:
    credit = german_credit()
    assert credit.shape == (1000, 21)
    assert credit["creditability"].value_counts().to_dict() == {"good": 700, "bad": 300}


def test_pii_is_deterministic_and_well_formed() -> None:
    a, b = german_credit_with_pii(), german_credit_with_pii()
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns[: len(DEMO_PII)]) == list(DEMO_PII)
    assert a["customer_id"].is_unique
    valid_pans = [p for p in a["card_number"] if _luhn_ok(p)]
    assert len(valid_pans) == 999  # one planted Luhn failure
    assert sum(_iban_ok(i) for i in a["iban"] if " " not in i) == 999
    assert a["ssn"].str.fullmatch(r"\d{3}-\d{2}-\d{4}").sum() == 999
    assert german_credit_with_pii(seed=1)["ssn"].tolist() != a["ssn"].tolist()


def test_birth_dates_match_age() -> None:
    df = german_credit_with_pii()
    born = pd.to_datetime(df["date_of_birth"], format="%Y-%m-%d", errors="coerce")
    ok = born.notna()
    age = (pd.Timestamp("1994-01-01") - born[ok]).dt.days / 365.25
    assert (age.round().sub(df.loc[ok, "age_in_years"]).abs() <= 1).all()


def test_emails_are_ascii_and_unique_per_record() -> None:
    emails = german_credit_with_pii()["email"]
    planted = emails == "no-at-sign.example.com"
    assert planted.sum() == 1
    assert emails[~planted].str.fullmatch(r"[a-z0-9.\-]+@example\.(com|org|net)").all()
