"""What an enclave app sees: its identity, config, data files, sealing, and requests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from enclaves.runtime._manifest import EnclaveIdentity
from enclaves.sealing import SealingKeys, SealPolicy, seal, unseal


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """One request to an enclave app.

    Args:
        method: The operation name.
        args: The CBOR-decoded arguments.
        is_secure: True when it arrived over an attested secure channel: the host could
            neither read nor change it. It says nothing about who sent it.
        client_id: SHA-256 of the Ed25519 identity key the client signed the channel hello
            with, or ``None`` (plain calls and anonymous channels). Apps that release or
            accept secrets must check it against an allowlist in their measured config.
    """

    method: str
    args: Any
    is_secure: bool
    client_id: bytes | None = None


class EnclaveApp(Protocol):
    """What an app's entry point returns."""

    def handle(self, request: Request) -> Any:
        """Answer one request with a CBOR-encodable value."""


class EnclaveContext:
    """The enclave-side API given to an app's entry point.

    Args:
        identity: The enclave identity the platform attests.
        is_debug: Whether the enclave runs in debug mode.
        config: The manifest's ``[config]`` table.
        files: The app's measured non-Python files, by relative path.
        sealing_keys: Keys derived by the platform for this identity.
    """

    def __init__(
        self,
        *,
        identity: EnclaveIdentity,
        is_debug: bool,
        config: Mapping[str, Any],
        files: Mapping[str, bytes],
        sealing_keys: SealingKeys,
    ) -> None:
        self.identity = identity
        self.is_debug = is_debug
        self.config = config
        self.files = files
        self._sealing_keys = sealing_keys
        self._secrets: list[bytes] = []

    def seal(self, plaintext: bytes, *, policy: SealPolicy = SealPolicy.MEASUREMENT) -> bytes:
        """Seal ``plaintext`` to this enclave (see :func:`enclaves.sealing.seal`)."""
        return seal(plaintext, keys=self._sealing_keys, policy=policy)

    def unseal(self, blob: bytes) -> bytes:
        """Unseal a blob (see :func:`enclaves.sealing.unseal`).

        Raises:
            SealingError: If this enclave may not unseal it.
        """
        return unseal(blob, keys=self._sealing_keys)

    def protect(self, secret: bytes) -> None:
        """Register a secret (at least 16 bytes) that the runtime must never send to the host.

        A plain (non-channel) reply or error containing it is replaced by an error.

        Raises:
            ValueError: If the secret is shorter than 16 bytes.
        """
        if len(secret) < 16:
            raise ValueError("protected secrets must be at least 16 bytes")
        self._secrets.append(bytes(secret))

    def leaks_secret(self, value: Any) -> bool:
        """Return whether ``value`` contains a protected secret (used by the runtime)."""
        if isinstance(value, bytes | bytearray | memoryview):
            data = bytes(value)
            return any(secret in data for secret in self._secrets)
        if isinstance(value, str):
            return any(secret.hex() in value.lower() for secret in self._secrets)
        if isinstance(value, Mapping):
            return any(self.leaks_secret(k) or self.leaks_secret(v) for k, v in value.items())
        if isinstance(value, list | tuple):
            return any(self.leaks_secret(item) for item in value)
        return False
