from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from engine.datasets import german_credit_with_pii
from engine.keys import KeyRing
from engine.keys.backends import KeyFileRoot

PII = {"customer_id": "id", "ssn": "ssn", "card_number": "pan", "email": "email"}


@pytest.fixture
def ring(tmp_path: Path) -> KeyRing:
    root = tmp_path / "keyring.root"
    KeyFileRoot.generate(root)
    return KeyRing.create(
        tmp_path / "keyring.json",
        root_key_file=root,
        audit_path=tmp_path / "audit.jsonl",
        principal="tester",
    )


@pytest.fixture(scope="session")
def credit() -> pd.DataFrame:
    return german_credit_with_pii()


@pytest.fixture
def clean(credit: pd.DataFrame) -> pd.DataFrame:
    """Rows whose PII all validate (the demo data has five malformed rows)."""
    return credit.iloc[20:120].reset_index(drop=True)
