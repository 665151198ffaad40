from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from engine.errors import NotFittedError, ParameterError
from engine.he import (
    CKKSKeys,
    EncryptedFrame,
    EncryptedModel,
    PublicContext,
    SigmoidPolynomial,
    _tenseal,
)

ROOT = Path(__file__).resolve().parents[3]
PII = {"customer_id", "full_name", "ssn", "card_number", "iban", "email", "phone", "date_of_birth"}


@pytest.fixture(scope="module")
def loans() -> tuple[pd.DataFrame, np.ndarray]:
    df = pd.read_csv(ROOT / "tests/data/loans_pii.csv.gz", usecols=lambda c: c not in PII)
    y = df.pop("delinquent").to_numpy()
    x = df.select_dtypes("number")
    return x.fillna(x.median()), y


@pytest.fixture(scope="module")
def german() -> tuple[pd.DataFrame, np.ndarray]:
    df = pd.read_csv(ROOT / "engine/datasets/data/german_credit.csv.gz")
    y = (df.pop("creditability") == "bad").to_numpy().astype(int)
    return pd.get_dummies(df, dtype=float), y


def _fit(x: pd.DataFrame, y: np.ndarray) -> Pipeline:
    train, _ = train_test_split(np.arange(len(y)), test_size=0.3, random_state=0, stratify=y)
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(
        x.iloc[train], y[train]
    )


@pytest.mark.parametrize("dataset", ["loans", "german"])
def test_encrypted_scores_match_sklearn_on_real_data(
    request: pytest.FixtureRequest, keys: CKKSKeys, public: PublicContext, dataset: str
) -> None:
    x, y = request.getfixturevalue(dataset)
    pipe = _fit(x, y)
    model = EncryptedModel.from_sklearn(pipe)
    frame = EncryptedFrame.encrypt(model.preprocess(x), public)  # owner standardizes, encrypts
    blob = model.decision_function(frame).to_bytes()  # a worker scores
    encrypted = keys.decrypt(blob)  # the owner decrypts
    plain = pipe.decision_function(x)
    assert np.max(np.abs(encrypted - plain)) < 1e-5
    assert round(roc_auc_score(y, encrypted), 4) == round(roc_auc_score(y, plain), 4)


def test_linear_regression_pipeline(
    keys: CKKSKeys, public: PublicContext, german: tuple[pd.DataFrame, np.ndarray]
) -> None:
    x, _ = german
    # CKKS error is absolute per slot times the weights: ~1e-9 * sum |w_j|. A target in
    # months keeps the weights moderate; a target in currency units scales the error up.
    target = x["duration_in_month"].to_numpy()
    features = x.drop(columns="duration_in_month")
    pipe = make_pipeline(StandardScaler(), LinearRegression()).fit(features, target)
    model = EncryptedModel.from_sklearn(pipe)
    assert model.kind == "linear"
    frame = EncryptedFrame.encrypt(model.preprocess(features), public)
    encrypted = keys.decrypt(model.decision_function(frame))
    assert np.max(np.abs(encrypted - pipe.predict(features))) < 1e-5


def test_folded_scaler_on_raw_features_in_range(
    keys: CKKSKeys, public: PublicContext, german: tuple[pd.DataFrame, np.ndarray]
) -> None:
    x, y = german
    pipe = _fit(x, y)
    model = EncryptedModel.from_sklearn(pipe, fold_scaler=True)
    assert model.mean is None
    np.testing.assert_array_equal(model.preprocess(x), x.to_numpy())
    frame = EncryptedFrame.encrypt(x, public)  # raw German features fit the range
    encrypted = keys.decrypt(model.decision_function(frame))
    assert np.max(np.abs(encrypted - pipe.decision_function(x))) < 1e-5


def test_raw_incomes_are_out_of_range_so_standardize_first(
    public: PublicContext, loans: tuple[pd.DataFrame, np.ndarray]
) -> None:
    x, _ = loans
    with pytest.raises(ParameterError, match=r"'annual_income'.*encodable limit"):
        EncryptedFrame.encrypt(x, public)


def test_polynomial_probabilities_on_german_credit(
    deep_keys: CKKSKeys, german: tuple[pd.DataFrame, np.ndarray]
) -> None:
    x, y = german
    pipe = _fit(x, y)
    model = EncryptedModel.from_sklearn(pipe)
    frame = EncryptedFrame.encrypt(model.preprocess(x), deep_keys.public_context())
    vector = model.predict_proba_poly(frame)
    prob = deep_keys.decrypt(vector)
    exact = pipe.predict_proba(x)[:, 1]
    margin = pipe.decision_function(x)
    assert np.all(np.abs(margin) < 8)
    poly = SigmoidPolynomial()
    assert np.max(np.abs(prob - poly.evaluate(margin))) < 1e-5  # CKKS error
    assert np.max(np.abs(prob - exact)) <= poly.max_error + 1e-5  # approximation error
    assert abs(roc_auc_score(y, prob) - roc_auc_score(y, exact)) < 0.01
    np.testing.assert_allclose(deep_keys.decrypt(vector.margins()), margin, atol=1e-5)


def test_margins_outside_the_sigmoid_range_are_detected(
    deep_keys: CKKSKeys, loans: tuple[pd.DataFrame, np.ndarray]
) -> None:
    x, y = loans
    pipe = _fit(x, y)
    model = EncryptedModel.from_sklearn(pipe)
    rows = x.iloc[:600]
    frame = EncryptedFrame.encrypt(model.preprocess(rows), deep_keys.public_context())
    vector = model.predict_proba_poly(frame, degree=5)
    margin = pipe.decision_function(rows)
    outside = int(np.sum(np.abs(margin) > 8))
    assert outside > 0
    with pytest.raises(ParameterError, match=f"{outside} of 600 margins fall outside"):
        deep_keys.decrypt(vector)
    prob = deep_keys.decrypt(vector, on_out_of_range="exact")
    far = np.abs(margin) > 8
    np.testing.assert_allclose(prob[far], pipe.predict_proba(rows)[far, 1], atol=1e-6)
    assert np.max(np.abs(prob[~far] - SigmoidPolynomial(degree=5).evaluate(margin[~far]))) < 1e-5


def test_logistic_needs_real_packing_and_a_logistic_model(
    deep_keys: CKKSKeys, german: tuple[pd.DataFrame, np.ndarray]
) -> None:
    x, y = german
    model = EncryptedModel.from_sklearn(_fit(x, y))
    packed = EncryptedFrame.encrypt(
        model.preprocess(x.iloc[:4]), deep_keys.public_context(), packing="complex"
    )
    with pytest.raises(ParameterError, match="packing='real'"):
        model.predict_proba_poly(packed)
    linear = EncryptedModel(kind="linear", weights=model.weights, intercept=0.0)
    with pytest.raises(TypeError, match="LogisticRegression"):
        linear.predict_proba_poly(packed)


def test_logistic_needs_relin_keys(deep_keys: CKKSKeys) -> None:
    params = deep_keys.params
    blob = _tenseal.serialize_context(deep_keys._ctx, secret_key=False, relin_keys=False)
    bare = PublicContext._load(params, blob)
    frame = EncryptedFrame.encrypt(np.ones((2, 2)), bare, packing="real")
    with pytest.raises(ParameterError, match="relinearization"):
        frame.logistic([1.0, 1.0])


def test_unfitted_estimators_raise_not_fitted() -> None:
    with pytest.raises(NotFittedError, match="LogisticRegression is not fitted"):
        EncryptedModel.from_sklearn(LogisticRegression())
    with pytest.raises(NotFittedError):
        EncryptedModel.from_sklearn(make_pipeline(StandardScaler(), LinearRegression()))
    x = np.random.default_rng(0).normal(size=(20, 2))
    half = Pipeline([("scale", StandardScaler()), ("lr", LinearRegression().fit(x, x[:, 0]))])
    with pytest.raises(NotFittedError, match="StandardScaler"):
        EncryptedModel.from_sklearn(half)


def test_unsupported_estimators() -> None:
    x = np.random.default_rng(0).normal(size=(30, 3))
    with pytest.raises(TypeError, match="Ridge"):
        EncryptedModel.from_sklearn(Ridge().fit(x, x[:, 0]))
    with pytest.raises(TypeError, match="pipelines"):
        EncryptedModel.from_sklearn(
            make_pipeline(MinMaxScaler(), LinearRegression()).fit(x, x[:, 0])
        )
    labels = np.arange(30) % 3
    with pytest.raises(ValueError, match="binary"):
        EncryptedModel.from_sklearn(LogisticRegression().fit(x, labels))


def test_wrong_feature_count_and_names(public: PublicContext) -> None:
    df = pd.DataFrame(np.random.default_rng(1).normal(size=(40, 3)), columns=["a", "b", "c"])
    y = (df["a"] > 0).to_numpy().astype(int)
    model = EncryptedModel.from_sklearn(LogisticRegression().fit(df, y))
    assert model.feature_names == ("a", "b", "c")
    with pytest.raises(ValueError, match="expects 3 features, the frame has 2"):
        model.decision_function(EncryptedFrame.encrypt(df[["a", "b"]], public))
    with pytest.raises(ValueError, match="column 1 is 'c', the model expects 'b'"):
        model.decision_function(EncryptedFrame.encrypt(df[["a", "c", "b"]], public))
    with pytest.raises(ValueError, match="lacks"):
        model.preprocess(df[["a", "b"]])
    with pytest.raises(ValueError, match="expects 3 features, X has 2"):
        model.preprocess(df[["a", "b"]].to_numpy())
    # preprocess selects the model's columns in order, whatever the frame's order.
    np.testing.assert_array_equal(model.preprocess(df[["c", "b", "a"]]), df.to_numpy())
    with pytest.raises(ValueError, match="feature_names has 2"):
        EncryptedModel(
            kind="linear", weights=(1.0, 2.0, 3.0), intercept=0.0, feature_names=("a", "b")
        )
    with pytest.raises(ValueError, match="empty"):
        EncryptedModel(kind="linear", weights=(), intercept=0.0)
