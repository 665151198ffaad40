from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import engine.pandas_ext  # noqa: F401  (registers df.finveil)
from engine.errors import InputError, KeyNotFound
from engine.he import CKKSKeys
from engine.keys import KeyPurpose, KeyRing
from engine.tokenize import Kind, tokenize_frame
from tests.engine.pandas_ext.conftest import PII


def test_accessor_is_registered(clean: pd.DataFrame) -> None:
    assert type(clean.finveil).__name__ == "FinVeilAccessor"


def test_tokenize_uses_the_job_key_ids_and_round_trips(clean: pd.DataFrame, ring: KeyRing) -> None:
    out = clean.finveil.tokenize(PII, keyring=ring)
    assert len(out.frame) == len(clean)
    assert out.quarantine.empty
    for column in PII:
        assert (out.frame[column] != clean[column]).all()
        assert out.protection[column].key_id == f"tokenize.{PII[column]}"
        assert out.protection[column].key_version == 1
    # Same tokens as the core with the same keys (what finveil run would write).
    keys = {Kind(k): ring.primary(f"tokenize.{k}") for k in PII.values()}
    pd.testing.assert_frame_equal(out.frame, tokenize_frame(clean, PII, keys).frame)
    # Non-PII columns untouched.
    pd.testing.assert_series_equal(out.frame["credit_amount"], clean["credit_amount"])
    back = out.frame.finveil.detokenize(PII, keyring=ring)
    pd.testing.assert_frame_equal(back, clean)


def test_tokenize_quarantines_malformed_rows(credit: pd.DataFrame, ring: KeyRing) -> None:
    out = credit.iloc[:130].finveil.tokenize(PII, keyring=ring)
    assert set(out.quarantine["row"]) == {17, 123}
    assert len(out.frame) == 128
    assert not set(out.frame.index) & {17, 123}


def test_detokenize_after_rotation_needs_the_protection(clean: pd.DataFrame, ring: KeyRing) -> None:
    out = clean.finveil.tokenize({"ssn": "ssn"}, keyring=ring)
    assert ring.rotate("tokenize.ssn") == 2
    pinned = out.frame.finveil.detokenize({"ssn": "ssn"}, keyring=ring, protection=out.protection)
    pd.testing.assert_frame_equal(pinned, clean)
    # With the new primary the tokens decrypt to other (valid-format) values, not the raw.
    unpinned = out.frame.finveil.detokenize({"ssn": "ssn"}, keyring=ring)
    assert (unpinned["ssn"] != clean["ssn"]).any()
    new = clean.finveil.tokenize({"ssn": "ssn"}, keyring=ring)
    assert new.protection["ssn"].key_version == 2
    assert (new.frame["ssn"] != out.frame["ssn"]).all()


def test_detokenize_with_unknown_version_fails(clean: pd.DataFrame, ring: KeyRing) -> None:
    out = clean.finveil.tokenize({"ssn": "ssn"}, keyring=ring)
    bogus = {"ssn": dataclasses.replace(out.protection["ssn"], key_version=7)}
    with pytest.raises(KeyNotFound):
        out.frame.finveil.detokenize({"ssn": "ssn"}, keyring=ring, protection=bogus)


def test_unknown_kind_is_rejected(clean: pd.DataFrame, ring: KeyRing) -> None:
    with pytest.raises(ValueError, match="nope"):
        clean.finveil.tokenize({"ssn": "nope"}, keyring=ring)
    with pytest.raises(TypeError, match="pii"):
        clean.finveil.tokenize({}, keyring=ring)


def test_default_keyring_is_the_local_one(
    clean: pd.DataFrame, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FINVEIL_HOME", str(tmp_path))
    monkeypatch.delenv("FINVEIL_KEYRING_PASSPHRASE", raising=False)
    out = clean.finveil.tokenize({"ssn": "ssn"})
    ring, created = KeyRing.open_default()
    assert not created
    expected = {Kind.SSN: ring.ensure("tokenize.ssn", KeyPurpose.TOKENIZE)}
    pd.testing.assert_frame_equal(out.frame, tokenize_frame(clean, {"ssn": "ssn"}, expected).frame)


@pytest.fixture(scope="module")
def ckks() -> CKKSKeys:
    return CKKSKeys.generate()


def test_encrypt_defaults_to_numeric_columns(clean: pd.DataFrame, ckks: CKKSKeys) -> None:
    enc = clean.finveil.encrypt(ckks.public_context())
    numeric = clean.select_dtypes("number")
    decrypted = ckks.decrypt(enc)
    assert decrypted.shape == numeric.shape
    np.testing.assert_allclose(decrypted, numeric.to_numpy(float), atol=1e-5)


def test_encrypt_named_columns_and_linear(clean: pd.DataFrame, ckks: CKKSKeys) -> None:
    cols = ["age_in_years", "duration_in_month"]
    enc = clean.finveil.encrypt(ckks.public_context(), columns=cols)
    w = np.array([0.5, -0.25])
    scores = ckks.decrypt(enc.linear(w, 1.0))
    np.testing.assert_allclose(scores, clean[cols].to_numpy(float) @ w + 1.0, atol=1e-5)


def test_encrypt_rejects_bad_columns(clean: pd.DataFrame, ckks: CKKSKeys) -> None:
    public = ckks.public_context()
    with pytest.raises(ValueError, match="not in the frame"):
        clean.finveil.encrypt(public, columns=["missing"])
    with pytest.raises(InputError):
        clean.finveil.encrypt(public, columns=["ssn"])
    with pytest.raises(ValueError, match="no numeric"):
        clean[["ssn"]].finveil.encrypt(public)


def test_encrypt_keeps_non_string_column_labels(ckks: CKKSKeys) -> None:
    frame = pd.DataFrame(np.arange(12, dtype=float).reshape(4, 3))
    enc = frame.finveil.encrypt(ckks.public_context())
    np.testing.assert_allclose(ckks.decrypt(enc), frame.to_numpy(), atol=1e-5)
    enc2 = frame.finveil.encrypt(ckks.public_context(), columns=[2, 0])
    np.testing.assert_allclose(ckks.decrypt(enc2), frame[[2, 0]].to_numpy(), atol=1e-5)
