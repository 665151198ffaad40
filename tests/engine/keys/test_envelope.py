from __future__ import annotations

import secrets

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import IntegrityError
from engine.keys.backends import LocalWrapper
from engine.keys.hazmat import unwrap_data_key, wrap_aad, wrap_data_key

KEK = bytes(range(32))
key_ids = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True)
purposes = st.sampled_from(["tokenize", "ckks", "audit", "manifest", "quarantine", "client"])


@settings(max_examples=100, deadline=None)
@given(
    secret=st.binary(min_size=0, max_size=96),
    key_id=key_ids,
    version=st.integers(min_value=1, max_value=2**31),
    purpose=purposes,
)
def test_wrap_unwrap_inverts(secret: bytes, key_id: str, version: int, purpose: str) -> None:
    blob = wrap_data_key(KEK, secret, key_id=key_id, version=version, purpose=purpose)
    assert blob[0] == 1
    assert len(blob) == 1 + 12 + len(secret) + 16
    assert unwrap_data_key(KEK, blob, key_id=key_id, version=version, purpose=purpose) == secret


@settings(max_examples=50, deadline=None)
@given(secret=st.binary(min_size=16, max_size=64), aad=st.binary(max_size=64))
def test_local_wrapper_inverts(secret: bytes, aad: bytes) -> None:
    wrapper = LocalWrapper(KEK)
    assert wrapper.unwrap(wrapper.wrap(secret, aad=aad), aad=aad) == secret


def test_nonces_are_fresh() -> None:
    secret = secrets.token_bytes(32)
    a = wrap_data_key(KEK, secret, key_id="k", version=1, purpose="tokenize")
    b = wrap_data_key(KEK, secret, key_id="k", version=1, purpose="tokenize")
    assert a != b


@pytest.mark.parametrize(
    "changed",
    [
        {"key_id": "other"},
        {"version": 2},
        {"purpose": "audit"},
    ],
)
def test_associated_data_is_bound(changed: dict[str, object]) -> None:
    fields: dict[str, object] = {"key_id": "tokenize.pan", "version": 1, "purpose": "tokenize"}
    blob = wrap_data_key(KEK, b"k" * 32, **fields)  # type: ignore[arg-type]
    with pytest.raises(IntegrityError, match="failed authentication"):
        unwrap_data_key(KEK, blob, **{**fields, **changed})  # type: ignore[arg-type]


def test_wrong_kek_and_malformed_blob() -> None:
    blob = wrap_data_key(KEK, b"k" * 32, key_id="a", version=1, purpose="tokenize")
    with pytest.raises(IntegrityError, match="failed authentication"):
        unwrap_data_key(bytes(32), blob, key_id="a", version=1, purpose="tokenize")
    with pytest.raises(IntegrityError, match="malformed"):
        unwrap_data_key(KEK, b"\x02" + blob[1:], key_id="a", version=1, purpose="tokenize")
    with pytest.raises(IntegrityError, match="malformed"):
        unwrap_data_key(KEK, blob[:20], key_id="a", version=1, purpose="tokenize")
    flipped = bytearray(blob)
    flipped[5] ^= 0x80
    with pytest.raises(IntegrityError):
        unwrap_data_key(KEK, bytes(flipped), key_id="a", version=1, purpose="tokenize")
    with pytest.raises(ValueError, match="32 bytes"):
        wrap_data_key(b"short", b"x", key_id="a", version=1, purpose="tokenize")


def test_wrapper_subkeys_are_separate() -> None:
    wrapper = LocalWrapper(KEK)
    other = LocalWrapper(bytes(32))
    assert wrapper.check_value() != other.check_value()
    assert wrapper.mac(b"doc") != other.mac(b"doc")
    assert wrapper.mac(b"doc") != wrapper.check_value()
    assert "00010203" not in repr(wrapper)
    with pytest.raises(ValueError, match="32 bytes"):
        LocalWrapper(b"x")


def test_aad_is_canonical() -> None:
    assert wrap_aad(key_id="a", version=1, purpose="p") == (
        b'{"fmt":1,"key_id":"a","purpose":"p","version":1}'
    )
