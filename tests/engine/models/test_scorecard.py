import math

import numpy as np
import pandas as pd
import pytest

from engine.datasets import DEMO_PII, german_credit
from engine.errors import InputError, NotFittedError
from engine.models import Scorecard
from engine.models._scorecard import _smoothed_woe

LOANS = "tests/data/loans_pii.csv.gz"


def _german() -> tuple[pd.DataFrame, np.ndarray, list[str], list[str]]:
    df = german_credit()
    y = (df["creditability"] == "bad").to_numpy().astype(int)
    numeric = [c for c in df.columns if df[c].dtype.kind in "iu"]
    categorical = [c for c in df.columns if c not in numeric and c != "creditability"]
    return df, y, numeric, categorical


def test_german_scorecard_separates_and_scores_add_up() -> None:
    df, y, numeric, categorical = _german()
    card = Scorecard(numeric=numeric, categorical=categorical).fit(df, y)
    assert card.fit(df, y) is card
    margin = card.decision_function(df)
    np.testing.assert_allclose(margin, card.transform(df) @ card.coef_ + card.intercept_)
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y, margin) > 0.75
    # Points of a record's bins add up to its score, and the scale is as documented.
    table = card.points_table()
    woe = card.transform(df.head(5))
    per_feature = []
    for j, name in enumerate(card.features_):
        rows = table[table["feature"] == name]
        lookup = dict(zip(rows["woe"], rows["points"], strict=True))
        per_feature.append([lookup[w] for w in woe[:, j]])
    np.testing.assert_allclose(np.sum(per_feature, axis=0), card.score(df.head(5)))
    factor = 20 / math.log(2)
    assert card.points_from_margin(np.array([-math.log(50.0)]))[0] == pytest.approx(600.0)
    assert card.points_from_margin(np.array([-math.log(100.0)]))[0] == pytest.approx(620.0)
    assert card.factor_ == pytest.approx(factor)


def test_points_are_monotone_in_woe() -> None:
    df, y, numeric, categorical = _german()
    card = Scorecard(numeric=numeric, categorical=categorical).fit(df, y)
    table = card.points_table()
    for j, name in enumerate(card.features_):
        rows = table[table["feature"] == name].sort_values("woe")
        diffs = np.diff(rows["points"].to_numpy())
        # Points move against the coefficient: more WoE (safer) -> more points when coef < 0.
        if card.coef_[j] < 0:
            assert (diffs >= -1e-12).all(), name
        else:
            assert (diffs <= 1e-12).all(), name
    assert (card.coef_ < 0).sum() > len(card.coef_) // 2


def test_woe_smoothing_with_empty_and_pure_bins() -> None:
    bad = np.array([0.0, 0.0, 5.0, 5.0])
    good = np.array([0.0, 10.0, 0.0, 10.0])
    woe = _smoothed_woe(bad, good, smoothing=1.0)
    assert woe[0] == 0.0  # empty bin: neutral
    assert np.isfinite(woe).all()
    # Hand computation: G = 20, B = 10, N = 30, pseudo-counts 2/3 good and 1/3 bad.
    expected_pure_good = math.log((10 + 2 / 3) / (1 / 3)) - math.log(2.0)
    expected_pure_bad = math.log((2 / 3) / (5 + 1 / 3)) - math.log(2.0)
    assert woe[1] == pytest.approx(expected_pure_good)
    assert woe[2] == pytest.approx(expected_pure_bad)
    assert woe[3] == pytest.approx(math.log((10 + 2 / 3) / (5 + 1 / 3)) - math.log(2.0))


def test_missing_unseen_constant_and_all_missing_features() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=400)
    y = (x + rng.normal(size=400) > 0.5).astype(int)
    df = pd.DataFrame(
        {"x": x, "const": 3.0, "empty": np.nan, "cat": rng.choice(["a", "b"], size=400)}
    )
    card = Scorecard(numeric=["x", "const", "empty"], categorical=["cat"], n_bins=5).fit(df, y)
    woe = card.transform(df)
    assert (woe[:, 1] == 0).all()
    assert (woe[:, 2] == 0).all()
    assert len(card.edges_["x"]) == 4
    odd = pd.DataFrame({"x": [np.nan], "const": [3.0], "empty": [1.0], "cat": ["zzz"]})
    row = card.transform(odd)[0]
    assert row[0] == 0.0  # no missing x in training: the missing bin is empty
    assert row[3] == 0.0  # unseen category
    assert np.isfinite(card.score(odd)).all()


def test_errors() -> None:
    df, y, numeric, _ = _german()
    with pytest.raises(NotFittedError):
        Scorecard(numeric=numeric).transform(df)
    with pytest.raises(NotFittedError):
        Scorecard(numeric=numeric).score(df)
    with pytest.raises(InputError, match="one class"):
        Scorecard(numeric=numeric).fit(df, np.zeros(len(df), dtype=int))
    with pytest.raises(InputError, match="missing columns"):
        Scorecard(numeric=["nope"]).fit(df, y)
    with pytest.raises(ValueError, match="n_bins"):
        Scorecard(numeric=numeric, n_bins=1).fit(df, y)
    with pytest.raises(InputError, match="0/1"):
        Scorecard(numeric=numeric).fit(df, y * 2)


def test_loans_scorecard() -> None:
    loans = pd.read_csv(LOANS, dtype={c: "str" for c in DEMO_PII})
    y = loans["delinquent"].to_numpy()
    numeric = ["annual_income", "debt_to_income", "interest_rate", "months_since_last_delinq"]
    card = Scorecard(numeric=numeric, categorical=["grade", "homeownership"]).fit(loans, y)
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y, card.decision_function(loans)) > 0.6
    assert np.isfinite(card.score(loans)).all()


@pytest.mark.tenseal
def test_encrypted_scorecard_margins_match_plaintext() -> None:
    from engine.he import CKKSKeys, EncryptedFrame

    df, y, numeric, categorical = _german()
    card = Scorecard(numeric=numeric, categorical=categorical).fit(df, y)
    keys = CKKSKeys.generate()
    # The owner looks up WoE values and encrypts; a worker needs only the public context.
    encrypted = EncryptedFrame.encrypt(card.transform(df), keys.public_context())
    margin = keys.decrypt(encrypted.linear(card.coef_, card.intercept_))
    np.testing.assert_allclose(margin, card.decision_function(df), rtol=0, atol=1e-5)
    np.testing.assert_allclose(card.points_from_margin(margin), card.score(df), atol=1e-3)
