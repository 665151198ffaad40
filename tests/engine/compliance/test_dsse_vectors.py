"""Known-answer tests: DSSE PAE and Ed25519 (RFC 8032) against tests/vectors/."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from engine.compliance import sign_envelope, verify_envelope
from engine.compliance._dsse import _signing_key, keyid_of, pae
from engine.keys import KeyMaterial

_PATH = Path(__file__).resolve().parents[2] / "vectors" / "signing_vectors.json"
_VECTORS: dict[str, Any] = json.loads(_PATH.read_text())


@pytest.mark.parametrize("vector", _VECTORS["dsse_pae"]["vectors"])
def test_pae_vectors(vector: dict[str, str]) -> None:
    assert pae(vector["payload_type"], vector["payload"].encode()) == vector["pae"].encode()


@pytest.mark.parametrize("vector", _VECTORS["ed25519"]["vectors"], ids=lambda v: v["name"])
def test_ed25519_rfc8032(vector: dict[str, str]) -> None:
    key = KeyMaterial(key_id="manifest", version=1, secret=bytes.fromhex(vector["secret_key"]))
    public = bytes.fromhex(vector["public_key"])
    # The keyring secret is used as the RFC 8032 seed, so our key derivation is pinned too.
    assert keyid_of(key) == hashlib.sha256(public).hexdigest()
    assert keyid_of(public) == keyid_of(key)
    signature = _signing_key(key).sign(bytes.fromhex(vector["message"]))
    assert signature.hex() == vector["signature"]


def test_envelope_signs_the_pae_of_the_exact_payload() -> None:
    vector = _VECTORS["ed25519"]["vectors"][0]
    key = KeyMaterial(key_id="manifest", version=1, secret=bytes.fromhex(vector["secret_key"]))
    statement = {"_type": "https://in-toto.io/Statement/v1", "subject": [], "predicate": {}}
    envelope = sign_envelope(statement, key)
    payload = base64.b64decode(envelope["payload"])
    # PAE spelled out by hand: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body.
    message = b"DSSEv1 28 application/vnd.in-toto+json %d " % len(payload) + payload
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(vector["public_key"]))
    public.verify(base64.b64decode(envelope["signatures"][0]["sig"]), message)
    assert verify_envelope(envelope, bytes.fromhex(vector["public_key"])) == statement
    # Ed25519 is deterministic: the same statement and key give the same envelope.
    assert sign_envelope(statement, key) == envelope
