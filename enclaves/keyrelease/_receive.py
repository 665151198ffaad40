"""Enclave side of key release: who may send keys, and how a released key is taken in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from enclaves.runtime import EnclaveContext, Request
from engine.errors import ConfigError, PolicyDenied
from engine.keys import KeyMaterial, KeyPurpose
from engine.keys.hazmat import unwrap_data_key, wrap_data_key


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceivedKey:
    """A key that arrived by attested key release, already registered with ``protect``.

    Args:
        material: The key.
        extra: The other (non-secret) arguments of the release call.
    """

    material: KeyMaterial
    extra: Mapping[str, Any] = field(repr=False)


def client_ids(config: Mapping[str, Any], name: str) -> frozenset[bytes]:
    """Parse the list of hex client ids ``config[name]`` (missing: empty).

    Raises:
        ConfigError: The entry is not a list of 64-digit hex strings.
    """
    value = config.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"enclave config {name}: must be a list of hex client ids")
    try:
        ids = frozenset(bytes.fromhex(v) for v in value)
    except ValueError:
        raise ConfigError(f"enclave config {name}: client ids must be hex") from None
    if any(len(i) != 32 for i in ids):
        raise ConfigError(f"enclave config {name}: client ids must be 32-byte SHA-256 hashes")
    return ids


def require_client(request: Request, allowed: Iterable[bytes], *, what: str) -> bytes:
    """Return the request's client id if it came over a channel from an allowed client.

    Raises:
        PolicyDenied: A plain call, an anonymous channel, or a client not in ``allowed``.
    """
    # SECURITY: is_secure alone says only that the host cannot read the request; the host
    # can open an anonymous channel itself, so the signed client identity must be checked.
    if not request.is_secure:
        raise PolicyDenied(f"{what} is accepted only over an attested secure channel")
    if request.client_id is None or request.client_id not in frozenset(allowed):
        raise PolicyDenied(f"{what} is accepted only from a client listed in the enclave config")
    return request.client_id


def receive_key(
    request: Request,
    context: EnclaveContext,
    *,
    accepted_key_ids: Iterable[str] | None = None,
) -> ReceivedKey:
    """Take in a key sent by :func:`release_key` (enclave side).

    Checks that the request came over the channel from a client in the app's measured
    ``trusted_clients``, parses the key and registers it with ``context.protect``.

    Args:
        request: The ``load_key`` request.
        context: The app's context (its ``config["trusted_clients"]`` is used).
        accepted_key_ids: Key ids this app takes; ``None`` accepts any.

    Raises:
        PolicyDenied: Untrusted sender or a key id the app does not take.
        ConfigError: Malformed arguments or config.
    """
    require_client(request, client_ids(context.config, "trusted_clients"), what="key release")
    args = request.args
    if not isinstance(args, Mapping):
        raise ConfigError("key release: arguments must be a map")
    key_id, version, secret = args.get("key_id"), args.get("version"), args.get("secret")
    if not isinstance(key_id, str) or type(version) is not int or not isinstance(secret, bytes):
        raise ConfigError("key release: key_id, version and secret are required")
    if accepted_key_ids is not None and key_id not in set(accepted_key_ids):
        raise PolicyDenied(f"key release: this enclave does not take key {key_id!r}")
    try:
        material = KeyMaterial(key_id=key_id, version=version, secret=secret)
    except ValueError as exc:
        raise ConfigError(f"key release: {exc}") from None
    context.protect(material.secret)
    extra = {k: v for k, v in args.items() if k not in ("key_id", "version", "secret")}
    return ReceivedKey(material=material, extra=extra)


def wrap_payload(key: KeyMaterial, data: bytes, *, purpose: KeyPurpose) -> bytes:
    """Encrypt ``data`` (e.g. ``CKKSKeys.to_bytes()``) under a 32-byte keyring key.

    The result is safe to hand to the host: send it as ``extra={"payload": ...}`` of
    :func:`release_key`; only an enclave that receives ``key`` can open it.

    Returns:
        ``0x01 || nonce || AES-256-GCM ciphertext || tag``, bound to key id, version and
        purpose.
    """
    return wrap_data_key(
        key.secret, data, key_id=key.key_id, version=key.version, purpose=purpose.value
    )


def unwrap_payload(key: KeyMaterial, blob: bytes, *, purpose: KeyPurpose) -> bytes:
    """Decrypt a payload made by :func:`wrap_payload`.

    Raises:
        IntegrityError: Wrong key or version, or the payload was altered.
    """
    return unwrap_data_key(
        key.secret, blob, key_id=key.key_id, version=key.version, purpose=purpose.value
    )
