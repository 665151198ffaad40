import numpy as np
import pandas as pd
import pytest

from engine.datasets import german_credit
from engine.errors import InputError, NotFittedError
from engine.models import LinearRiskModel


def _german() -> tuple[pd.DataFrame, np.ndarray]:
    df = german_credit()
    return df, (df["creditability"] == "bad").to_numpy().astype(int)


def test_margin_is_the_linear_map_on_preprocessed_features() -> None:
    df, y = _german()
    model = LinearRiskModel(numeric=["duration_in_month", "credit_amount"], categorical=["purpose"])
    model.fit(df, y)
    design = model.preprocess(df)
    assert design.shape == (len(df), len(model.features_))
    margin = design @ model.weights_ + model.intercept_
    np.testing.assert_allclose(margin, model.decision_function(df))
    assert abs(design[:, :2].mean(axis=0)).max() < 1e-9  # standardized


def test_unseen_category_and_missing_values_are_handled() -> None:
    df, y = _german()
    model = LinearRiskModel(numeric=["credit_amount"], categorical=["purpose"]).fit(df, y)
    odd = df.head(3).copy()
    odd.loc[0, "purpose"] = "spaceship"
    odd.loc[1, "credit_amount"] = np.nan
    assert np.isfinite(model.predict_proba(odd)).all()


def test_errors() -> None:
    df, _ = _german()
    with pytest.raises(NotFittedError):
        LinearRiskModel(numeric=["credit_amount"]).preprocess(df)
    with pytest.raises(InputError, match="only one label"):
        LinearRiskModel(numeric=["credit_amount"]).fit(df, np.zeros(len(df)))


def test_constant_and_all_missing_features_get_weight_zero() -> None:
    df, y = _german()
    df = df.assign(constant=3.0, empty=np.nan)
    model = LinearRiskModel(numeric=["credit_amount", "constant", "empty"]).fit(df, y)
    weights = dict(zip(model.features_, model.weights_, strict=True))
    assert weights["constant"] == 0.0
    assert weights["empty"] == 0.0
    assert weights["credit_amount"] != 0.0
