"""Secure channel: X25519 bound to a quote, HKDF-SHA256, AES-256-GCM with per-direction counters."""

from __future__ import annotations

import enum
import hashlib
import struct
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from enclaves.encoding import decode, encode
from engine.errors import IntegrityError

#: First byte of every channel record.
RECORD_FORMAT_VERSION = 1
#: First field of every channel hello.
HELLO_FORMAT_VERSION = 1
_HELLO_DOMAIN = b"finveil-channel-hello-v1\x00"
_RECORD_HEADER = struct.Struct(">BQ")
_MAX_COUNTER = 2**64 - 1


class Role(enum.Enum):
    """Which end of the channel this is."""

    #: The verifier (key holder, client) that checked the enclave's quote.
    CLIENT = b"client"
    #: The enclave, which owns the attested X25519 key.
    ENCLAVE = b"enclave"


class SecureChannel:
    """One end of an established channel; records must be opened in the order they were sealed.

    Build it with :func:`connect` (client) or :func:`accept` (enclave), not directly.
    """

    __slots__ = ("_open_aead", "_receive_counter", "_role", "_send_aead", "_send_counter")

    def __init__(self, *, role: Role, send_key: bytes, receive_key: bytes) -> None:
        self._role = role
        self._send_aead = AESGCM(send_key)
        self._open_aead = AESGCM(receive_key)
        self._send_counter = 0
        self._receive_counter = 0

    def seal(self, plaintext: bytes) -> bytes:
        """Encrypt the next outgoing record.

        Args:
            plaintext: The message.

        Returns:
            ``version || counter (8 bytes) || ciphertext || tag``.

        Raises:
            IntegrityError: If the counter is exhausted (open a new channel).
        """
        if self._send_counter == _MAX_COUNTER:
            raise IntegrityError("channel send counter exhausted; open a new channel")
        header = _RECORD_HEADER.pack(RECORD_FORMAT_VERSION, self._send_counter)
        nonce = _nonce(self._role, self._send_counter)
        self._send_counter += 1
        return header + self._send_aead.encrypt(nonce, plaintext, header)

    def open(self, record: bytes) -> bytes:
        """Decrypt the next incoming record.

        Args:
            record: A record sealed by the other end.

        Returns:
            The plaintext.

        Raises:
            IntegrityError: If the record is malformed, replayed, out of order or tampered
                with. The channel state is unchanged, so the expected record can still follow.
        """
        if len(record) < _RECORD_HEADER.size + 16 or record[0] != RECORD_FORMAT_VERSION:
            raise IntegrityError("channel record is malformed or of an unknown version")
        _, counter = _RECORD_HEADER.unpack_from(record)
        # SECURITY: exactly the next counter is accepted, which rejects replays (counter too
        # low) and reordering or dropped records (counter too high).
        if counter < self._receive_counter:
            raise IntegrityError(f"channel record {counter} replayed")
        if counter > self._receive_counter:
            raise IntegrityError(
                f"channel record {counter} out of order (expected {self._receive_counter})"
            )
        peer = Role.ENCLAVE if self._role is Role.CLIENT else Role.CLIENT
        header = record[: _RECORD_HEADER.size]
        try:
            plaintext = self._open_aead.decrypt(
                _nonce(peer, counter), record[_RECORD_HEADER.size :], header
            )
        except InvalidTag:
            raise IntegrityError(f"channel record {counter} failed authentication") from None
        self._receive_counter += 1
        return plaintext


def _nonce(sender: Role, counter: int) -> bytes:
    # SECURITY: each direction has its own key and its own nonce prefix, so the two
    # counters can never produce the same (key, nonce) pair.
    prefix = b"\x00\x00\x00\x01" if sender is Role.CLIENT else b"\x00\x00\x00\x02"
    return prefix + counter.to_bytes(8, "big")


def _exchange(private: X25519PrivateKey, peer_public: bytes) -> bytes:
    try:
        return private.exchange(X25519PublicKey.from_public_bytes(peer_public))
    except ValueError:
        # OpenSSL refuses low-order points (an all-zero shared secret).
        raise IntegrityError("peer X25519 key is of low order") from None


def _derive(
    shared: bytes, *, binding: bytes, client_public: bytes, enclave_public: bytes
) -> tuple[bytes, bytes]:
    info = b"finveil-channel-v1\x00" + client_public + enclave_public
    okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=binding, info=info).derive(shared)
    return okm[:32], okm[32:]


def connect(
    enclave_public_key: bytes,
    *,
    binding: bytes,
    client_key: Ed25519PrivateKey | None = None,
) -> tuple[SecureChannel, bytes]:
    """Open the client end of a channel to an enclave whose quote was verified.

    Args:
        enclave_public_key: The X25519 key from the verified quote (32 bytes).
        binding: The quote's binding hash; it salts the key derivation, so the channel
            exists only for that quote.
        client_key: The client's long-term Ed25519 identity key. Without it the enclave
            knows only that the host cannot read the channel, not who is at the other end
            (the host itself can open an anonymous channel).

    Returns:
        The channel and the hello message (ephemeral key, optional identity signature) to
        relay to the enclave.

    Raises:
        ValueError: If a key or the binding has the wrong length.
        IntegrityError: If the enclave key is of low order.
    """
    _check_lengths(enclave_public_key, binding)
    private = X25519PrivateKey.generate()
    client_public = private.public_key().public_bytes_raw()
    shared = _exchange(private, enclave_public_key)
    to_enclave, to_client = _derive(
        shared, binding=binding, client_public=client_public, enclave_public=enclave_public_key
    )
    hello: dict[str, Any] = {"v": HELLO_FORMAT_VERSION, "public_key": client_public}
    if client_key is not None:
        hello["identity"] = client_key.public_key().public_bytes_raw()
        hello["signature"] = client_key.sign(_hello_transcript(binding, client_public))
    channel = SecureChannel(role=Role.CLIENT, send_key=to_enclave, receive_key=to_client)
    return channel, encode(hello)


def _hello_transcript(binding: bytes, client_public: bytes) -> bytes:
    # SECURITY: the signature covers the quote binding, so it cannot be replayed towards
    # another enclave or another quote of the same enclave.
    return _HELLO_DOMAIN + binding + client_public


def accept(
    private_key: X25519PrivateKey, hello: bytes, *, binding: bytes
) -> tuple[SecureChannel, bytes | None]:
    """Open the enclave end of a channel.

    Args:
        private_key: The enclave's ephemeral key whose public half is in the quote.
        hello: The client's hello from :func:`connect`.
        binding: The binding hash of the quote the client verified.

    Returns:
        The channel and the client id (SHA-256 of its Ed25519 identity key), or ``None`` for
        an anonymous client.

    Raises:
        ValueError: If the binding has the wrong length.
        IntegrityError: If the hello is malformed, its signature is invalid or the client
            key is of low order.
    """
    client_public, client_id = _parse_hello(hello, binding=binding)
    _check_lengths(client_public, binding)
    enclave_public = private_key.public_key().public_bytes_raw()
    shared = _exchange(private_key, client_public)
    to_enclave, to_client = _derive(
        shared, binding=binding, client_public=client_public, enclave_public=enclave_public
    )
    return SecureChannel(role=Role.ENCLAVE, send_key=to_client, receive_key=to_enclave), client_id


def _parse_hello(hello: bytes, *, binding: bytes) -> tuple[bytes, bytes | None]:
    document = decode(hello)
    if not isinstance(document, dict) or document.get("v") != HELLO_FORMAT_VERSION:
        raise IntegrityError("channel hello is malformed or of an unknown version")
    client_public = document.get("public_key")
    if not isinstance(client_public, bytes) or len(client_public) != 32:
        raise IntegrityError("channel hello carries no valid public key")
    identity, signature = document.get("identity"), document.get("signature")
    if identity is None and signature is None:
        return client_public, None
    if not isinstance(identity, bytes) or not isinstance(signature, bytes) or len(identity) != 32:
        raise IntegrityError("channel hello identity is malformed")
    try:
        Ed25519PublicKey.from_public_bytes(identity).verify(
            signature, _hello_transcript(binding, client_public)
        )
    except InvalidSignature:
        raise IntegrityError("channel hello signature is invalid") from None
    return client_public, hashlib.sha256(identity).digest()


def _check_lengths(public_key: bytes, binding: bytes) -> None:
    if len(public_key) != 32:
        raise ValueError("public key must be 32 bytes")
    if len(binding) != 32:
        raise ValueError("binding must be 32 bytes")
