"""Keys and certificates of one simulated platform installation."""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from enclaves.attestation import SIMULATED_LABEL

_VALIDITY = datetime.timedelta(days=3650)


@dataclass(frozen=True, slots=True, kw_only=True)
class PlatformSecrets:
    """Everything that makes up one simulated platform installation.

    Args:
        root_key: The root CA key.
        root_certificate: The self-signed root CA certificate (subject says SIMULATED).
        attestation_key: The platform key that signs quotes.
        platform_certificate: The platform certificate, issued by the root CA.
        sealing_secret: The platform's 32-byte sealing secret.
    """

    root_key: Ed25519PrivateKey = field(repr=False)
    root_certificate: x509.Certificate
    attestation_key: Ed25519PrivateKey = field(repr=False)
    platform_certificate: x509.Certificate
    sealing_secret: bytes = field(repr=False)

    @classmethod
    def generate(cls, *, sealing_secret: bytes) -> PlatformSecrets:
        """Create a fresh root CA, platform key and certificates around ``sealing_secret``."""
        root_key = Ed25519PrivateKey.generate()
        attestation_key = Ed25519PrivateKey.generate()
        platform_id = hashlib.sha256(attestation_key.public_key().public_bytes_raw()).hexdigest()
        root_name = _name(f"FinVeil {SIMULATED_LABEL} Root CA")
        now = datetime.datetime.now(tz=datetime.UTC) - datetime.timedelta(minutes=5)
        root_cert = (
            _builder(root_name, root_name, root_key, now)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(root_key, algorithm=None)
        )
        platform_cert = (
            _builder(
                _name(f"FinVeil {SIMULATED_LABEL} Platform {platform_id[:16]}"),
                root_name,
                attestation_key,
                now,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(root_key, algorithm=None)
        )
        return cls(
            root_key=root_key,
            root_certificate=root_cert,
            attestation_key=attestation_key,
            platform_certificate=platform_cert,
            sealing_secret=sealing_secret,
        )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"FinVeil {SIMULATED_LABEL} TEE"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _builder(
    subject: x509.Name, issuer: x509.Name, key: Ed25519PrivateKey, start: datetime.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + _VALIDITY)
    )
