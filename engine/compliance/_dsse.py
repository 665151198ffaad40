"""in-toto Statement v1 in a DSSE envelope, signed with Ed25519 (no I/O)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from engine.errors import IntegrityError
from engine.keys import KeyMaterial

__all__ = [
    "PAYLOAD_TYPE",
    "PREDICATE_TYPE",
    "STATEMENT_TYPE",
    "build_statement",
    "keyid_of",
    "load_public_key",
    "pae",
    "public_key_pem",
    "sign_envelope",
    "verify_envelope",
]

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
PREDICATE_TYPE = "https://finveil.dev/manifest/v1"
_SHA256_HEX = frozenset("0123456789abcdef")

PublicKeyLike = Ed25519PublicKey | bytes


def pae(payload_type: str, payload: bytes) -> bytes:
    """Return DSSE's pre-authentication encoding of ``payload_type`` and ``payload``.

    DSSE protocol v1: ``"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body``, where LEN is
    the ASCII decimal byte length without leading zeros.

    >>> pae("http://example.com/HelloWorld", b"hello world")
    b'DSSEv1 29 http://example.com/HelloWorld 11 hello world'
    """
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def _is_sha256_hex(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and set(value) <= _SHA256_HEX


def build_statement(
    subjects: Mapping[str, str],
    predicate: Mapping[str, Any],
    *,
    predicate_type: str = PREDICATE_TYPE,
) -> dict[str, Any]:
    """Return an in-toto Statement v1 over ``subjects`` carrying ``predicate``.

    Args:
        subjects: Artifact name -> SHA-256 (lowercase hex); at least one.
        predicate: The JSON-ready predicate.
        predicate_type: The predicate's type URI.

    Returns:
        ``{"_type", "subject": [{"name", "digest": {"sha256"}}], "predicateType",
        "predicate"}``, subjects sorted by name.

    Raises:
        ValueError: No subjects, or a digest is not 64 lowercase hex characters.
    """
    if not subjects:
        raise ValueError("subjects must name at least one artifact")
    for name, digest in subjects.items():
        if not isinstance(name, str) or not name:
            raise ValueError("subject names must be non-empty strings")
        if not _is_sha256_hex(digest):
            raise ValueError(f"subject {name!r}: digest must be 64 lowercase hex characters")
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": n, "digest": {"sha256": subjects[n]}} for n in sorted(subjects)],
        "predicateType": predicate_type,
        "predicate": dict(predicate),
    }


def _signing_key(key: KeyMaterial) -> Ed25519PrivateKey:
    if len(key.secret) != 32:
        raise ValueError(f"key {key.key_id!r} must be 32 bytes (an Ed25519 seed)")
    return Ed25519PrivateKey.from_private_bytes(key.secret)


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def keyid_of(public_key: PublicKeyLike | KeyMaterial) -> str:
    """Return the DSSE key id: SHA-256 (hex) of the raw 32-byte Ed25519 public key."""
    if isinstance(public_key, KeyMaterial):
        public_key = _signing_key(public_key).public_key()
    return hashlib.sha256(_raw_public(load_public_key(public_key))).hexdigest()


def public_key_pem(key: KeyMaterial) -> bytes:
    """Return the PEM (SubjectPublicKeyInfo) public key of the manifest signing ``key``."""
    return (
        _signing_key(key)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def load_public_key(public_key: PublicKeyLike) -> Ed25519PublicKey:
    """Return ``public_key`` (an Ed25519 key, 32 raw bytes or PEM) as an Ed25519 key.

    Raises:
        ValueError: Not an Ed25519 public key.
    """
    if isinstance(public_key, Ed25519PublicKey):
        return public_key
    if not isinstance(public_key, bytes):
        raise TypeError("public_key must be an Ed25519PublicKey or bytes")
    if len(public_key) == 32:
        return Ed25519PublicKey.from_public_bytes(public_key)
    try:
        loaded = serialization.load_pem_public_key(public_key)
    except ValueError:
        raise ValueError("public_key is neither 32 raw bytes nor a PEM public key") from None
    if not isinstance(loaded, Ed25519PublicKey):
        raise ValueError("public_key is not an Ed25519 public key")
    return loaded


def _encode_payload(statement: Mapping[str, Any]) -> bytes:
    return json.dumps(
        statement, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def sign_envelope(statement: Mapping[str, Any], key: KeyMaterial) -> dict[str, Any]:
    """Sign ``statement`` into a DSSE envelope with the Ed25519 seed ``key``.

    Args:
        statement: An in-toto statement (see :func:`build_statement`).
        key: The manifest signing key (32 bytes, used as the Ed25519 seed).

    Returns:
        ``{"payloadType", "payload" (base64), "signatures": [{"keyid", "sig"}]}``.

    Raises:
        ValueError: The key is not 32 bytes or the statement is not JSON-serializable.
    """
    signer = _signing_key(key)
    payload = _encode_payload(statement)
    # DSSE signs PAE(type, body), never the body alone, so the payload type is authenticated.
    sig = signer.sign(pae(PAYLOAD_TYPE, payload))
    return {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode("ascii"),
        "signatures": [
            {"keyid": keyid_of(signer.public_key()), "sig": base64.b64encode(sig).decode()}
        ],
    }


def _b64decode(text: object, *, field: str) -> bytes:
    if not isinstance(text, str):
        raise IntegrityError(f"DSSE envelope: {field} is not a base64 string")
    # DSSE allows standard or URL-safe base64; both are decoded strictly (no stray bytes).
    standard = text.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(standard, validate=True)
    except (binascii.Error, ValueError):
        raise IntegrityError(f"DSSE envelope: {field} is not valid base64") from None


def verify_envelope(envelope: Mapping[str, Any], public_key: PublicKeyLike) -> dict[str, Any]:
    """Verify a DSSE envelope signed by ``public_key`` and return its in-toto statement.

    Args:
        envelope: The parsed envelope.
        public_key: The signer's Ed25519 public key (key object, 32 raw bytes or PEM).

    Returns:
        The statement (parsed payload).

    Raises:
        IntegrityError: Wrong payload type, no signature by ``public_key``, a bad signature,
            or a payload that is not an in-toto Statement v1.
    """
    if not isinstance(envelope, Mapping):
        raise IntegrityError("DSSE envelope is not a JSON object")
    if envelope.get("payloadType") != PAYLOAD_TYPE:
        raise IntegrityError(f"DSSE envelope: payloadType is not {PAYLOAD_TYPE!r}")
    payload = _b64decode(envelope.get("payload"), field="payload")
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        raise IntegrityError("DSSE envelope has no signatures")
    verifier = load_public_key(public_key)
    expected_keyid = keyid_of(verifier)
    message = pae(PAYLOAD_TYPE, payload)
    # The keyid is an unauthenticated hint (DSSE); a signature without one is tried too.
    mine = [
        s
        for s in signatures
        if isinstance(s, Mapping) and s.get("keyid", "") in (expected_keyid, "")
    ]
    if not mine:
        raise IntegrityError(f"DSSE envelope has no signature by key {expected_keyid[:16]}")
    for entry in mine:
        try:
            verifier.verify(_b64decode(entry.get("sig"), field="signature"), message)
            break
        except InvalidSignature:
            continue
    else:
        raise IntegrityError(
            f"DSSE envelope: the signature by key {expected_keyid[:16]} does not verify "
            "(the manifest or its signature was changed)"
        )
    return _parse_statement(payload)


def _parse_statement(payload: bytes) -> dict[str, Any]:
    try:
        statement = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise IntegrityError("DSSE payload is not UTF-8 JSON") from None
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
        raise IntegrityError(f"DSSE payload is not an in-toto statement ({STATEMENT_TYPE})")
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or not all(
        isinstance(s, dict)
        and isinstance(s.get("name"), str)
        and isinstance(s.get("digest"), dict)
        and _is_sha256_hex(s["digest"].get("sha256"))
        for s in subjects
    ):
        raise IntegrityError("in-toto statement: malformed subject list")
    if not isinstance(statement.get("predicate"), dict):
        raise IntegrityError("in-toto statement: predicate is not an object")
    return statement
