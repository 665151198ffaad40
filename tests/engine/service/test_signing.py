from __future__ import annotations

import pytest

from engine.errors import IntegrityError
from engine.service._replay import ReplayGuard
from engine.service._signing import (
    REQUEST_COMPONENTS,
    REQUEST_TAG,
    SignatureParams,
    content_digest,
    parse_signature,
    parse_signature_input,
    request_base,
    sign,
    verify_digest,
)

PARAMS = SignatureParams(
    components=REQUEST_COMPONENTS,
    created=1_700_000_000,
    nonce="n" * 22,
    keyid="client.alice",
    tag=REQUEST_TAG,
)


def test_base_is_the_rfc9421_layout() -> None:
    digest = content_digest(b'{"a":1}')
    base = request_base(PARAMS, method="post", path="/v1/tokenize", query="", digest=digest)
    assert base.decode().split("\n") == [
        '"@method": POST',
        '"@path": /v1/tokenize',
        '"@query": ?',
        f'"content-digest": {digest}',
        '"@signature-params": ("@method" "@path" "@query" "content-digest");created=1700000000;'
        f'nonce="{"n" * 22}";keyid="client.alice";alg="hmac-sha256";tag="finveil-request"',
    ]
    # RFC 9530 Content-Digest of an empty body (SHA-256 of b"").
    assert content_digest(b"") == "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"


def test_parse_round_trip_and_strictness() -> None:
    header = f"sig1={PARAMS.serialize()}"
    assert parse_signature_input(header, expected=REQUEST_COMPONENTS) == PARAMS
    bad = [
        None,
        header.replace('"@query" ', ""),
        header.replace("hmac-sha256", "hmac-sha1"),
        header.replace("created=1700000000", 'created="1700000000"'),
        header.replace('keyid="client.alice"', 'keyid="audit"'),
        header.replace('nonce="' + "n" * 22, 'nonce="short'),
        header + ';nonce="' + "m" * 22 + '"',
        header.replace(";tag=", "; tag="),
    ]
    for value in bad:
        with pytest.raises(IntegrityError):
            parse_signature_input(value, expected=REQUEST_COMPONENTS)
    mac = sign(b"base", bytes(32))
    assert len(parse_signature(mac)) == 32
    with pytest.raises(IntegrityError):
        parse_signature(mac[:-2])
    with pytest.raises(IntegrityError, match="does not match"):
        verify_digest(content_digest(b"a"), b"b")
    with pytest.raises(IntegrityError, match="malformed"):
        verify_digest("sha-512=:AA==:", b"b")


def test_replay_guard_window_and_memory() -> None:
    guard = ReplayGuard(window_s=10, max_entries=2)
    guard.check(keyid="k", nonce="a", created=100, now=100)
    with pytest.raises(IntegrityError, match="replay"):
        guard.check(keyid="k", nonce="a", created=100, now=105)
    guard.check(keyid="other", nonce="a", created=100, now=105)  # Nonces are per key.
    with pytest.raises(IntegrityError, match="full"):
        guard.check(keyid="k", nonce="b", created=105, now=105)
    for created, now in ((89, 100), (111, 100)):
        with pytest.raises(IntegrityError, match="window"):
            guard.check(keyid="k", nonce="c", created=created, now=now)
    guard.check(keyid="k", nonce="b", created=111, now=111)  # The old nonces have expired.
    assert len(guard) == 1
    with pytest.raises(ValueError, match="window_s"):
        ReplayGuard(window_s=0)
