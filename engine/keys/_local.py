"""The local zero-configuration keyring under ``$FINVEIL_HOME`` (adapter: reads the environment)."""

from __future__ import annotations

import getpass
import os
from pathlib import Path

from engine.errors import KeyManagementError, KeyringLocked
from engine.keys._backend import FileBackend
from engine.keys._document import KeyPurpose, parse_header
from engine.keys._keyring import KeyRing
from engine.keys._root import KeyFileRoot

__all__ = [
    "HOME_ENV",
    "PASSPHRASE_ENV",
    "STANDARD_KEYS",
    "audit_path_for",
    "default_keyring_path",
    "open_default",
    "open_local",
    "root_key_path_for",
]

HOME_ENV = "FINVEIL_HOME"
PASSPHRASE_ENV = "FINVEIL_KEYRING_PASSPHRASE"  # noqa: S105 - a variable name

#: The keys a FinVeil job uses, created by ``finveil keys init``.
STANDARD_KEYS: tuple[tuple[str, KeyPurpose], ...] = (
    *(
        (f"tokenize.{kind}", KeyPurpose.TOKENIZE)
        for kind in ("id", "name", "ssn", "pan", "iban", "email", "phone", "date", "text")
    ),
    ("quarantine", KeyPurpose.QUARANTINE),
    ("manifest", KeyPurpose.MANIFEST),
    ("audit", KeyPurpose.AUDIT),
)


def finveil_home() -> Path:
    """Return ``$FINVEIL_HOME`` (default ``~/.finveil``)."""
    return Path(os.environ.get(HOME_ENV) or "~/.finveil").expanduser()


def default_keyring_path() -> Path:
    """Return the default keyring file, ``$FINVEIL_HOME/keyring.json``."""
    return finveil_home() / "keyring.json"


def root_key_path_for(keyring: Path) -> Path:
    """Return the root key file kept beside ``keyring`` (``keyring.root``)."""
    return keyring.with_suffix(".root")


def audit_path_for(keyring: Path) -> Path:
    """Return the audit log kept beside ``keyring`` (``audit.jsonl`` for ``keyring.json``)."""
    if keyring.name == "keyring.json":
        return keyring.with_name("audit.jsonl")
    return keyring.with_name(f"{keyring.stem}.audit.jsonl")


def _principal() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def open_default(path: Path | None = None) -> tuple[KeyRing, bool]:
    """Open the local keyring, creating it on first use; return ``(keyring, created)``.

    The keyring lives at ``path`` (default ``$FINVEIL_HOME/keyring.json``, with
    ``FINVEIL_HOME`` defaulting to ``~/.finveil``). Its root key is derived from
    ``$FINVEIL_KEYRING_PASSPHRASE`` when that is set at creation; otherwise a random 32-byte
    root key file ``keyring.root`` (mode 0600) is created beside it. Operations are audited
    to the sibling ``audit.jsonl`` as the current OS user.

    Raises:
        KeyringLocked: The keyring is passphrase-protected and the variable is unset or
            wrong, or its root key file is missing or wrong.
        IntegrityError: The keyring file is corrupt or was edited.
    """
    return open_local(path, create=True)


def open_local(
    path: Path | None = None,
    *,
    create: bool,
    passphrase: str | None = None,
    root_key_file: Path | None = None,
    audit: bool = True,
) -> tuple[KeyRing, bool]:
    """Open (or with ``create`` make) a local keyring; return ``(keyring, created)``.

    ``passphrase`` defaults to ``$FINVEIL_KEYRING_PASSPHRASE``; ``root_key_file`` to the
    ``.root`` file beside the keyring. Which one is used on open follows the keyring header.
    """
    path = Path(path) if path is not None else default_keyring_path()
    if passphrase is None:
        passphrase = os.environ.get(PASSPHRASE_ENV) or None
    audit_path = audit_path_for(path) if audit else None
    if not path.exists() and create:
        try:
            return _create(path, passphrase, root_key_file, audit_path), True
        except KeyManagementError:
            if not path.exists():
                raise
            # Another process created the keyring first: open theirs.
    return _open(path, passphrase, root_key_file, audit_path), False


def _create(
    path: Path, passphrase: str | None, root_key_file: Path | None, audit_path: Path | None
) -> KeyRing:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if passphrase is not None:
        return KeyRing.create(path, passphrase=passphrase, audit_path=audit_path,
                              principal=_principal())  # fmt: skip
    root = root_key_file or root_key_path_for(path)
    if not root.exists():
        try:
            KeyFileRoot.generate(root)
        except KeyManagementError:
            if not root.exists():
                raise
    return KeyRing.create(path, root_key_file=root, audit_path=audit_path, principal=_principal())


def _open(
    path: Path, passphrase: str | None, root_key_file: Path | None, audit_path: Path | None
) -> KeyRing:
    kind = parse_header(FileBackend(path).load(), location=str(path))["root"]["kind"]
    if kind == "scrypt":
        if passphrase is None:
            raise KeyringLocked(f"keyring {path} is passphrase-protected; set {PASSPHRASE_ENV}")
        return KeyRing.open(path, passphrase=passphrase, audit_path=audit_path,
                            principal=_principal())  # fmt: skip
    if kind == "keyfile":
        root = root_key_file or root_key_path_for(path)
        return KeyRing.open(path, root_key_file=root, audit_path=audit_path,
                            principal=_principal())  # fmt: skip
    raise KeyringLocked(f"keyring {path} uses root kind {kind!r}, which this adapter cannot open")
