from __future__ import annotations

import pickle

import numpy as np
import pytest

from engine.errors import HEError, IntegrityError
from engine.he import CKKSKeys, EncryptedFrame, PublicContext, _tenseal, _wire


def test_public_context_holds_no_secret_and_no_galois_keys(public: PublicContext) -> None:
    assert not public.has_secret_key
    assert not public.has_galois_keys
    assert not public.has_relin_keys  # linear scoring and sums need none
    summary = public.describe()
    assert summary["has_secret_key"] is False
    assert summary["fingerprint"] == public.fingerprint
    assert summary["security_bits"] == 128


def test_deep_public_context_has_relin_keys_only(deep_keys: CKKSKeys) -> None:
    public = deep_keys.public_context()
    assert public.has_relin_keys
    assert not public.has_galois_keys
    assert not public.has_secret_key


def test_bytes_round_trip_keeps_the_fingerprint(keys: CKKSKeys, public: PublicContext) -> None:
    blob = public.to_bytes()
    assert blob[0] == _wire.FORMAT_VERSION
    again = PublicContext.from_bytes(blob)
    assert again.fingerprint == public.fingerprint == keys.fingerprint
    assert again.to_bytes() == blob
    assert len(public.fingerprint) == 32


def test_tampered_context_is_rejected(public: PublicContext) -> None:
    blob = bytearray(public.to_bytes())
    blob[-100] ^= 0xFF
    with pytest.raises(IntegrityError, match="fingerprint"):
        PublicContext.from_bytes(bytes(blob))
    message = _wire.unpack(public.to_bytes(), expected=_wire.Kind.PUBLIC_CONTEXT)
    two_parts = _wire.Message(
        kind=message.kind, fingerprint=message.fingerprint, header=message.header, parts=()
    )
    with pytest.raises(IntegrityError, match="malformed"):
        PublicContext.from_bytes(_wire.pack(two_parts))


def test_context_bytes_with_a_secret_key_are_refused(keys: CKKSKeys) -> None:
    secret = _tenseal.serialize_context(keys._ctx, secret_key=True, relin_keys=False)
    params = keys.params
    forged = _wire.Message(
        kind=_wire.Kind.PUBLIC_CONTEXT,
        fingerprint=_wire.fingerprint(params.to_json(), secret),
        header={"params": params.to_json()},
        parts=(secret,),
    )
    with pytest.raises(IntegrityError, match="secret key"):
        PublicContext.from_bytes(_wire.pack(forged))


def test_context_bytes_with_galois_keys_are_refused() -> None:
    keys = CKKSKeys.generate()
    keys._ctx.generate_galois_keys()
    blob = keys._ctx.serialize(save_secret_key=False, save_galois_keys=True, save_relin_keys=False)
    with pytest.raises(IntegrityError, match="Galois"):
        PublicContext._load(keys.params, blob)


def test_context_that_does_not_match_its_params(keys: CKKSKeys, deep_keys: CKKSKeys) -> None:
    blob = deep_keys.public_context()._blob
    params = keys.params
    forged = _wire.Message(
        kind=_wire.Kind.PUBLIC_CONTEXT,
        fingerprint=_wire.fingerprint(params.to_json(), blob),
        header={"params": params.to_json()},
        parts=(blob,),
    )
    with pytest.raises(IntegrityError, match="parameters"):
        PublicContext.from_bytes(_wire.pack(forged))


def test_garbage_context_bytes(keys: CKKSKeys) -> None:
    params = keys.params
    forged = _wire.Message(
        kind=_wire.Kind.PUBLIC_CONTEXT,
        fingerprint=_wire.fingerprint(params.to_json(), b"junk"),
        header={"params": params.to_json()},
        parts=(b"junk",),
    )
    with pytest.raises(IntegrityError, match="malformed"):
        PublicContext.from_bytes(_wire.pack(forged))


def test_public_context_refuses_to_decrypt(public: PublicContext) -> None:
    frame = EncryptedFrame.encrypt(np.ones((3, 2)), public)
    with pytest.raises(HEError, match="no secret key"):
        public.decrypt(frame.linear([1.0, 1.0]))


def test_public_context_does_not_pickle(public: PublicContext) -> None:
    with pytest.raises(TypeError, match="to_bytes"):
        pickle.dumps(public)
    assert "fingerprint" in repr(public)
