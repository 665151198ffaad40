"""Shared state of a KeyRing: authenticated reload, locked mutation, wrapping and auditing."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from engine.errors import IntegrityError, KeyManagementError, KeyNotFound, KeyringLocked
from engine.keys._audit import AuditLog
from engine.keys._backend import FileBackend, KeyringBackend
from engine.keys._document import (
    Document,
    KeyPurpose,
    KeyRecord,
    KeyState,
    VersionRecord,
    decode_document,
    encode_document,
    parse_header,
)
from engine.keys._envelope import KeyWrapper, wrap_aad
from engine.keys._material import KeyMaterial

__all__ = ["KeyStore"]

_T = TypeVar("_T")


class KeyStore:
    """The state and internals behind :class:`~engine.keys.KeyRing` (use that class)."""

    __slots__ = ("_audit", "_backend", "_clock", "_principal", "_raw", "_state", "_wrapper")

    def __init__(
        self,
        *,
        backend: KeyringBackend,
        wrapper: KeyWrapper,
        state: Document,
        raw: bytes,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._backend = backend
        self._wrapper = wrapper
        self._state = state
        self._raw = raw
        self._clock = clock or (lambda: datetime.now(UTC))
        self._audit: AuditLog | None = None
        self._principal = "local"

    def __repr__(self) -> str:
        return f"KeyRing({self._backend.location!r}, keys={len(self._state.keys)})"

    # -- properties ---------------------------------------------------------------------

    @property
    def location(self) -> str:
        """Where the keyring is stored (for messages)."""
        return self._backend.location

    @property
    def path(self) -> Path:
        """The keyring file (file backend only)."""
        if not isinstance(self._backend, FileBackend):
            raise KeyManagementError(f"keyring {self.location} is not stored in a file")
        return self._backend.path

    @property
    def root_kind(self) -> str:
        """The kind of root key protecting the keyring (``"scrypt"``, ``"keyfile"``, ...)."""
        return str(self._state.root["kind"])

    @property
    def audit_log(self) -> AuditLog | None:
        """The attached audit log, if any."""
        return self._audit

    def reload(self) -> None:
        """Re-read the stored keyring if another writer changed it (authenticated)."""
        raw = self._backend.load()
        if raw != self._raw:
            self._state = self._decode(raw)
            self._raw = raw

    # -- internals ----------------------------------------------------------------------

    def _decode(self, raw: bytes) -> Document:
        doc = parse_header(raw, location=self.location)
        if doc["root"] != self._state.root:
            raise KeyringLocked(f"the root key of keyring {self.location} changed; reopen it")
        state = decode_document(doc, self._wrapper, location=self.location)
        # SECURITY: the generation only grows; an older file put back in place (rollback,
        # resurrecting a retired version) is refused by any process that saw a newer one.
        if state.generation < self._state.generation:
            raise IntegrityError(
                f"keyring {self.location} was rolled back (generation {state.generation} "
                f"after {self._state.generation})"
            )
        return state

    def _mutate(self, change: Callable[[Document], _T], *, action: str, key_id: str | None) -> _T:
        done: list[tuple[Document, bytes, _T]] = []

        def transform(raw: bytes) -> bytes:
            state = self._decode(raw).clone()
            result = change(state)
            state.generation += 1
            encoded = encode_document(state, self._wrapper)
            done.append((state, encoded, result))
            return encoded

        try:
            self._backend.update(transform)
        except KeyManagementError as exc:
            if done:  # The change was audited as allowed, but the write failed.
                self._event(action, "error", key_id=key_id, reason=type(exc).__name__,
                            best_effort=True)  # fmt: skip
            raise
        self._state, self._raw, result = done[-1]
        return result

    def _new_version(
        self, key_id: str, purpose: KeyPurpose, *, version: int, size: int
    ) -> VersionRecord:
        aad = wrap_aad(key_id=key_id, version=version, purpose=purpose.value)
        return VersionRecord(
            version=version, state=KeyState.PRIMARY, size=size,
            created=self._clock().isoformat(timespec="seconds"),
            wrapped=self._wrapper.wrap(secrets.token_bytes(size), aad=aad),
        )  # fmt: skip

    def _audit_key(self, version: int) -> KeyMaterial:
        # Earlier audit key versions, even retired ones, verify old entries; internal only.
        self.reload()
        record = self._record(self._state, "audit", action=None)
        return self._unwrap("audit", record, self._version(record, "audit", version, action=None))

    def _release(self, key_id: str, record: KeyRecord, rec: VersionRecord) -> KeyMaterial:
        material = self._unwrap(key_id, record, rec)
        self._event("key.release", "allow", key_id=key_id, version=rec.version)
        return material

    def _unwrap(self, key_id: str, record: KeyRecord, rec: VersionRecord) -> KeyMaterial:
        aad = wrap_aad(key_id=key_id, version=rec.version, purpose=record.purpose.value)
        try:
            secret = self._wrapper.unwrap(rec.wrapped, aad=aad)
        except IntegrityError:
            raise IntegrityError(
                f"key {key_id!r} version {rec.version} failed authentication (tampered)"
            ) from None
        return KeyMaterial(key_id=key_id, version=rec.version, secret=secret)

    def _record(self, state: Document, key_id: str, *, action: str | None) -> KeyRecord:
        record = state.keys.get(key_id)
        if record is None:
            exc = KeyNotFound(f"no key {key_id!r} in keyring {self.location}")
            raise self._deny(exc, action=action, key_id=key_id, version=None) if action else exc
        return record

    def _version(
        self, record: KeyRecord, key_id: str, version: int, *, action: str | None
    ) -> VersionRecord:
        rec = record.version(version)
        if rec is None:
            known = ", ".join(str(v.version) for v in record.versions)
            exc = KeyNotFound(f"key {key_id!r} has no version {version} (versions: {known})")
            if action is None:
                raise exc
            raise self._deny(exc, action=action, key_id=key_id, version=version)
        return rec

    def _deny(
        self,
        exc: Exception,
        *,
        action: str,
        key_id: str | None,
        version: int | None,
        reason: str | None = None,
    ) -> Exception:
        self._event(action, "deny", key_id=key_id, version=version, reason=reason or str(exc))
        return exc

    def _event(
        self,
        action: str,
        decision: str,
        *,
        key_id: str | None = None,
        version: int | None = None,
        reason: str = "",
        subject: dict[str, str] | None = None,
        best_effort: bool = False,
    ) -> None:
        if self._audit is None:
            return
        try:
            self._audit.append(
                who=self._principal, action=action, decision=decision, reason=reason[:1000],
                key_id=key_id, key_version=version, subject=subject,
            )  # fmt: skip
        except IntegrityError:
            if not best_effort:
                raise
