"""Tamper-evident audit log: hash-chained, HMAC-authenticated JSON lines, fail-closed."""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.errors import IntegrityError
from engine.keys._envelope import canonical_json
from engine.keys._material import KeyMaterial

__all__ = ["AuditChainHead", "AuditLog"]

ENTRY_FORMAT_VERSION = 1
GENESIS = "0" * 64
DECISIONS = frozenset({"allow", "deny", "error"})
_ACTION = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
_MAX_TAIL_BYTES = 64 * 1024
_FIELDS = frozenset(
    {"v", "seq", "prev", "when", "who", "action", "decision", "reason", "key_id",
     "key_version", "rows", "subject", "mac_key", "mac"}
)  # fmt: skip

AuditKey = KeyMaterial | bytes | Callable[[int], KeyMaterial | bytes]


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditChainHead:
    """The end of a verified (or just extended) audit chain.

    Anchor it elsewhere (a signed manifest, a ticket) to detect later truncation: pass it as
    ``expected_head`` to :meth:`AuditLog.verify`.

    Args:
        entries: Number of entries in the log.
        seq: Sequence number of the last entry (``-1`` for an empty log).
        digest: SHA-256 (hex) of the last entry's canonical JSON (``GENESIS`` when empty).
    """

    entries: int
    seq: int
    digest: str


def _derive(secret: bytes, label: bytes) -> bytes:
    return hmac.new(secret, b"finveil/audit/" + label, hashlib.sha256).digest()


def _secret_of(key: KeyMaterial | bytes) -> bytes:
    return key.secret if isinstance(key, KeyMaterial) else bytes(key)


class AuditLog:
    """An append-only audit log at ``path``, MACed with the keyring's audit key.

    Each line is one canonical JSON entry with ``seq`` (0-based position), ``prev`` (SHA-256
    of the previous entry, which chains them), the fields passed to :meth:`append` and an
    HMAC-SHA256 ``mac``. Values that must be correlated (dataset ids, customer ids) appear
    only as keyed hashes in ``subject``.

    Fail-closed pattern for callers: append the entry with its decision *first*; act only
    if ``append`` returned. ``append`` fsyncs before returning and raises if the entry
    cannot be written, so an operation that cannot be audited never happens::

        log.append(who=p, action="detokenize", decision="allow", rows=n, ...)
        result = detokenize(...)   # only reached when the entry is on disk

    Args:
        path: The log file (created with mode 0600 if absent).
        key: The audit key (keyring id ``"audit"``); its version is recorded per entry.
        older_keys: Returns earlier audit key versions, to read entries written before the
            audit key was rotated.
        clock: Returns the current UTC time (for tests); defaults to the system clock.
    """

    __slots__ = ("_clock", "_key", "_mac_key", "_older_keys", "_path", "_subject_key")

    def __init__(
        self,
        path: Path,
        *,
        key: KeyMaterial,
        older_keys: Callable[[int], KeyMaterial] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._path = Path(path)
        self._key = key
        self._older_keys = older_keys
        self._mac_key = _derive(key.secret, b"mac/v1")
        self._subject_key = _derive(key.secret, b"subject/v1")
        self._clock = clock or (lambda: datetime.now(UTC))

    def __repr__(self) -> str:
        return f"AuditLog({str(self._path)!r})"

    @property
    def path(self) -> Path:
        """The log file."""
        return self._path

    def read_entries(self) -> list[dict[str, Any]]:
        """Verify this log (see :meth:`verify`) and return its entries; ``[]`` if absent.

        Raises:
            IntegrityError: The log fails verification.
        """
        if not self._path.exists():
            return []
        return AuditLog.read(self._path, self._key_for)

    def _key_for(self, version: int) -> KeyMaterial:
        if version == self._key.version:
            return self._key
        if self._older_keys is None:
            raise IntegrityError(
                f"audit log {self._path} has entries under audit key version {version}, "
                "but no earlier audit keys were given"
            )
        return self._older_keys(version)

    def subject_hash(self, value: str) -> str:
        """Return the keyed hash under which ``value`` appears in entries."""
        digest = hmac.new(self._subject_key, value.encode("utf-8"), hashlib.sha256).digest()
        return "h:" + digest[:16].hex()

    def append(
        self,
        *,
        who: str,
        action: str,
        decision: str,
        reason: str = "",
        key_id: str | None = None,
        key_version: int | None = None,
        rows: int | None = None,
        subject: Mapping[str, str] | None = None,
    ) -> AuditChainHead:
        """Append one entry and fsync it; return the new chain head.

        Args:
            who: The principal acting.
            action: What was attempted, e.g. ``"key.rotate"``, ``"detokenize"``.
            decision: ``"allow"``, ``"deny"`` or ``"error"``.
            reason: Why (policy rule, error class); must not contain data values.
            key_id: The key involved, if any.
            key_version: Its version, if any.
            rows: Number of rows involved, if any.
            subject: Named identifiers to correlate; stored only as keyed hashes.

        Raises:
            IntegrityError: The entry could not be written (the caller must not act), or
                the log's last entry is torn or fails its MAC.
            ValueError: An argument is malformed.
        """
        entry = self._entry_fields(
            who=who, action=action, decision=decision, reason=reason, key_id=key_id,
            key_version=key_version, rows=rows, subject=subject,
        )  # fmt: skip
        try:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            raise IntegrityError(f"cannot open audit log {self._path}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            seq, prev = self._tail(fd)
            entry = {"seq": seq, "prev": prev, **entry}
            entry["mac"] = hmac.new(
                self._mac_key, canonical_json(entry), hashlib.sha256
            ).hexdigest()
            line = canonical_json(entry)
            if os.write(fd, line + b"\n") != len(line) + 1:
                raise OSError(0, "short write")
            os.fsync(fd)
        except OSError as exc:
            raise IntegrityError(
                f"cannot write audit log {self._path} ({exc.strerror}); operation refused"
            ) from exc
        finally:
            os.close(fd)
        return AuditChainHead(entries=seq + 1, seq=seq, digest=hashlib.sha256(line).hexdigest())

    def _entry_fields(
        self,
        *,
        who: str,
        action: str,
        decision: str,
        reason: str,
        key_id: str | None,
        key_version: int | None,
        rows: int | None,
        subject: Mapping[str, str] | None,
    ) -> dict[str, Any]:
        if not isinstance(who, str) or not who or len(who) > 256:
            raise ValueError("who must be a non-empty string of at most 256 characters")
        if not isinstance(action, str) or not _ACTION.match(action):
            raise ValueError("action must match [a-z][a-z0-9_.-]*")
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {sorted(DECISIONS)}")
        if not isinstance(reason, str) or len(reason) > 1000:
            raise ValueError("reason must be a string of at most 1000 characters")
        if rows is not None and (type(rows) is not int or rows < 0):
            raise ValueError("rows must be a non-negative int")
        if key_version is not None and (type(key_version) is not int or key_version < 1):
            raise ValueError("key_version must be a positive int")
        # SECURITY: subject values are identifiers of data subjects; only keyed hashes of
        # them are ever written, so the log can correlate without revealing them.
        hashed = {str(k): self.subject_hash(str(v)) for k, v in (subject or {}).items()}
        return {
            "v": ENTRY_FORMAT_VERSION,
            "when": self._clock().astimezone(UTC).isoformat(timespec="microseconds"),
            "who": who,
            "action": action,
            "decision": decision,
            "reason": reason,
            "key_id": key_id,
            "key_version": key_version,
            "rows": rows,
            "subject": hashed,
            "mac_key": {"id": self._key.key_id, "version": self._key.version},
        }

    def _tail(self, fd: int) -> tuple[int, str]:
        size = os.fstat(fd).st_size
        if size == 0:
            return 0, GENESIS
        chunk = os.pread(fd, min(size, _MAX_TAIL_BYTES), max(0, size - _MAX_TAIL_BYTES))
        if not chunk.endswith(b"\n"):
            raise IntegrityError(
                f"audit log {self._path} ends with an incomplete entry; run "
                "`finveil audit verify` (nothing appended)"
            )
        lines = chunk[:-1].split(b"\n")
        if len(lines) < 2 and size > len(chunk):
            raise IntegrityError(f"audit log {self._path}: last entry is too long")
        entry = _parse_line(lines[-1], where=f"audit log {self._path}: last entry")
        version = entry["mac_key"].get("version") if isinstance(entry["mac_key"], dict) else None
        if version == self._key.version and not _mac_ok(entry, self._mac_key):
            raise IntegrityError(
                f"audit log {self._path}: last entry fails its MAC (edited); nothing appended"
            )
        return int(entry["seq"]) + 1, hashlib.sha256(canonical_json(entry)).hexdigest()

    @staticmethod
    def verify(
        path: Path, audit_key: AuditKey, *, expected_head: AuditChainHead | None = None
    ) -> AuditChainHead:
        """Verify every entry's MAC, position and chain link; return the head.

        Args:
            path: The audit log.
            audit_key: The audit key, or a function from audit key version to key (for a
                log that spans audit key rotations).
            expected_head: A head anchored earlier; the log must still contain it.

        Raises:
            IntegrityError: Naming the line (1-based) and entry position of the first
                edited, forged, deleted, inserted or reordered entry, or a truncation.
        """
        return _verified(Path(path), audit_key, expected_head)[1]

    @staticmethod
    def read(path: Path, audit_key: AuditKey) -> list[dict[str, Any]]:
        """Verify the whole log like :meth:`verify` and return its entries, oldest first.

        Raises:
            IntegrityError: As :meth:`verify`.
        """
        return _verified(Path(path), audit_key, None)[0]


def _verified(
    path: Path, audit_key: AuditKey, expected_head: AuditChainHead | None
) -> tuple[list[dict[str, Any]], AuditChainHead]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IntegrityError(f"cannot read audit log {path}: {exc.strerror}") from exc
    if data and not data.endswith(b"\n"):
        raise IntegrityError(f"audit log {path}: the last line is incomplete (truncated)")
    mac_keys: dict[int, bytes] = {}
    entries: list[dict[str, Any]] = []
    prev, seq, anchored = GENESIS, -1, expected_head is None
    for lineno, raw in enumerate(data.splitlines(), start=1):
        where = f"audit log {path}: line {lineno} (entry {lineno - 1})"
        entry = _parse_line(raw, where=where)
        if not _mac_ok(entry, _mac_key_for(entry, audit_key, mac_keys, where=where)):
            raise IntegrityError(f"{where} fails its MAC: it was edited or forged")
        if entry["seq"] != seq + 1:
            raise IntegrityError(
                f"{where} has sequence number {entry['seq']}, expected {seq + 1}: an "
                "entry was deleted, inserted or reordered at this position"
            )
        if not hmac.compare_digest(str(entry["prev"]), prev):
            raise IntegrityError(
                f"{where} does not chain to the entry before it: an entry was deleted, "
                "inserted or reordered at this position"
            )
        seq, prev = entry["seq"], hashlib.sha256(canonical_json(entry)).hexdigest()
        entries.append(entry)
        if expected_head is not None and seq == expected_head.seq:
            anchored = hmac.compare_digest(prev, expected_head.digest)
    if not anchored:
        raise IntegrityError(
            f"audit log {path} no longer contains the anchored head (entry "
            f"{expected_head.seq if expected_head else -1}): it was truncated or rewritten"
        )
    return entries, AuditChainHead(entries=seq + 1, seq=seq, digest=prev)


def _parse_line(raw: bytes, *, where: str) -> dict[str, Any]:
    try:
        entry = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise IntegrityError(f"{where} is not valid JSON (corrupted or truncated)") from None
    if (
        not isinstance(entry, dict)
        or set(entry) != _FIELDS
        or type(entry["seq"]) is not int
        or not isinstance(entry["mac"], str)
    ):
        raise IntegrityError(f"{where} is not a well-formed audit entry")
    return entry


def _mac_ok(entry: Mapping[str, Any], mac_key: bytes) -> bool:
    body = {k: v for k, v in entry.items() if k != "mac"}
    expected = hmac.new(mac_key, canonical_json(body), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, entry["mac"])


def _mac_key_for(
    entry: Mapping[str, Any], audit_key: AuditKey, cache: dict[int, bytes], *, where: str
) -> bytes:
    ref = entry["mac_key"]
    version = ref.get("version") if isinstance(ref, dict) else None
    if type(version) is not int:
        raise IntegrityError(f"{where} names no audit key version")
    if version not in cache:
        key = audit_key(version) if callable(audit_key) else audit_key
        cache[version] = _derive(_secret_of(key), b"mac/v1")
    return cache[version]
