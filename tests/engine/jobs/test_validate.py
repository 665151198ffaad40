import numpy as np
import pandas as pd
import pytest

from engine.errors import ConfigError, InputError
from engine.jobs import JobSpec, parse_spec
from engine.jobs._validate import encode_label, resolve_columns

FRAME = pd.DataFrame(
    {
        "ssn": ["001-01-0001", "002-02-0002", "003-03-0003"],
        "income": [1.0, 2.0, 3.0],
        "dti": [0.1, 0.2, np.nan],
        "grade": ["A", "B", "A"],
        "y": [0, 1, 0],
    }
)


def _spec(**model: object) -> JobSpec:
    return parse_spec(
        {"input": {"path": "x.csv"}, "pii": {"ssn": "ssn"}, "model": {"label": "y", **model}}
    )


def test_default_features_are_numeric_non_pii_non_label() -> None:
    columns = resolve_columns(FRAME, _spec())
    assert columns.numeric == ("income", "dti")
    assert columns.pii == ("ssn",)


def test_listed_and_categorical_features() -> None:
    columns = resolve_columns(FRAME, _spec(features=["income"], categorical=["grade"]))
    assert columns.numeric == ("income",)
    assert columns.categorical == ("grade",)


@pytest.mark.parametrize(
    ("model", "error", "message"),
    [
        ({"features": ["grade"]}, InputError, "not numeric: grade"),
        ({"features": ["nope"]}, ConfigError, "not in the input: nope"),
        ({"features": ["ssn"]}, ConfigError, "must not be PII"),
        ({"label": "z"}, ConfigError, "label column 'z'"),
    ],
)
def test_column_errors(model: dict[str, object], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        resolve_columns(FRAME, _spec(**model))


def test_encode_label() -> None:
    y, missing = encode_label(pd.Series(["good", "bad", None, "bad"], name="c"), "bad")
    assert y.tolist() == [0, 1, 0, 1]
    assert missing.tolist() == [False, False, True, False]
    y, _ = encode_label(pd.Series([0, 1, 1], name="d"), 1)
    assert y.tolist() == [0, 1, 1]
    y, _ = encode_label(pd.Series([False, True, True], name="b"), 1)
    assert y.tolist() == [0, 1, 1]
    y, _ = encode_label(pd.Series([0.0, 1.0, np.nan], name="f"), 1)
    assert y.tolist() == [0, 1, 0]


def test_label_errors() -> None:
    with pytest.raises(InputError, match="exactly two distinct values"):
        encode_label(pd.Series([0, 1, 2], name="d"), 1)
    with pytest.raises(ConfigError, match="positive"):
        encode_label(pd.Series(["good", "bad"], name="c"), 1)


def test_fraud_time_and_amount_must_not_be_tokenized() -> None:
    frame = pd.DataFrame(
        {"card_number": ["4111111111111111"], "terminal_id": ["t"], "timestamp": ["2025-01-01"],
         "amount_cents": [100], "merchant_category": ["food"], "is_fraud": [0]}
    )  # fmt: skip
    spec = parse_spec(
        {"input": {"path": "x.parquet"}, "pii": {"card_number": "pan", "timestamp": "date"},
         "model": {"task": "fraud", "label": "is_fraud"}}
    )  # fmt: skip
    with pytest.raises(
        ConfigError, match="time and amount columns must not be in \\[pii\\]: timestamp"
    ):
        resolve_columns(frame, spec)
