from __future__ import annotations

import pickle

import numpy as np
import pytest

from engine.errors import ContextMismatch, IntegrityError, ParameterError
from engine.he import CKKSKeys, EncryptedFrame, EncryptedVector, PublicContext, VectorKind, _wire

ATOL = 1e-6


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    return np.random.default_rng(3).uniform(-2, 2, size=(300, 5))


def test_scores_add(keys: CKKSKeys, public: PublicContext, x: np.ndarray) -> None:
    frame = EncryptedFrame.encrypt(x, public)
    a, b = frame.linear(np.ones(5), 1.0), frame.linear(np.arange(5.0), -1.0)
    total = a + b
    assert total.kind is VectorKind.SCORE
    np.testing.assert_allclose(keys.decrypt(total), x @ (np.ones(5) + np.arange(5.0)), atol=ATOL)


def test_column_sums_of_batches_add(keys: CKKSKeys, public: PublicContext, x: np.ndarray) -> None:
    first = EncryptedFrame.encrypt(x[:100], public).column_sums()
    second = EncryptedFrame.encrypt(x[100:], public).column_sums()
    empty = EncryptedFrame.encrypt(x[:0], public).column_sums()
    total = first + second + empty
    assert total.count == 300
    np.testing.assert_allclose(keys.decrypt(total), x.sum(axis=0), atol=1e-5)


def test_combining_under_another_context_raises(
    public: PublicContext, other_keys: CKKSKeys, x: np.ndarray
) -> None:
    mine = EncryptedFrame.encrypt(x, public).linear(np.ones(5))
    theirs = EncryptedFrame.encrypt(x, other_keys.public_context()).linear(np.ones(5))
    with pytest.raises(ContextMismatch):
        mine + theirs


def test_adding_mismatched_vectors(public: PublicContext, x: np.ndarray) -> None:
    frame = EncryptedFrame.encrypt(x, public)
    short = EncryptedFrame.encrypt(x[:10], public)
    with pytest.raises(ValueError, match="lengths"):
        frame.linear(np.ones(5)) + short.linear(np.ones(5))
    with pytest.raises(ValueError, match="SCORE"):
        frame.linear(np.ones(5)) + frame.column_sums()
    with pytest.raises(ValueError, match="SCORE"):
        frame.column_means() + frame.column_means()
    assert frame.linear(np.ones(5)).__add__(1.0) is NotImplemented


def test_real_packed_sums(keys: CKKSKeys, public: PublicContext, x: np.ndarray) -> None:
    frame = EncryptedFrame.encrypt(x, public, packing="real")
    np.testing.assert_allclose(keys.decrypt(frame.column_sums()), x.sum(axis=0), atol=1e-5)
    odd = EncryptedFrame.encrypt(x[:, :3], public, packing="complex")
    np.testing.assert_allclose(keys.decrypt(odd.column_sums()), x[:, :3].sum(axis=0), atol=1e-5)


def test_scale_mismatch_is_refused(public: PublicContext, x: np.ndarray) -> None:
    frame = EncryptedFrame.encrypt(x, public)
    a, b = frame.linear(np.ones(5)), frame.linear(np.ones(5))
    b._cts[0][0].scale = b._cts[0][0].scale * 2
    with pytest.raises(ParameterError, match="different scales"):
        a + b


def test_sum_overflow_is_caught(public: PublicContext) -> None:
    big = EncryptedFrame.encrypt(np.full((4, 1), 200_000.0), public).column_sums()
    with pytest.raises(ParameterError, match="encodable limit"):
        big + big + big


def test_bytes_round_trip(keys: CKKSKeys, public: PublicContext, x: np.ndarray) -> None:
    frame = EncryptedFrame.encrypt(x, public)
    for vector, expected in [
        (frame.linear(np.ones(5), 0.5), x.sum(axis=1) + 0.5),
        (frame.column_sums(), x.sum(axis=0)),
        (frame.column_means(), x.mean(axis=0)),
    ]:
        blob = vector.to_bytes()
        assert blob[0] == _wire.FORMAT_VERSION
        again = EncryptedVector.from_bytes(blob, public)
        assert again.kind is vector.kind
        assert len(again) == len(vector)
        np.testing.assert_allclose(keys.decrypt(again), expected, atol=1e-5)
        assert keys.decrypt(blob) == pytest.approx(keys.decrypt(vector), abs=1e-12)


def test_vector_from_another_context(public: PublicContext, other_keys: CKKSKeys) -> None:
    blob = EncryptedFrame.encrypt(np.ones((2, 2)), public).linear([1.0, 1.0]).to_bytes()
    with pytest.raises(ContextMismatch):
        EncryptedVector.from_bytes(blob, other_keys.public_context())


def _rewrite(blob: bytes, **changes: object) -> bytes:
    message = _wire.unpack(blob, expected=_wire.Kind.VECTOR)
    header = {**message.header, **changes}
    return _wire.pack(
        _wire.Message(
            kind=message.kind, fingerprint=message.fingerprint, header=header, parts=message.parts
        )
    )


def test_tampered_vector_headers(public: PublicContext) -> None:
    frame = EncryptedFrame.encrypt(np.ones((5, 3)), public)
    blob = frame.linear([1.0, 1.0, 1.0]).to_bytes()
    with pytest.raises(ParameterError, match="slot count"):
        EncryptedVector.from_bytes(_rewrite(blob, lengths=[5000]), public)
    with pytest.raises(IntegrityError, match="wrong number"):
        EncryptedVector.from_bytes(_rewrite(blob, lengths=[2, 3]), public)
    with pytest.raises(IntegrityError, match="wrong number"):
        EncryptedVector.from_bytes(_rewrite(blob, width=2), public)
    with pytest.raises(IntegrityError, match="unknown kind"):
        EncryptedVector.from_bytes(_rewrite(blob, kind="median"), public)
    with pytest.raises(IntegrityError, match="packing"):
        EncryptedVector.from_bytes(_rewrite(blob, packing="diagonal"), public)
    with pytest.raises(ParameterError, match="bound"):
        EncryptedVector.from_bytes(_rewrite(blob, bound=1e12), public)
    sums = frame.column_sums().to_bytes()
    with pytest.raises(IntegrityError, match="wrong number"):
        EncryptedVector.from_bytes(_rewrite(sums, n_features=9), public)


def test_margins_only_for_probabilities(public: PublicContext) -> None:
    vector = EncryptedFrame.encrypt(np.ones((2, 2)), public).linear([1.0, 1.0])
    with pytest.raises(ValueError, match="PROBABILITY"):
        vector.margins()


def test_vectors_do_not_pickle(public: PublicContext) -> None:
    vector = EncryptedFrame.encrypt(np.ones((2, 2)), public).linear([1.0, 1.0])
    with pytest.raises(TypeError, match="to_bytes"):
        pickle.dumps(vector)
    assert "score" in repr(vector)
