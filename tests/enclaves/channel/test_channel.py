from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from enclaves.channel import RECORD_FORMAT_VERSION, SecureChannel, accept, connect
from enclaves.encoding import decode, encode
from engine.errors import IntegrityError

BINDING = b"b" * 32


def pair(binding: bytes = BINDING) -> tuple[SecureChannel, SecureChannel]:
    enclave_key = X25519PrivateKey.generate()
    client, hello = connect(enclave_key.public_key().public_bytes_raw(), binding=BINDING)
    enclave, client_id = accept(enclave_key, hello, binding=binding)
    assert client_id is None
    return client, enclave


def test_client_identity_is_proven_and_bound_to_the_quote() -> None:
    enclave_key = X25519PrivateKey.generate()
    identity = Ed25519PrivateKey.generate()
    public = enclave_key.public_key().public_bytes_raw()
    client, hello = connect(public, binding=BINDING, client_key=identity)
    enclave, client_id = accept(enclave_key, hello, binding=BINDING)
    assert client_id == hashlib.sha256(identity.public_key().public_bytes_raw()).digest()
    assert enclave.open(client.seal(b"hi")) == b"hi"
    # The same hello presented for another quote (binding) fails the signature check.
    with pytest.raises(IntegrityError, match="signature is invalid"):
        accept(enclave_key, hello, binding=b"c" * 32)
    # So does a hello whose identity was swapped for another key.
    document = decode(hello)
    document["identity"] = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    with pytest.raises(IntegrityError, match="signature is invalid"):
        accept(enclave_key, encode(document), binding=BINDING)


@pytest.mark.parametrize(
    "hello",
    [
        encode({"v": 2, "public_key": b"k" * 32}),
        encode({"v": 1, "public_key": b"short"}),
        encode({"v": 1, "public_key": b"k" * 32, "identity": b"i" * 32}),
        b"\xff",
    ],
)
def test_malformed_hellos_are_rejected(hello: bytes) -> None:
    with pytest.raises(IntegrityError):
        accept(X25519PrivateKey.generate(), hello, binding=BINDING)


def test_both_directions_round_trip() -> None:
    client, enclave = pair()
    for i in range(3):
        record = client.seal(b"request %d" % i)
        assert record[0] == RECORD_FORMAT_VERSION
        assert b"request" not in record
        assert enclave.open(record) == b"request %d" % i
        assert client.open(enclave.seal(b"reply %d" % i)) == b"reply %d" % i


def test_tampered_record_is_rejected_and_channel_survives() -> None:
    client, enclave = pair()
    record = client.seal(b"pay 100")
    tampered = bytearray(record)
    tampered[-20] ^= 0x01
    with pytest.raises(IntegrityError, match="authentication"):
        enclave.open(bytes(tampered))
    assert enclave.open(record) == b"pay 100"


def test_replayed_record_is_rejected() -> None:
    client, enclave = pair()
    record = client.seal(b"once")
    enclave.open(record)
    with pytest.raises(IntegrityError, match="replayed"):
        enclave.open(record)


def test_reordered_record_is_rejected() -> None:
    client, enclave = pair()
    first, second = client.seal(b"1"), client.seal(b"2")
    with pytest.raises(IntegrityError, match="out of order"):
        enclave.open(second)
    assert enclave.open(first) == b"1"
    assert enclave.open(second) == b"2"


def test_reflected_record_is_rejected() -> None:
    client, _ = pair()
    with pytest.raises(IntegrityError, match="authentication"):
        client.open(client.seal(b"echo back"))


def test_counter_rewritten_is_rejected() -> None:
    client, enclave = pair()
    enclave.open(client.seal(b"0"))
    record = bytearray(client.seal(b"1"))
    record[8] = 2  # claim counter 2 while the enclave expects 1
    with pytest.raises(IntegrityError, match="out of order"):
        enclave.open(bytes(record))


def test_other_binding_gives_other_keys() -> None:
    client, enclave = pair(binding=b"c" * 32)
    with pytest.raises(IntegrityError, match="authentication"):
        enclave.open(client.seal(b"x"))


def test_malformed_inputs() -> None:
    _, enclave = pair()
    with pytest.raises(IntegrityError, match="malformed"):
        enclave.open(b"\x01short")
    with pytest.raises(ValueError, match="public key"):
        connect(b"short", binding=BINDING)
    with pytest.raises(ValueError, match="binding"):
        connect(b"k" * 32, binding=b"short")


def test_low_order_peer_key_is_refused() -> None:
    with pytest.raises(IntegrityError, match="low order"):
        connect(bytes(32), binding=BINDING)
