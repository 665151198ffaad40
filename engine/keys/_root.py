"""Root key sources: a passphrase (scrypt), a 32-byte key file, or (later) a sealed blob."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import stat
import unicodedata
from base64 import b64decode, b64encode
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from engine.errors import IntegrityError, KeyManagementError, KeyringLocked
from engine.keys._envelope import KeyWrapper, LocalWrapper

__all__ = ["KeyFileRoot", "PassphraseRoot", "RootKeySource"]

ROOT_KEY_BYTES = 32
# scrypt cost: n=2^15, r=8, p=1 needs 32 MiB and ~0.1 s; stored in the header so it can grow.
_SCRYPT_N = 2**15
_SCRYPT_R = 8
_SCRYPT_P = 1
_SALT_BYTES = 16


class RootKeySource(Protocol):
    """Where a keyring's root key comes from.

    ``new_header`` returns the public parameters stored in the keyring file header when a
    keyring is created (e.g. the scrypt salt and cost); ``unlock`` turns them plus the
    secret this source holds into a :class:`KeyWrapper`. An enclave-sealed root key is a
    source of kind ``"sealed"`` whose ``unlock`` asks the enclave to unseal the blob; a KMS
    source (kind ``"vault-transit"``, ``"aws-kms"``) returns a wrapper that calls the KMS.
    """

    @property
    def kind(self) -> str:
        """The header ``kind`` this source understands (``"scrypt"``, ``"keyfile"``, ...)."""
        ...

    def new_header(self) -> dict[str, Any]:
        """Return fresh public header parameters for a new keyring (must include ``kind``)."""
        ...

    def unlock(self, header: Mapping[str, Any]) -> KeyWrapper:
        """Return the wrapper for the root key described by ``header``.

        Raises:
            KeyringLocked: The secret does not fit this header (checked by the caller
                against the key check value) or the source is unusable.
        """
        ...


class PassphraseRoot:
    """Root key derived from a passphrase with scrypt (parameters kept in the header).

    Args:
        passphrase: Non-empty passphrase; normalized to Unicode NFC before hashing.
    """

    __slots__ = ("_passphrase",)

    kind = "scrypt"

    def __init__(self, passphrase: str) -> None:
        if not isinstance(passphrase, str) or not passphrase:
            raise ValueError("passphrase must be a non-empty string")
        self._passphrase = unicodedata.normalize("NFC", passphrase).encode("utf-8")

    def __repr__(self) -> str:
        return "PassphraseRoot(<hidden>)"

    def new_header(self) -> dict[str, Any]:
        """Return a header with a fresh random salt and the default scrypt cost."""
        salt = b64encode(secrets.token_bytes(_SALT_BYTES)).decode()
        return {"kind": self.kind, "salt": salt, "n": _SCRYPT_N, "r": _SCRYPT_R, "p": _SCRYPT_P}

    def unlock(self, header: Mapping[str, Any]) -> KeyWrapper:
        """Derive the root key with the header's scrypt parameters."""
        salt, n, r, p = _scrypt_params(header)
        root = hashlib.scrypt(
            self._passphrase, salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32
        )
        return LocalWrapper(root)


def _scrypt_params(header: Mapping[str, Any]) -> tuple[bytes, int, int, int]:
    try:
        salt = b64decode(header["salt"], validate=True)
        n, r, p = header["n"], header["r"], header["p"]
    except (KeyError, TypeError, ValueError) as exc:
        raise IntegrityError("keyring header: scrypt parameters are missing or malformed") from exc
    # SECURITY: bound the cost so a tampered header can neither weaken the KDF nor make
    # opening the keyring exhaust memory.
    valid = (
        all(type(v) is int for v in (n, r, p))
        and 2**14 <= n <= 2**20
        and n & (n - 1) == 0
        and 1 <= r <= 32
        and 1 <= p <= 16
        and len(salt) >= _SALT_BYTES
    )
    if not valid:
        raise IntegrityError("keyring header: scrypt parameters are outside the allowed range")
    return salt, n, r, p


class KeyFileRoot:
    """Root key read from a file of exactly 32 random bytes, mode 0600.

    Args:
        path: The root key file. It must not be readable by group or others.
    """

    __slots__ = ("_path",)

    kind = "keyfile"

    def __init__(self, path: Path) -> None:
        self._path = Path(path)

    def __repr__(self) -> str:
        return f"KeyFileRoot({str(self._path)!r})"

    @property
    def path(self) -> Path:
        """The root key file."""
        return self._path

    def new_header(self) -> dict[str, Any]:
        """Return the header for a key-file root (no public parameters)."""
        return {"kind": self.kind}

    def unlock(self, header: Mapping[str, Any]) -> KeyWrapper:
        """Read the root key file and return its wrapper."""
        return LocalWrapper(self._read())

    def _read(self) -> bytes:
        try:
            with self._path.open("rb") as fh:
                mode = os.fstat(fh.fileno()).st_mode
                data = fh.read(ROOT_KEY_BYTES + 1)
        except OSError as exc:
            raise KeyringLocked(f"cannot read root key file {self._path}: {exc.strerror}") from exc
        if stat.S_IMODE(mode) & 0o077:
            raise KeyringLocked(
                f"root key file {self._path} is accessible by group or others "
                f"(mode {stat.S_IMODE(mode):04o}); run chmod 600 on it"
            )
        if len(data) != ROOT_KEY_BYTES:
            raise KeyringLocked(f"root key file {self._path} must hold exactly 32 bytes")
        return data

    @classmethod
    def generate(cls, path: Path) -> KeyFileRoot:
        """Create ``path`` holding 32 random bytes (mode 0600 from creation); never overwrite.

        The file is written under a temporary name and hard-linked into place, so a reader
        never sees a partial key and two concurrent callers cannot both succeed.

        Raises:
            KeyManagementError: ``path`` already exists or cannot be written.
        """
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, secrets.token_bytes(ROOT_KEY_BYTES))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.link(tmp, path)
        except FileExistsError as exc:
            raise KeyManagementError(f"root key file {path} already exists") from exc
        except OSError as exc:
            raise KeyManagementError(f"cannot create root key file {path}: {exc.strerror}") from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        return cls(path)
