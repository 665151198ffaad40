"""KeyRing: named, versioned data keys wrapped under a root key, with rotation and retirement."""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

from engine.errors import KeyManagementError, KeyringLocked
from engine.keys._audit import AuditLog
from engine.keys._backend import FileBackend, KeyringBackend
from engine.keys._document import (
    Document,
    KeyInfo,
    KeyPurpose,
    KeyRecord,
    KeyState,
    decode_document,
    encode_document,
    parse_header,
)
from engine.keys._material import KeyMaterial
from engine.keys._root import KeyFileRoot, PassphraseRoot, RootKeySource
from engine.keys._store import KeyStore

__all__ = ["KeyRing"]

_KEY_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")
_DATASET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+=-]{0,255}$")
_SIZES = (16, 24, 32, 64)

InUse = Callable[[str, int], Iterable[str]] | Iterable[str] | None


def _source(passphrase: str | None, root_key_file: Path | None) -> RootKeySource:
    if (passphrase is None) == (root_key_file is None):
        raise ValueError("give exactly one of passphrase or root_key_file")
    return PassphraseRoot(passphrase) if passphrase is not None else KeyFileRoot(root_key_file)  # type: ignore[arg-type]


class KeyRing(KeyStore):
    """Named, versioned keys for one data owner, stored wrapped under a root key.

    Every data key version is wrapped with AES-256-GCM under a key derived from the root key,
    with the key id, version and purpose as associated data; the whole document is MACed, so
    any edit of a version number, state or usage record fails authentication. Mutations
    reload the document under the backend's exclusive lock before changing it, so concurrent
    writers (two processes rotating) never lose a version.

    Key states: the *primary* version is used for new data; *active* versions are still
    released to read old data; *retired* versions are never released: :meth:`get` raises
    ``KeyManagementError`` for them, so detokenization or decryption with a retired version
    is refused. A version is retired only when no recorded dataset uses it.

    When an audit log is attached, key creation, rotation, retirement, usage records and
    every key release are appended to it *before* they take effect (fail-closed), and
    refusals are appended with decision ``"deny"``.

    Create with :meth:`create` or :meth:`open` (file), :meth:`open_default` (the local
    zero-configuration keyring), or :meth:`create_with`/:meth:`open_with` (any backend).
    """

    __slots__ = ()

    # -- construction -------------------------------------------------------------------

    @classmethod
    def create_with(
        cls,
        backend: KeyringBackend,
        source: RootKeySource,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> Self:
        """Create an empty keyring in ``backend`` protected by ``source``; never overwrite."""
        header = source.new_header()
        wrapper = source.unlock(header)
        now = (clock or (lambda: datetime.now(UTC)))()
        state = Document(
            root=header, kcv=wrapper.check_value(), generation=1,
            created=now.isoformat(timespec="seconds"), keys={}, usage={},
        )  # fmt: skip
        raw = encode_document(state, wrapper)
        backend.create(raw)
        return cls(backend=backend, wrapper=wrapper, state=state, raw=raw, clock=clock)

    @classmethod
    def open_with(
        cls,
        backend: KeyringBackend,
        source: RootKeySource,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> Self:
        """Open and authenticate the keyring in ``backend``; nothing is written.

        Raises:
            KeyringLocked: Wrong passphrase or root key, or the wrong kind of root source.
            IntegrityError: The stored document is corrupt, truncated or was edited.
        """
        raw = backend.load()
        doc = parse_header(raw, location=backend.location)
        kind = doc["root"]["kind"]
        if kind != source.kind:
            raise KeyringLocked(
                f"keyring {backend.location} is protected by a {kind!r} root, "
                f"but a {source.kind!r} root was given"
            )
        wrapper = source.unlock(doc["root"])
        state = decode_document(doc, wrapper, location=backend.location)
        return cls(backend=backend, wrapper=wrapper, state=state, raw=raw, clock=clock)

    @classmethod
    def create(
        cls,
        path: Path,
        *,
        passphrase: str | None = None,
        root_key_file: Path | None = None,
        audit_path: Path | None = None,
        principal: str = "local",
    ) -> Self:
        """Create a keyring file at ``path`` (mode 0600); refuse if it exists.

        Args:
            path: The keyring file; its directory must exist.
            passphrase: Derive the root key with scrypt from this passphrase, or
            root_key_file: read it from this 32-byte file (exactly one of the two).
            audit_path: Attach an audit log here (see :meth:`attach_audit`).
            principal: Who is acting, for the audit log.

        Raises:
            KeyManagementError: A keyring exists at ``path`` or it cannot be written.
        """
        ring = cls.create_with(FileBackend(path), _source(passphrase, root_key_file))
        if audit_path is not None:
            ring.attach_audit(audit_path, principal=principal)
            ring._event("keyring.create", "allow", reason=f"created at {ring.location}")
        return ring

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        passphrase: str | None = None,
        root_key_file: Path | None = None,
        audit_path: Path | None = None,
        principal: str = "local",
    ) -> Self:
        """Open the keyring file at ``path``; nothing is written.

        Raises:
            KeyManagementError: No keyring at ``path``.
            KeyringLocked: Wrong passphrase or root key.
            IntegrityError: The file is corrupt, truncated or was edited.
        """
        ring = cls.open_with(FileBackend(path), _source(passphrase, root_key_file))
        if audit_path is not None:
            ring.attach_audit(audit_path, principal=principal)
        return ring

    @classmethod
    def open_default(cls, path: Path | None = None) -> tuple[KeyRing, bool]:
        """Open (or create) the local keyring; see :func:`engine.keys._local.open_default`."""
        from engine.keys._local import open_default  # Adapter module, imported lazily.

        return open_default(path)

    def attach_audit(self, path: Path, *, principal: str) -> AuditLog:
        """Audit every later operation to the log at ``path`` as ``principal``.

        The audit key is the keyring key ``"audit"`` (created if absent).
        """
        key = self.ensure("audit", KeyPurpose.AUDIT)
        self._audit = AuditLog(path, key=key, older_keys=self._audit_key)
        self._principal = principal
        return self._audit

    # -- reading ------------------------------------------------------------------------

    def primary(self, key_id: str) -> KeyMaterial:
        """Return the primary (newest) version of ``key_id``.

        Raises:
            KeyNotFound: No such key.
        """
        self.reload()
        record = self._record(self._state, key_id, action="key.release")
        return self._release(key_id, record, record.primary())

    def get(self, key_id: str, version: int) -> KeyMaterial:
        """Return ``version`` of ``key_id`` for reading data written under it.

        Raises:
            KeyNotFound: No such key or version (the message names both).
            KeyManagementError: The version is retired; it is never released again.
        """
        self.reload()
        record = self._record(self._state, key_id, action="key.release")
        rec = self._version(record, key_id, version, action="key.release")
        if rec.state is KeyState.RETIRED:
            raise self._deny(
                KeyManagementError(f"key {key_id!r} version {version} is retired and not released"),
                action="key.release", key_id=key_id, version=version,
            )  # fmt: skip
        return self._release(key_id, record, rec)

    def ensure(self, key_id: str, purpose: KeyPurpose, *, size: int = 32) -> KeyMaterial:
        """Return the primary of ``key_id``, creating version 1 (``size`` bytes) if absent.

        Raises:
            KeyManagementError: The key exists with another purpose.
            ValueError: Malformed key id or size.
        """
        _check_key_id(key_id)
        if not isinstance(purpose, KeyPurpose):
            raise TypeError("purpose must be a KeyPurpose")
        if size not in _SIZES:
            raise ValueError(f"size must be one of {_SIZES}")
        self.reload()
        if key_id not in self._state.keys:

            def change(state: Document) -> None:
                if key_id not in state.keys:
                    first = self._new_version(key_id, purpose, version=1, size=size)
                    self._event("key.create", "allow", key_id=key_id, version=1)
                    state.keys[key_id] = KeyRecord(purpose=purpose, versions=[first])

            self._mutate(change, action="key.create", key_id=key_id)
        record = self._state.keys[key_id]
        if record.purpose is not purpose:
            raise self._deny(
                KeyManagementError(
                    f"key {key_id!r} has purpose {record.purpose.value!r}, not {purpose.value!r}"
                ),
                action="key.release", key_id=key_id, version=None,
            )  # fmt: skip
        return self._release(key_id, record, record.primary())

    def info(self, key_id: str) -> KeyInfo:
        """Return the public facts of ``key_id`` (no secret)."""
        self.reload()
        self._record(self._state, key_id, action=None)
        return self._state.info(key_id)

    def datasets_using(self, key_id: str, version: int) -> builtins.list[str]:
        """Return the recorded dataset ids that use ``key_id`` at ``version``."""
        self.reload()
        return self._state.datasets_using(key_id, version)

    # -- changing -----------------------------------------------------------------------

    def rotate(self, key_id: str) -> int:
        """Add a new primary version of ``key_id``; the old primary becomes active.

        Returns:
            The new version number.

        Raises:
            KeyNotFound: No such key.
        """

        def change(state: Document) -> int:
            record = self._record(state, key_id, action="key.rotate")
            old = record.primary()
            number = max(v.version for v in record.versions) + 1
            new = self._new_version(key_id, record.purpose, version=number, size=old.size)
            self._event(
                "key.rotate", "allow", key_id=key_id, version=number,
                reason=f"new primary; version {old.version} is now active",
            )  # fmt: skip
            old.state = KeyState.ACTIVE
            record.versions.append(new)
            return number

        return self._mutate(change, action="key.rotate", key_id=key_id)

    def retire(self, key_id: str, version: int, *, in_use: InUse = None) -> None:
        """Retire ``version`` of ``key_id`` so it is never released again.

        Refused while any recorded dataset (see :meth:`record_usage`) or any dataset named
        by ``in_use`` uses the version, and for the primary (rotate first). Retiring a
        retired version does nothing.

        Args:
            key_id: The key.
            version: The version to retire.
            in_use: Extra dataset ids known to use it, or a function ``(key_id, version)``
                returning them (e.g. a scan of manifests).

        Raises:
            KeyNotFound: No such key or version.
            KeyManagementError: The version is the primary or still in use.
        """
        extra = set(in_use(key_id, version) if callable(in_use) else (in_use or ()))

        def change(state: Document) -> None:
            record = self._record(state, key_id, action="key.retire")
            rec = self._version(record, key_id, version, action="key.retire")
            if rec.state is KeyState.RETIRED:
                return
            if rec.state is KeyState.PRIMARY:
                raise self._deny(
                    KeyManagementError(
                        f"key {key_id!r} version {version} is the primary; rotate it first"
                    ),
                    action="key.retire", key_id=key_id, version=version,
                )  # fmt: skip
            users = sorted(set(state.datasets_using(key_id, version)) | extra)
            if users:
                shown = ", ".join(users[:5]) + (", ..." if len(users) > 5 else "")
                raise self._deny(
                    KeyManagementError(
                        f"refused to retire key {key_id!r} version {version}: {len(users)} "
                        f"recorded dataset(s) still use it ({shown}); retokenize them first"
                    ),
                    action="key.retire", key_id=key_id, version=version,
                    reason=f"in use by {len(users)} recorded dataset(s)",
                )  # fmt: skip
            self._event("key.retire", "allow", key_id=key_id, version=version)
            rec.state = KeyState.RETIRED

        self._mutate(change, action="key.retire", key_id=key_id)

    def record_usage(self, dataset_id: str, key_id: str, version: int) -> None:
        """Record that ``dataset_id`` holds data written under ``key_id`` at ``version``.

        Raises:
            KeyNotFound: No such key or version.
            KeyManagementError: The version is retired.
        """
        if not isinstance(dataset_id, str) or not _DATASET_ID.match(dataset_id):
            raise ValueError("dataset_id must be 1-256 characters of [A-Za-z0-9._:/@+=-]")

        def change(state: Document) -> None:
            rec = self._version(self._record(state, key_id, action="key.usage"), key_id,
                                version, action="key.usage")  # fmt: skip
            if rec.state is KeyState.RETIRED:
                raise KeyManagementError(f"key {key_id!r} version {version} is retired")
            versions = state.usage.setdefault(dataset_id, {}).setdefault(key_id, [])
            if version not in versions:
                self._event("key.usage.record", "allow", key_id=key_id, version=version,
                            subject={"dataset": dataset_id})  # fmt: skip
                versions.append(version)
                versions.sort()

        self._mutate(change, action="key.usage.record", key_id=key_id)

    def drop_usage(self, dataset_id: str, key_id: str | None = None) -> None:
        """Forget the usage records of ``dataset_id`` (for ``key_id`` only, if given)."""

        def change(state: Document) -> None:
            keys = state.usage.get(dataset_id)
            if keys is None:
                return
            self._event("key.usage.drop", "allow", key_id=key_id, subject={"dataset": dataset_id})
            if key_id is None:
                del state.usage[dataset_id]
            else:
                keys.pop(key_id, None)
                if not keys:
                    del state.usage[dataset_id]

        self._mutate(change, action="key.usage.drop", key_id=key_id)

    def list(self) -> builtins.list[KeyInfo]:
        """Return every key's public facts, sorted by key id (no secrets)."""
        self.reload()
        return [self._state.info(key_id) for key_id in sorted(self._state.keys)]


def _check_key_id(key_id: str) -> None:
    if not isinstance(key_id, str) or not _KEY_ID.match(key_id):
        raise ValueError("key_id must be 1-128 characters of [a-z0-9._-], starting alphanumeric")
