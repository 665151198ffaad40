from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from engine.compliance import build_statement, sign_envelope, verify_envelope
from engine.compliance._dsse import load_public_key, public_key_pem
from engine.errors import IntegrityError
from engine.keys import KeyMaterial

KEY = KeyMaterial(key_id="manifest", version=1, secret=bytes(range(32)))
OTHER = KeyMaterial(key_id="manifest", version=2, secret=bytes(range(1, 33)))
PUB = public_key_pem(KEY)
DIGEST = "ab" * 32


def _envelope() -> dict[str, Any]:
    statement = build_statement({"b.parquet": DIGEST, "a.parquet": "cd" * 32}, {"x": 1})
    return sign_envelope(statement, KEY)


def test_statement_shape() -> None:
    statement = build_statement({"b": DIGEST, "a": "cd" * 32}, {"x": 1})
    assert statement == {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [
            {"name": "a", "digest": {"sha256": "cd" * 32}},
            {"name": "b", "digest": {"sha256": DIGEST}},
        ],
        "predicateType": "https://finveil.dev/manifest/v1",
        "predicate": {"x": 1},
    }


@pytest.mark.parametrize("subjects", [{}, {"a": "AB" * 32}, {"a": "ab"}, {"": DIGEST}])
def test_statement_rejects_bad_subjects(subjects: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="subject"):
        build_statement(subjects, {})


def test_round_trip_with_pem_raw_or_key_object() -> None:
    envelope = _envelope()
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    raw = load_public_key(PUB)
    for key in (PUB, raw, raw.public_bytes_raw()):
        assert verify_envelope(envelope, key)["predicate"] == {"x": 1}


def _replace_payload(envelope: dict[str, Any], change: str) -> dict[str, Any]:
    statement = json.loads(base64.b64decode(envelope["payload"]))
    if change == "predicate":
        statement["predicate"]["x"] = 2
    else:
        statement["subject"][0]["digest"]["sha256"] = "00" * 32
    payload = json.dumps(statement).encode()
    return {**envelope, "payload": base64.b64encode(payload).decode()}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("predicate", "does not verify"),
        ("subject", "does not verify"),
        ("signature", "does not verify"),
        ("payload_type", "payloadType"),
        ("keyid", "no signature by key"),
        ("no_signatures", "no signatures"),
        ("bad_base64", "not valid base64"),
        ("wrong_key", "no signature by key"),
    ],
)
def test_tampering_is_detected(change: str, reason: str) -> None:
    envelope = _envelope()
    key: bytes = PUB
    if change in ("predicate", "subject"):
        envelope = _replace_payload(envelope, change)
    elif change == "signature":
        sig = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
        sig[5] ^= 1
        envelope["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    elif change == "payload_type":
        envelope["payloadType"] = "application/json"
    elif change == "keyid":
        envelope["signatures"][0]["keyid"] = "00" * 32
    elif change == "no_signatures":
        envelope["signatures"] = []
    elif change == "bad_base64":
        envelope["payload"] = "***"
    else:
        key = public_key_pem(OTHER)
    with pytest.raises(IntegrityError, match=reason):
        verify_envelope(envelope, key)


def test_signed_non_statement_is_refused() -> None:
    envelope = sign_envelope({"_type": "something-else"}, KEY)
    with pytest.raises(IntegrityError, match="not an in-toto statement"):
        verify_envelope(envelope, PUB)


def test_keys_are_checked() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        sign_envelope({}, KeyMaterial(key_id="manifest", version=1, secret=bytes(16)))
    with pytest.raises(ValueError, match="neither"):
        load_public_key(b"not a key")


def _signed_raw(payload: bytes) -> dict[str, Any]:
    from engine.compliance._dsse import _signing_key, keyid_of, pae

    sig = _signing_key(KEY).sign(pae("application/vnd.in-toto+json", payload))
    return {
        "payloadType": "application/vnd.in-toto+json",
        "payload": base64.urlsafe_b64encode(payload).decode(),
        "signatures": [{"keyid": keyid_of(KEY), "sig": base64.b64encode(sig).decode()}],
    }


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xff\xfe", "not UTF-8 JSON"),
        (b"[1]", "not an in-toto statement"),
        (
            b'{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a"}],"predicate":{}}',
            "malformed subject",
        ),
        (
            b'{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicate":[]}',
            "predicate is not an object",
        ),
    ],
)
def test_signed_but_malformed_payloads_are_refused(payload: bytes, reason: str) -> None:
    with pytest.raises(IntegrityError, match=reason):
        verify_envelope(_signed_raw(payload), PUB)


def test_url_safe_base64_is_accepted_and_shapes_checked() -> None:
    statement = build_statement({"a": DIGEST}, {})
    from engine.compliance._dsse import _encode_payload

    assert verify_envelope(_signed_raw(_encode_payload(statement)), PUB) == statement
    with pytest.raises(IntegrityError, match="not a JSON object"):
        verify_envelope([], PUB)  # type: ignore[arg-type]
    envelope = _envelope()
    envelope["signatures"][0]["sig"] = 5
    with pytest.raises(IntegrityError, match="signature is not a base64 string"):
        verify_envelope(envelope, PUB)


def test_public_key_types_are_checked() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key

    ec_pem = (
        generate_private_key(SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ValueError, match="not an Ed25519"):
        load_public_key(ec_pem)
    with pytest.raises(TypeError, match="public_key"):
        load_public_key("pem")  # type: ignore[arg-type]


def test_a_signature_without_keyid_is_still_checked() -> None:
    envelope = _envelope()
    del envelope["signatures"][0]["keyid"]
    assert verify_envelope(envelope, PUB)["predicate"] == {"x": 1}
    with pytest.raises(IntegrityError, match="does not verify"):
        verify_envelope(envelope, public_key_pem(OTHER))
