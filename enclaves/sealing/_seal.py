"""Sealing: AES-256-GCM under keys derived from the platform secret and the enclave identity."""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
import struct
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from engine.errors import SealingError

#: First byte of every sealed blob.
SEALED_FORMAT_VERSION = 1
#: Highest security version number an enclave can carry (16 bits, as SGX ISVSVN).
MAX_SVN = 0xFFFF

# version, policy, debug, svn, product id, identity (measurement or signer id).
_HEADER = struct.Struct(">BBBHH32s")
_NONCE_BYTES = 12


class SealPolicy(enum.Enum):
    """What a sealed blob is bound to."""

    #: Only an enclave with exactly the same measurement can unseal.
    MEASUREMENT = 1
    #: Any enclave of the same signer and product with an SVN at least the sealed one.
    SIGNER = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class SealingKeys:
    """The sealing keys of one enclave identity, as the platform derives them at load.

    Use :func:`derive_sealing_keys`; the fields are key material and never leave the enclave.

    Args:
        measurement: The enclave measurement (32 bytes).
        signer_id: SHA-256 of the signer's public key (32 bytes).
        product_id: The product id from the manifest.
        svn: The enclave's security version number.
        is_debug: Whether the enclave was loaded in debug mode.
        measurement_key: AES key for :attr:`SealPolicy.MEASUREMENT`.
        signer_chain_key: Chain key for :attr:`SealPolicy.SIGNER` at ``svn``; keys of lower
            SVNs are derived from it by hashing, keys of higher SVNs cannot be.
    """

    measurement: bytes
    signer_id: bytes
    product_id: int
    svn: int
    is_debug: bool
    measurement_key: bytes = field(repr=False)
    signer_chain_key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.measurement) != 32 or len(self.signer_id) != 32:
            raise ValueError("measurement and signer_id must be 32 bytes")
        if not 0 <= self.svn <= MAX_SVN or not 0 <= self.product_id <= 0xFFFF:
            raise ValueError("svn and product_id must be in 0..65535")


def _hkdf(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


def _chain_step(key: bytes, steps: int) -> bytes:
    for _ in range(steps):
        key = hashlib.sha256(b"finveil-seal-svn-step" + key).digest()
    return key


def derive_sealing_keys(
    platform_secret: bytes,
    *,
    measurement: bytes,
    signer_id: bytes,
    product_id: int,
    svn: int,
    is_debug: bool,
) -> SealingKeys:
    """Derive the sealing keys of one enclave identity from the platform sealing secret.

    Args:
        platform_secret: The platform's sealing secret (at least 32 bytes).
        measurement: The enclave measurement.
        signer_id: The signer id.
        product_id: The product id.
        svn: The enclave SVN.
        is_debug: Whether the enclave runs in debug mode.

    Returns:
        The keys, for :func:`seal` and :func:`unseal` inside that enclave.

    Raises:
        ValueError: If the secret is shorter than 32 bytes or an identity field is invalid.
    """
    if len(platform_secret) < 32:
        raise ValueError("platform_secret must be at least 32 bytes")
    if not 0 <= svn <= MAX_SVN:
        raise ValueError("svn must be in 0..65535")
    # SECURITY: the debug attribute is part of every key, as in SGX EGETKEY, so a debug
    # enclave (whose memory the host can read) never derives a production key.
    debug = b"\x01" if is_debug else b"\x00"
    measurement_key = _hkdf(platform_secret, b"finveil-seal-mrenclave\x00" + debug + measurement)
    top = _hkdf(
        platform_secret,
        b"finveil-seal-mrsigner\x00" + debug + signer_id + struct.pack(">H", product_id),
    )
    # SECURITY: key(svn) = H^(MAX_SVN - svn)(top): an enclave can walk down to older SVNs
    # (to read data sealed by its predecessors) but never up to newer ones.
    return SealingKeys(
        measurement=measurement,
        signer_id=signer_id,
        product_id=product_id,
        svn=svn,
        is_debug=is_debug,
        measurement_key=measurement_key,
        signer_chain_key=_chain_step(top, MAX_SVN - svn),
    )


def seal(
    plaintext: bytes, *, keys: SealingKeys, policy: SealPolicy = SealPolicy.MEASUREMENT
) -> bytes:
    """Encrypt ``plaintext`` so that only the same enclave (per ``policy``) can read it.

    Args:
        plaintext: The data to protect.
        keys: The sealing keys of the calling enclave.
        policy: Bind to the measurement (default) or to signer + product + SVN.

    Returns:
        ``version || policy || debug || svn || product_id || identity || nonce || ct || tag``.

    Example:
        >>> keys = derive_sealing_keys(bytes(32), measurement=b"m" * 32, signer_id=b"s" * 32,
        ...                            product_id=1, svn=2, is_debug=False)
        >>> unseal(seal(b"state", keys=keys), keys=keys)
        b'state'
    """
    if policy is SealPolicy.MEASUREMENT:
        identity, key = keys.measurement, keys.measurement_key
    else:
        identity, key = keys.signer_id, keys.signer_chain_key
    header = _HEADER.pack(
        SEALED_FORMAT_VERSION, policy.value, int(keys.is_debug), keys.svn, keys.product_id, identity
    )
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return header + nonce + AESGCM(key).encrypt(nonce, plaintext, header)


def unseal(blob: bytes, *, keys: SealingKeys) -> bytes:
    """Decrypt a blob sealed by :func:`seal`.

    Args:
        blob: The sealed blob.
        keys: The sealing keys of the calling enclave.

    Returns:
        The plaintext.

    Raises:
        SealingError: If the blob is malformed, of an unknown version, sealed by a production
            enclave while this one is in debug mode (or the reverse), sealed to another
            measurement ("migration required"), to another signer or product, by a newer
            SVN, or tampered with.
    """
    if len(blob) < _HEADER.size + _NONCE_BYTES + 16:
        raise SealingError("sealed blob is truncated")
    if blob[0] != SEALED_FORMAT_VERSION:
        raise SealingError(f"unknown sealed blob format version {blob[0]}")
    _, policy_value, debug, svn, product_id, identity = _HEADER.unpack_from(blob)
    try:
        policy = SealPolicy(policy_value)
    except ValueError:
        raise SealingError("sealed blob names an unknown sealing policy") from None
    if bool(debug) != keys.is_debug:
        if keys.is_debug:
            raise SealingError("debug enclaves cannot unseal data sealed by a production enclave")
        raise SealingError("data sealed by a debug enclave is not accepted in production")
    key = _key_for(policy, identity=identity, svn=svn, product_id=product_id, keys=keys)
    header = blob[: _HEADER.size]
    nonce = blob[_HEADER.size : _HEADER.size + _NONCE_BYTES]
    try:
        return AESGCM(key).decrypt(nonce, blob[_HEADER.size + _NONCE_BYTES :], header)
    except InvalidTag:
        raise SealingError(
            "sealed blob failed authentication (tampered or another platform)"
        ) from None


def _key_for(
    policy: SealPolicy, *, identity: bytes, svn: int, product_id: int, keys: SealingKeys
) -> bytes:
    if policy is SealPolicy.MEASUREMENT:
        if not hmac.compare_digest(identity, keys.measurement):
            raise SealingError(
                "migration required: the blob is sealed to another enclave measurement; "
                "unseal it in the old enclave and re-seal it, or seal with SealPolicy.SIGNER"
            )
        return keys.measurement_key
    if not hmac.compare_digest(identity, keys.signer_id) or product_id != keys.product_id:
        raise SealingError("sealed blob belongs to another signer or product")
    if svn > keys.svn:
        raise SealingError(f"sealed blob needs SVN >= {svn}; this enclave has SVN {keys.svn}")
    return _chain_step(keys.signer_chain_key, keys.svn - svn)
