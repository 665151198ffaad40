"""Files of a simulated platform installation (keys PEM, certificates, secret, TCB status)."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from enclaves.attestation import TCBStatus
from enclaves.platform._secrets import PlatformSecrets
from engine.errors import EnclaveError

_FILES = ("root_ca.key", "root_ca.pem", "platform.key", "platform.pem", "sealing.secret")
_TCB_FILE = "tcb.json"


def _write_private(path: Path, data: bytes) -> None:
    # SECURITY: created 0600 atomically (O_EXCL), never widened by the umask or a race.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def load_or_create(directory: Path) -> tuple[PlatformSecrets, TCBStatus]:
    """Load an installation, or create one if ``directory`` has none."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    present = [name for name in _FILES if (directory / name).exists()]
    if not present:
        created = PlatformSecrets.generate(sealing_secret=secrets.token_bytes(32))
        _save(directory, created)
        save_tcb_status(directory, TCBStatus.UP_TO_DATE)
    elif len(present) != len(_FILES):
        raise EnclaveError(f"platform directory {directory} holds a partial installation")
    return _load(directory), _load_tcb(directory)


def _private_pem(key: Ed25519PrivateKey) -> bytes:
    # Unencrypted PKCS#8: a simulated platform protects its keys by file mode only.
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


def _save(directory: Path, created: PlatformSecrets) -> None:
    _write_private(directory / "root_ca.key", _private_pem(created.root_key))
    _write_private(directory / "root_ca.pem", created.root_certificate.public_bytes(Encoding.PEM))
    _write_private(directory / "platform.key", _private_pem(created.attestation_key))
    _write_private(
        directory / "platform.pem", created.platform_certificate.public_bytes(Encoding.PEM)
    )
    _write_private(directory / "sealing.secret", created.sealing_secret)


def _load(directory: Path) -> PlatformSecrets:
    try:
        root_key = load_pem_private_key((directory / "root_ca.key").read_bytes(), None)
        attestation_key = load_pem_private_key((directory / "platform.key").read_bytes(), None)
        root_cert = x509.load_pem_x509_certificate((directory / "root_ca.pem").read_bytes())
        platform_cert = x509.load_pem_x509_certificate((directory / "platform.pem").read_bytes())
        sealing_secret = (directory / "sealing.secret").read_bytes()
    except (OSError, ValueError) as exc:
        raise EnclaveError(f"platform directory {directory} is unreadable") from exc
    if not isinstance(root_key, Ed25519PrivateKey) or not isinstance(
        attestation_key, Ed25519PrivateKey
    ):
        raise EnclaveError(f"platform directory {directory} holds non-Ed25519 keys")
    if len(sealing_secret) != 32:
        raise EnclaveError(f"platform directory {directory} holds a bad sealing secret")
    return PlatformSecrets(
        root_key=root_key,
        root_certificate=root_cert,
        attestation_key=attestation_key,
        platform_certificate=platform_cert,
        sealing_secret=sealing_secret,
    )


def save_tcb_status(directory: Path, status: TCBStatus) -> None:
    """Persist the TCB status (atomically, mode 0600)."""
    tmp = directory / f".{_TCB_FILE}.{secrets.token_hex(4)}"
    _write_private(tmp, json.dumps({"tcb_status": status.value}).encode())
    tmp.replace(directory / _TCB_FILE)


def _load_tcb(directory: Path) -> TCBStatus:
    try:
        return TCBStatus(json.loads((directory / _TCB_FILE).read_text())["tcb_status"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EnclaveError(f"platform directory {directory} has no valid TCB status") from exc
