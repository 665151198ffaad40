import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from engine.datasets import simulate_transactions
from engine.errors import InputError, NotFittedError
from engine.models import FraudModel, split_by_time


@pytest.fixture(scope="module")
def transactions() -> pd.DataFrame:
    return simulate_transactions(30_000, seed=5, n_customers=100, n_terminals=100)


def test_split_by_time_leaves_a_gap(transactions: pd.DataFrame) -> None:
    train, test = split_by_time(transactions, test_days=28, delay_days=7)
    t = transactions["timestamp"]
    last_day = t.max().normalize()
    assert t.loc[test].min() >= last_day - pd.Timedelta(days=27)
    gap = t.loc[test].min().normalize() - t.loc[train].max()
    assert gap > pd.Timedelta(days=7)
    assert len(train) + len(test) < len(transactions)
    with pytest.raises(InputError, match="too few days"):
        split_by_time(transactions, test_days=10_000)
    with pytest.raises(ValueError, match="positive"):
        split_by_time(transactions, test_days=0)


@pytest.mark.parametrize("kind", ["logistic", "boosting"])
def test_models_beat_chance(transactions: pd.DataFrame, kind: str) -> None:
    model = FraudModel(kind=kind, extra_numeric=["distance_km"])  # type: ignore[arg-type]
    features = model.features(transactions)
    assert {"log_amount", "card_count_7d", "merchant_category"} <= set(features.columns)
    train, test = split_by_time(transactions, test_days=28)
    y = model.labels(transactions)
    assert model.fit(features.loc[train], model.labels(transactions.loc[train])) is model
    scores = model.predict_proba(features.loc[test])
    assert roc_auc_score(y[transactions.index.get_indexer(test)], scores) > 0.7


def test_unseen_category_and_errors(transactions: pd.DataFrame) -> None:
    model = FraudModel()
    features = model.features(transactions)
    with pytest.raises(NotFittedError):
        model.predict_proba(features)
    model.fit(features, model.labels(transactions))
    odd = features.head(3).copy()
    odd["merchant_category"] = "0000"
    assert np.isfinite(model.predict_proba(odd)).all()
    boosting = FraudModel(kind="boosting").fit(features, model.labels(transactions))
    assert np.isfinite(boosting.predict_proba(odd)).all()
    with pytest.raises(ValueError, match="linear form"):
        boosting.preprocess(odd)
    with pytest.raises(InputError, match="one label"):
        FraudModel().fit(features, np.zeros(len(features)))
    with pytest.raises(ValueError, match="kind"):
        FraudModel(kind="forest").fit(features, model.labels(transactions))  # type: ignore[arg-type]
