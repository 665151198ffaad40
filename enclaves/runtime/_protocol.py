"""The backend-neutral enclave interface (simulator, Gramine-SGX, Nitro, SEV-SNP)."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self, runtime_checkable

from enclaves.runtime._manifest import EnclaveIdentity


@runtime_checkable
class Enclave(Protocol):
    """A loaded enclave: an isolated process reachable only through messages.

    Callers depend on this protocol, never on a backend; see ``docs/enclaves.md``.
    """

    @classmethod
    def load(
        cls, app_dir: Path, *, platform: Any, is_debug: bool = False, timeout_s: float = 10.0
    ) -> Self:
        """Measure, verify and start the app in ``app_dir`` on ``platform``.

        Args:
            app_dir: The app directory (manifest, code, signature).
            platform: The backend's platform handle (simulator: ``SimulatedPlatform``;
                hardware backends: their attestation/launch configuration).
            is_debug: Launch in debug mode (refused by default policies).
            timeout_s: Longest wait for one reply.

        Raises:
            EnclaveError: If the app is invalid or does not start.
            IntegrityError: If the app's signature does not match.
        """

    @property
    def measurement(self) -> bytes:
        """The 32-byte measurement the platform attests."""

    @property
    def identity(self) -> EnclaveIdentity:
        """Measurement, signer id, product id and SVN."""

    @property
    def is_debug(self) -> bool:
        """Whether the enclave runs in debug mode (host can read its memory)."""

    def call(self, method: str, args: Any = None) -> Any:
        """Send a plain request (never secrets) and return the app's reply.

        Raises:
            EnclaveError: If the enclave crashed, timed out or the app failed.
        """

    def attest(self, nonce: bytes) -> bytes:
        """Return a quote over a fresh enclave X25519 key and the verifier's ``nonce``."""

    def open_channel(self, quote: bytes, hello: bytes) -> bytes:
        """Open the enclave end of the channel for ``quote`` from the client's ``hello``.

        Returns:
            The session id.
        """

    def send_secure(self, session: bytes, record: bytes) -> bytes:
        """Relay an encrypted request record; return the encrypted reply record."""

    def close(self) -> None:
        """Stop the enclave; idempotent."""

    def __enter__(self) -> Self:
        """Return the enclave."""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the enclave."""
