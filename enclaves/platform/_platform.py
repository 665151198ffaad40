"""The simulated platform: signs quotes and derives sealing keys; reports a TCB status."""

from __future__ import annotations

import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from enclaves.attestation import QuoteClaims, TCBStatus
from enclaves.attestation.hazmat import sign_quote
from enclaves.platform._secrets import PlatformSecrets
from enclaves.platform._store import load_or_create, save_tcb_status
from enclaves.sealing import SealingKeys, derive_sealing_keys


class SimulatedPlatform:
    """A simulated TEE platform: signs quotes and derives sealing keys for loaded enclaves.

    In hardware the CPU measures the enclave and a quoting enclave signs; here the loader
    (:class:`enclaves.runtime.SimulatedEnclave`) measures and this object signs. Everything
    it signs says SIMULATED. Use :meth:`open` for a persistent installation.

    Args:
        secrets: The installation's keys and certificates.
        tcb_status: The TCB status quotes report.
        directory: Where the installation is stored (``None``: in memory only).
    """

    def __init__(
        self, secrets: PlatformSecrets, *, tcb_status: TCBStatus, directory: Path | None = None
    ) -> None:
        self._secrets = secrets
        self._tcb_status = tcb_status
        self._directory = directory

    @classmethod
    def open(cls, directory: Path) -> SimulatedPlatform:
        """Load the installation stored in ``directory``, creating it on first use.

        The directory is created with mode 0700 and every file with mode 0600.

        Args:
            directory: The installation directory.

        Returns:
            The platform.

        Raises:
            EnclaveError: If the directory holds a partial or unreadable installation.
        """
        secrets, status = load_or_create(directory)
        return cls(secrets, tcb_status=status, directory=directory)

    @property
    def root_certificate(self) -> x509.Certificate:
        """The root CA certificate verifiers must trust to accept this platform."""
        return self._secrets.root_certificate

    @property
    def tcb_status(self) -> TCBStatus:
        """The TCB status reported in quotes."""
        return self._tcb_status

    def set_tcb_status(self, status: TCBStatus) -> None:
        """Set (and persist, if stored) the TCB status, as a TCB recovery or revocation would."""
        if self._directory is not None:
            save_tcb_status(self._directory, status)
        self._tcb_status = status

    def issue_quote(
        self,
        *,
        measurement: bytes,
        signer_id: bytes,
        product_id: int,
        svn: int,
        is_debug: bool,
        nonce: bytes,
        public_key: bytes,
    ) -> bytes:
        """Sign a quote for an enclave this platform loaded (the simulated quoting enclave).

        Args:
            measurement: The measurement the loader computed.
            signer_id: The verified signer id.
            product_id: The product id.
            svn: The SVN.
            is_debug: The debug attribute.
            nonce: The verifier's nonce.
            public_key: The enclave's ephemeral X25519 public key.

        Returns:
            The COSE_Sign1 quote.
        """
        platform_name = self._secrets.platform_certificate.subject.rfc4514_string()
        claims = QuoteClaims.create(
            platform=platform_name,
            is_simulated=True,
            measurement=measurement,
            signer_id=signer_id,
            product_id=product_id,
            svn=svn,
            is_debug=is_debug,
            tcb_status=self._tcb_status,
            timestamp_ms=time.time_ns() // 1_000_000,
            nonce=nonce,
            public_key=public_key,
        )
        chain = [
            self._secrets.platform_certificate.public_bytes(Encoding.DER),
            self._secrets.root_certificate.public_bytes(Encoding.DER),
        ]
        return sign_quote(claims, signing_key=self._secrets.attestation_key, chain=chain)

    def sealing_keys(
        self, *, measurement: bytes, signer_id: bytes, product_id: int, svn: int, is_debug: bool
    ) -> SealingKeys:
        """Derive the sealing keys of an enclave identity (simulated EGETKEY)."""
        return derive_sealing_keys(
            self._secrets.sealing_secret,
            measurement=measurement,
            signer_id=signer_id,
            product_id=product_id,
            svn=svn,
            is_debug=is_debug,
        )
