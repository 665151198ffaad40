from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import engine.pandas_ext  # noqa: F401  (registers df.finveil)
from engine.errors import NotFittedError, TokenizationError
from engine.keys import KeyRing
from engine.pandas_ext import TokenizeTransformer
from tests.engine.pandas_ext.conftest import PII

NUMERIC = ["duration_in_month", "credit_amount", "age_in_years"]


def _pipeline(ring: KeyRing) -> object:
    features = make_column_transformer((StandardScaler(), NUMERIC), remainder="drop")
    return make_pipeline(TokenizeTransformer(PII, keyring=ring), features, LogisticRegression())


def test_pipeline_fits_and_predicts_on_tokens(clean: pd.DataFrame, ring: KeyRing) -> None:
    y = (clean["creditability"] == "bad").astype(int)
    pipe = _pipeline(ring)
    pipe.fit(clean, y)  # type: ignore[attr-defined]
    proba = pipe.predict_proba(clean)[:, 1]  # type: ignore[attr-defined]
    assert proba.shape == (len(clean),)
    # The tokenizer changes no feature: same model as without it.
    ref = make_pipeline(
        make_column_transformer((StandardScaler(), NUMERIC)), LogisticRegression()
    ).fit(clean, y)
    np.testing.assert_allclose(proba, ref.predict_proba(clean)[:, 1])


def test_transform_tokenizes_and_fit_returns_self(clean: pd.DataFrame, ring: KeyRing) -> None:
    step = TokenizeTransformer(PII, keyring=ring)
    assert step.fit(clean) is step
    out = step.transform(clean)
    assert list(out.columns) == list(clean.columns)
    assert list(step.get_feature_names_out()) == list(clean.columns)
    for column in PII:
        assert (out[column] != clean[column]).all()
    assert step.n_quarantined_ == 0
    assert {k.value: v for k, v in step.key_versions_.items()} == dict.fromkeys(PII.values(), 1)
    assert step.key_ids()[next(iter(step.key_versions_))].startswith("tokenize.")
    # The accessor with the same keyring inverts the transformer's tokens.
    pd.testing.assert_frame_equal(out.finveil.detokenize(PII, keyring=ring), clean)


def test_fit_pins_the_key_version_across_rotation(clean: pd.DataFrame, ring: KeyRing) -> None:
    step = TokenizeTransformer({"ssn": "ssn"}, keyring=ring).fit(clean)
    before = step.transform(clean)
    ring.rotate("tokenize.ssn")
    pd.testing.assert_frame_equal(step.transform(clean), before)
    refit = clone(step).fit(clean)
    assert refit.key_versions_ != step.key_versions_
    assert (refit.transform(clean)["ssn"] != before["ssn"]).all()


def test_quarantine_raises_with_counts_not_values(credit: pd.DataFrame, ring: KeyRing) -> None:
    frame = credit.iloc[:130]
    step = TokenizeTransformer(PII, keyring=ring).fit(frame)
    with pytest.raises(TokenizationError, match=r"2 of 130 rows") as info:
        step.transform(frame)
    message = str(info.value)
    assert "'card_number': 1" in message
    assert "'email': 1" in message
    for column in PII:
        for value in frame.loc[[17, 123], column]:
            assert str(value) not in message


def test_quarantine_drop_keeps_the_reasons(credit: pd.DataFrame, ring: KeyRing) -> None:
    frame = credit.iloc[:130]
    step = TokenizeTransformer(PII, keyring=ring, on_quarantine="drop").fit(frame)
    out = step.transform(frame)
    assert len(out) == 128
    assert step.n_quarantined_ == 2
    assert set(step.quarantine_["row"]) == {17, 123}
    assert set(step.quarantine_.columns) == {"row", "column", "reason"}


def test_errors(clean: pd.DataFrame, ring: KeyRing) -> None:
    with pytest.raises(NotFittedError):
        TokenizeTransformer(PII, keyring=ring).transform(clean)
    with pytest.raises(NotFittedError):
        TokenizeTransformer(PII, keyring=ring).get_feature_names_out()
    with pytest.raises(ValueError, match="not in X"):
        TokenizeTransformer({"nope": "ssn"}, keyring=ring).fit(clean)
    with pytest.raises(ValueError, match="on_quarantine"):
        TokenizeTransformer(PII, keyring=ring, on_quarantine="skip").fit(clean)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="DataFrame"):
        TokenizeTransformer(PII, keyring=ring).fit(clean.to_numpy())  # type: ignore[arg-type]


def test_fitted_state_holds_no_key_bytes(clean: pd.DataFrame, ring: KeyRing) -> None:
    step = TokenizeTransformer(PII, keyring=ring).fit(clean)
    learned = {k: v for k, v in vars(step).items() if k.endswith("_")}
    blob = pickle.dumps(learned)
    for kind in step.key_versions_:
        secret = ring.primary(f"tokenize.{kind.value}").secret
        assert secret not in blob
    assert clone(step).get_params()["keyring"] is ring


def test_pickle_refuses_a_keyring_but_saves_without(clean: pd.DataFrame, ring: KeyRing) -> None:
    step = TokenizeTransformer(PII, keyring=ring).fit(clean)
    with pytest.raises(TypeError, match="keyring=None"):
        pickle.dumps(step)
    step.set_params(keyring=None)
    loaded = pickle.loads(pickle.dumps(step))  # noqa: S301 (our own bytes)
    assert loaded.key_versions_ == step.key_versions_
    assert loaded.keyring is None
