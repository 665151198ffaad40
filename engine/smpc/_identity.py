"""Party identities: self-signed Ed25519 TLS certificates, pinned by SHA-256 fingerprint."""

from __future__ import annotations

import datetime
import hashlib
import hmac
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_PREFIX = "sha256:"


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """A party's TLS identity: PEM certificate and PEM private key (never logged)."""

    name: str
    cert_pem: bytes
    key_pem: bytes = field(repr=False)

    @property
    def fingerprint(self) -> str:
        """The ``sha256:<hex>`` fingerprint of the DER certificate, as the session spec pins it."""
        cert = x509.load_pem_x509_certificate(self.cert_pem)
        return fingerprint(cert.public_bytes(Encoding.DER))


def fingerprint(cert_der: bytes) -> str:
    """Return ``sha256:<hex>`` of a DER certificate."""
    return _PREFIX + hashlib.sha256(cert_der).hexdigest()


def matches(cert_der: bytes, pinned: str) -> bool:
    """Return whether ``cert_der`` has the pinned fingerprint (constant-time comparison)."""
    return hmac.compare_digest(fingerprint(cert_der).encode(), pinned.strip().lower().encode())


def generate_identity(name: str, *, days: int = 365) -> Identity:
    """Create a fresh Ed25519 key and a self-signed certificate naming party ``name``.

    The certificate is its own trust anchor: peers pin its fingerprint from the session spec.
    """
    if not name or len(name) > 64:
        raise ValueError("party name must have 1 to 64 characters")
    key = Ed25519PrivateKey.generate()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"finveil-smpc {name}")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, algorithm=None)
    )
    return Identity(
        name=name,
        cert_pem=cert.public_bytes(Encoding.PEM),
        key_pem=key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()),
    )
