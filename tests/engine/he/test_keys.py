from __future__ import annotations

import doctest
import pickle

import numpy as np
import pytest

from engine.errors import ContextMismatch, IntegrityError
from engine.he import CKKSKeys, CKKSParams, EncryptedFrame, PublicContext, _keys, _wire


def test_docstring_example() -> None:
    result = doctest.testmod(_keys, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0


def test_decrypting_under_another_context_raises(
    keys: CKKSKeys, other_keys: CKKSKeys, public: PublicContext
) -> None:
    # TenSEAL itself returns numbers near 1e19 here, with no error.
    vector = EncryptedFrame.encrypt(np.ones((4, 3)), public).linear([1.0, 2.0, 3.0])
    assert keys.decrypt(vector) == pytest.approx([6.0] * 4, abs=1e-6)
    with pytest.raises(ContextMismatch, match=public.fingerprint):
        other_keys.decrypt(vector)
    with pytest.raises(ContextMismatch):
        other_keys.decrypt(vector.to_bytes())


def test_keys_round_trip(keys: CKKSKeys, public: PublicContext) -> None:
    blob = keys.to_bytes()
    assert blob[0] == _wire.FORMAT_VERSION
    again = CKKSKeys.from_bytes(blob)
    assert again.fingerprint == keys.fingerprint
    frame = EncryptedFrame.encrypt(np.arange(6.0).reshape(3, 2), public)
    np.testing.assert_allclose(again.decrypt(frame), np.arange(6.0).reshape(3, 2), atol=1e-7)


def test_keys_with_a_foreign_public_part_are_rejected(keys: CKKSKeys, other_keys: CKKSKeys) -> None:
    mine = _wire.unpack(keys.to_bytes(), expected=_wire.Kind.SECRET_KEYS)
    theirs = other_keys.public_context()
    mixed = _wire.Message(
        kind=mine.kind,
        fingerprint=theirs._fp,
        header=mine.header,
        parts=(theirs._blob, mine.parts[1]),
    )
    with pytest.raises(IntegrityError, match="does not belong"):
        CKKSKeys.from_bytes(_wire.pack(mixed))
    public_only = _wire.Message(
        kind=mine.kind,
        fingerprint=mine.fingerprint,
        header=mine.header,
        parts=(mine.parts[0], mine.parts[0]),
    )
    with pytest.raises(IntegrityError, match="no secret key"):
        CKKSKeys.from_bytes(_wire.pack(public_only))
    one_part = _wire.Message(
        kind=mine.kind, fingerprint=mine.fingerprint, header=mine.header, parts=mine.parts[:1]
    )
    with pytest.raises(IntegrityError, match="malformed"):
        CKKSKeys.from_bytes(_wire.pack(one_part))


def test_keys_never_pickle_and_repr_shows_no_key(keys: CKKSKeys) -> None:
    with pytest.raises(TypeError, match="must not be pickled"):
        pickle.dumps(keys)
    assert repr(keys) == (f"CKKSKeys(preset='linear-8192', fingerprint='{keys.fingerprint}')")


def test_decrypt_accepts_frame_bytes(keys: CKKSKeys, public: PublicContext) -> None:
    x = np.array([[1.5, -2.0, 3.0]])
    blob = EncryptedFrame.encrypt(x, public).to_bytes()
    np.testing.assert_allclose(keys.decrypt(blob), x, atol=1e-7)


def test_logistic_keys_round_trip_through_bytes() -> None:
    keys = CKKSKeys.generate(CKKSParams.LOGISTIC)
    loaded = CKKSKeys.from_bytes(keys.to_bytes())
    assert loaded.fingerprint == keys.fingerprint
