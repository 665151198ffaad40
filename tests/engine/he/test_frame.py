from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from engine.errors import (
    ContextMismatch,
    InputError,
    IntegrityError,
    ParameterError,
    ScaleExhausted,
)
from engine.he import CKKSKeys, CKKSParams, EncryptedFrame, PublicContext, _wire

ATOL = 1e-6


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    return np.random.default_rng(7).normal(size=(5000, 7))


@pytest.mark.parametrize("packing", ["real", "complex"])
def test_round_trip_and_linear_across_chunks(
    keys: CKKSKeys, public: PublicContext, x: np.ndarray, packing: str
) -> None:
    frame = EncryptedFrame.encrypt(x, public, packing=packing)  # type: ignore[arg-type]
    assert frame.chunk_lengths == (4096, 904)  # longer than the slot count: two chunks
    assert (frame.count, frame.n_features, frame.packing) == (5000, 7, packing)
    np.testing.assert_allclose(keys.decrypt(frame), x, atol=ATOL)
    w = np.linspace(-1.5, 2.0, 7)
    scores = keys.decrypt(frame.linear(w, intercept=-0.25))
    np.testing.assert_allclose(scores, x @ w - 0.25, atol=1e-5)
    assert np.max(np.abs(scores - (x @ w - 0.25))) < 1e-6


def test_auto_packing_follows_the_context(public: PublicContext, deep_keys: CKKSKeys) -> None:
    assert EncryptedFrame.encrypt(np.ones((2, 2)), public).packing == "complex"
    assert EncryptedFrame.encrypt(np.ones((2, 2)), deep_keys.public_context()).packing == "real"
    with pytest.raises(ValueError, match="packing"):
        EncryptedFrame.encrypt(np.ones((2, 2)), public, packing="diagonal")  # type: ignore[arg-type]


def test_column_sums_and_means(keys: CKKSKeys, public: PublicContext, x: np.ndarray) -> None:
    frame = EncryptedFrame.encrypt(x, public)
    sums = frame.column_sums()
    assert len(sums) == 7
    np.testing.assert_allclose(keys.decrypt(sums), x.sum(axis=0), atol=1e-5)
    np.testing.assert_allclose(keys.decrypt(frame.column_means()), x.mean(axis=0), atol=1e-6)
    assert frame.column_sums().count == 5000


def test_dataframe_keeps_names(keys: CKKSKeys, public: PublicContext) -> None:
    df = pd.DataFrame({"age": [30, 41], "income_k": [52.5, 71.0], "flag": [True, False]})
    frame = EncryptedFrame.encrypt(df, public)
    assert frame.columns == ("age", "income_k", "flag")
    assert frame.has_column_names
    np.testing.assert_allclose(keys.decrypt(frame), df.to_numpy(dtype=float), atol=ATOL)
    with pytest.raises(InputError, match="'name' is not numeric"):
        EncryptedFrame.encrypt(pd.DataFrame({"name": ["a", "b"]}), public)


def test_bad_shapes_and_dtypes(public: PublicContext) -> None:
    with pytest.raises(ValueError, match="2-D"):
        EncryptedFrame.encrypt(np.ones(3), public)
    with pytest.raises(ValueError, match="no feature"):
        EncryptedFrame.encrypt(np.ones((3, 0)), public)
    with pytest.raises(InputError, match="numbers"):
        EncryptedFrame.encrypt(np.array([["a"]]), public)


def test_nan_is_rejected_with_column_and_row(public: PublicContext) -> None:
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [1.0, np.nan, 3.0]})
    with pytest.raises(InputError, match=r"column 'b' has NaN at row 1"):
        EncryptedFrame.encrypt(df, public)


def test_infinity_is_always_rejected(public: PublicContext) -> None:
    x = np.array([[1.0, np.inf], [2.0, 3.0]])
    with pytest.raises(InputError, match=r"column 'x1' has an infinity at row 0"):
        EncryptedFrame.encrypt(x, public, nan=[0.0, 0.0])


def test_nan_imputed_from_fitted_values(keys: CKKSKeys, public: PublicContext) -> None:
    df = pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [np.nan, 5.0, 6.0]})
    expected = np.array([[1.0, 5.5], [2.0, 5.0], [3.0, 6.0]])
    by_name = EncryptedFrame.encrypt(df, public, nan={"a": 2.0, "b": 5.5})
    np.testing.assert_allclose(keys.decrypt(by_name), expected, atol=ATOL)
    by_position = EncryptedFrame.encrypt(df, public, nan=np.array([2.0, 5.5]))
    np.testing.assert_allclose(keys.decrypt(by_position), expected, atol=ATOL)
    with pytest.raises(InputError, match="column 'b' has NaN"):
        EncryptedFrame.encrypt(df, public, nan={"a": 2.0})
    with pytest.raises(ValueError, match="unknown columns"):
        EncryptedFrame.encrypt(df, public, nan={"zzz": 2.0})
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        EncryptedFrame.encrypt(df, public, nan=[1.0, 2.0, 3.0])
    with pytest.raises(InputError, match="fill value for column 'a'"):
        EncryptedFrame.encrypt(df, public, nan=[np.nan, 1.0])
    with pytest.raises(ValueError, match="'reject'"):
        EncryptedFrame.encrypt(df, public, nan="median")  # type: ignore[arg-type]


def test_values_beyond_the_encodable_range(public: PublicContext) -> None:
    df = pd.DataFrame({"age": [40.0, 50.0], "annual_income": [85_000.0, 1_000_000.0]})
    with pytest.raises(ParameterError, match=r"'annual_income'.*limit 516,096"):
        EncryptedFrame.encrypt(df, public)
    # Two in-range columns sharing a complex slot can still overflow together.
    pair = np.array([[400_000.0, 400_000.0]])
    with pytest.raises(ParameterError, match="packed in one complex slot"):
        EncryptedFrame.encrypt(pair, public)
    assert EncryptedFrame.encrypt(pair, public, packing="real").count == 1


def test_score_range_is_checked_before_computing(keys: CKKSKeys, public: PublicContext) -> None:
    x = np.full((3, 2), 300_000.0)
    frame = EncryptedFrame.encrypt(x, public, packing="real")
    with pytest.raises(ParameterError, match="score bound"):
        frame.linear([1.0, 1.0])
    np.testing.assert_allclose(keys.decrypt(frame.linear([0.5, 0.5])), [300_000.0] * 3, atol=1e-4)
    with pytest.raises(ParameterError, match="column sums of 'x0'"):
        EncryptedFrame.encrypt(np.full((8193, 1), 300_000.0), public).column_sums()


def test_wrong_feature_count_and_bad_weights(public: PublicContext) -> None:
    frame = EncryptedFrame.encrypt(np.ones((2, 4)), public)
    with pytest.raises(ValueError, match="weights has 3 entries but the frame has 4 features"):
        frame.linear([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="finite"):
        frame.linear([1.0, np.nan, 3.0, 4.0])
    with pytest.raises(ValueError, match="intercept must be finite"):
        frame.linear([1.0] * 4, intercept=float("inf"))
    with pytest.raises(ValueError, match="all weights are zero"):
        frame.linear([0.0] * 4)


def test_zero_weights_are_skipped(keys: CKKSKeys, public: PublicContext) -> None:
    x = np.arange(12.0).reshape(4, 3)
    frame = EncryptedFrame.encrypt(x, public)
    np.testing.assert_allclose(
        keys.decrypt(frame.linear([0.0, 0.0, 2.0], 1.0)), 2 * x[:, 2] + 1, atol=ATOL
    )


def test_depth_exhausted() -> None:
    flat = CKKSParams(
        name="flat", poly_modulus_degree=8192, coeff_mod_bit_sizes=(60, 60), scale_bits=40
    )
    keys = CKKSKeys.generate(flat)
    frame = EncryptedFrame.encrypt(np.ones((3, 2)), keys.public_context())
    with pytest.raises(ScaleExhausted, match="needs 1 level"):
        frame.linear([1.0, 1.0])
    with pytest.raises(ScaleExhausted, match="column mean"):
        frame.column_means()
    # Sums need no level at all.
    np.testing.assert_allclose(keys.decrypt(frame.column_sums()), [3.0, 3.0], atol=ATOL)


def test_logistic_on_a_linear_preset_is_depth_exhausted(public: PublicContext) -> None:
    frame = EncryptedFrame.encrypt(np.ones((3, 2)), public)
    with pytest.raises(ScaleExhausted, match="needs 6 level"):
        frame.logistic([1.0, 1.0])


def test_empty_frame(keys: CKKSKeys, public: PublicContext) -> None:
    frame = EncryptedFrame.encrypt(np.empty((0, 3)), public)
    assert frame.count == 0
    assert len(frame) == 0
    assert keys.decrypt(frame.linear([1.0, 2.0, 3.0])).shape == (0,)
    np.testing.assert_array_equal(keys.decrypt(frame.column_sums()), np.zeros(3))
    with pytest.raises(ValueError, match="empty"):
        frame.column_means()
    again = EncryptedFrame.from_bytes(frame.to_bytes(), public)
    assert keys.decrypt(again).shape == (0, 3)


def test_bytes_round_trip(keys: CKKSKeys, public: PublicContext, x: np.ndarray) -> None:
    frame = EncryptedFrame.encrypt(pd.DataFrame(x[:10], columns=list("abcdefg")), public)
    blob = frame.to_bytes()
    assert blob[0] == _wire.FORMAT_VERSION
    again = EncryptedFrame.from_bytes(blob, public)
    assert again.columns == tuple("abcdefg")
    np.testing.assert_allclose(keys.decrypt(again), x[:10], atol=ATOL)
    assert "count=10" in repr(again)


def test_frame_from_another_context(public: PublicContext, other_keys: CKKSKeys) -> None:
    blob = EncryptedFrame.encrypt(np.ones((2, 2)), public).to_bytes()
    with pytest.raises(ContextMismatch):
        EncryptedFrame.from_bytes(blob, other_keys.public_context())


def _rewrite(blob: bytes, **changes: object) -> bytes:
    message = _wire.unpack(blob, expected=_wire.Kind.FRAME)
    header = {**message.header, **changes}
    return _wire.pack(
        _wire.Message(
            kind=message.kind, fingerprint=message.fingerprint, header=header, parts=message.parts
        )
    )


def test_tampered_frame_headers(public: PublicContext) -> None:
    blob = EncryptedFrame.encrypt(np.ones((5, 2)), public).to_bytes()
    with pytest.raises(ParameterError, match="slot count"):
        EncryptedFrame.from_bytes(_rewrite(blob, lengths=[5000]), public)
    with pytest.raises(IntegrityError, match="wrong number"):
        EncryptedFrame.from_bytes(_rewrite(blob, lengths=[2, 3]), public)
    with pytest.raises(ParameterError, match="bounds"):
        EncryptedFrame.from_bytes(_rewrite(blob, bounds=[1.0, 1e9]), public)
    with pytest.raises(IntegrityError, match="malformed"):
        EncryptedFrame.from_bytes(_rewrite(blob, packing="diagonal"), public)


def test_frames_do_not_pickle(public: PublicContext) -> None:
    with pytest.raises(TypeError, match="to_bytes"):
        pickle.dumps(EncryptedFrame.encrypt(np.ones((1, 1)), public))


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    x=hnp.arrays(
        np.float64,
        shape=st.tuples(st.integers(1, 40), st.integers(1, 5)),
        # Up to half the limit, so two columns sharing a complex slot stay in range too.
        elements=st.floats(-250_000.0, 250_000.0, allow_nan=False),
    ),
    packing=st.sampled_from(["real", "complex"]),
)
def test_round_trip_within_tolerance(
    keys: CKKSKeys, public: PublicContext, x: np.ndarray, packing: str
) -> None:
    frame = EncryptedFrame.encrypt(x, public, packing=packing)  # type: ignore[arg-type]
    np.testing.assert_allclose(keys.decrypt(frame), x, atol=ATOL)
    w = np.ones(x.shape[1]) / x.shape[1]
    np.testing.assert_allclose(keys.decrypt(frame.linear(w, 1.0)), x @ w + 1.0, atol=ATOL)
