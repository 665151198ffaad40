"""The sidecar's operations over a keyring and policy, independent of HTTP.

Detokenization follows ``finveil detokenize``: the request passes the
:class:`~engine.keys.PolicyGate` (deny by default, audited first) with an anomaly detector
fitted on the audit log, and only then is the key version released (audited).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from engine.discovery import scan
from engine.errors import ConfigError, IntegrityError, KeyManagementError, KeyNotFound
from engine.keys import (
    AccessPolicy,
    DetokenizeRequest,
    KeyMaterial,
    KeyPurpose,
    KeyRing,
    KeyState,
    PolicyGate,
)
from engine.keys.anomaly import AnomalyDetector
from engine.service._bodies import (
    ApproveBody,
    ColumnBody,
    DetokenizeBody,
    RecordsBody,
    ScanBody,
    dataset_digest,
)
from engine.tokenize import detokenize_frame, tokenize_frame

__all__ = ["Sidecar", "SidecarOptions", "load_policy", "primary_version", "refuse_retired"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SidecarOptions:
    """Limits and refresh periods of the sidecar; every field has a default.

    Args:
        max_body_bytes: Largest request body accepted (larger: HTTP 413).
        max_values: Most values (or records) in one request (more: HTTP 413).
        replay_window_s: Accepted clock skew, and how long a nonce is remembered.
        key_refresh_s: How long released keys are cached before the keyring is re-read
            (a rotation or retirement takes effect within this time).
        anomaly_refit_s: How often the anomaly detector is refitted on the audit log.
    """

    max_body_bytes: int = 4 * 1024 * 1024
    max_values: int = 100_000
    replay_window_s: int = 300
    key_refresh_s: float = 30.0
    anomaly_refit_s: float = 300.0

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_values", "replay_window_s"):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise ConfigError(f"{name}: must be a positive integer")
        if self.key_refresh_s < 0 or self.anomaly_refit_s < 0:
            raise ConfigError("key_refresh_s and anomaly_refit_s must be >= 0")


def load_policy(path: Path) -> AccessPolicy:
    """Read the policy at ``path``; with no file, deny everyone (as ``finveil detokenize``)."""
    if not path.exists():
        # SECURITY: deny by default: with no policy file, no principal may detokenize.
        return AccessPolicy(roles=[], principals=[])
    return AccessPolicy.load(path)


def primary_version(ring: KeyRing, key_id: str) -> int:
    """Return the primary version number of ``key_id`` (no key is released)."""
    info = ring.info(key_id)
    return next(v.version for v in info.versions if v.state is KeyState.PRIMARY)


def refuse_retired(ring: KeyRing, key_id: str, version: int) -> None:
    """Raise (and audit the refusal) if ``version`` of ``key_id`` is retired or absent."""
    states = {v.version: v.state for v in ring.info(key_id).versions}
    if states.get(version, KeyState.RETIRED) is KeyState.RETIRED:
        ring.get(key_id, version)  # Raises, and audits the refusal.


class _Cache:
    """Released keys by (key id, version), re-checked against the keyring every ``ttl_s``."""

    def __init__(self, ring: KeyRing, ttl_s: float, lock: threading.RLock) -> None:
        self._ring = ring
        self._ttl_s = ttl_s
        # SECURITY: one lock for every use of the KeyRing object, which is not thread-safe.
        self._lock = lock
        self._keys: dict[tuple[str, int], KeyMaterial] = {}
        self._live: dict[str, tuple[float, KeyPurpose, tuple[int, ...], int]] = {}

    def versions(self, key_id: str, purpose: KeyPurpose) -> tuple[tuple[int, ...], int]:
        """Return (non-retired versions, primary version) of ``key_id``, cached.

        Raises:
            KeyNotFound: No such key.
            KeyManagementError: The key has another purpose.
        """
        now = time.monotonic()
        with self._lock:
            hit = self._live.get(key_id)
            if hit is None or now - hit[0] >= self._ttl_s:
                info = self._ring.info(key_id)
                live = tuple(v.version for v in info.versions if v.state is not KeyState.RETIRED)
                primary = next(v.version for v in info.versions if v.state is KeyState.PRIMARY)
                hit = (now, info.purpose, live, primary)
                self._live[key_id] = hit
                for cached in [k for k in self._keys if k[0] == key_id and k[1] not in live]:
                    del self._keys[cached]
            if hit[1] is not purpose:
                raise KeyManagementError(f"key {key_id!r} is not a {purpose.value} key")
            return hit[2], hit[3]

    def key(self, key_id: str, version: int) -> KeyMaterial:
        """Return ``version`` of ``key_id``, released (audited) once per cache lifetime."""
        with self._lock:
            key = self._keys.get((key_id, version))
            if key is None:
                key = self._ring.get(key_id, version)
                self._keys[(key_id, version)] = key
            return key


class Sidecar:
    """Tokenize, detokenize (policy-gated) and scan for authenticated clients.

    Args:
        ring: The keyring, with an audit log attached.
        policy: The detokenization policy; principals are client names.
        options: Limits and refresh periods.
        clock: Returns monotonic seconds (for tests of the refit period).

    Raises:
        KeyManagementError: The keyring has no audit log.
    """

    def __init__(
        self,
        ring: KeyRing,
        policy: AccessPolicy,
        *,
        options: SidecarOptions | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        audit = ring.audit_log
        if audit is None:
            raise KeyManagementError("the keyring has no audit log; refusing to serve")
        self.options = options or SidecarOptions()
        self._ring = ring
        self._audit = audit
        self._policy = policy
        self._ring_lock = threading.RLock()
        self._cache = _Cache(ring, self.options.key_refresh_s, self._ring_lock)
        self._clock = clock
        self._gate_lock = threading.Lock()
        self._detector: AnomalyDetector | None = None
        self._fitted_at = 0.0

    def client_secrets(self, keyid: str) -> list[bytes]:
        """Return the secrets of every live version of client key ``keyid`` (newest first).

        Raises:
            KeyNotFound: No such client key.
            KeyManagementError: The key exists with another purpose.
        """
        live, _ = self._cache.versions(keyid, KeyPurpose.CLIENT)
        return [self._cache.key(keyid, v).secret for v in sorted(live, reverse=True)]

    def tokenize(self, body: ColumnBody | RecordsBody) -> dict[str, Any]:
        """Tokenize a column or records; failing values get ``null`` and an error entry."""
        if isinstance(body, ColumnBody):
            return self._tokenize_column(body)
        frame = pd.DataFrame(
            {n: pd.Series([r.get(n) for r in body.records], dtype=object) for n in body.pii}
        )
        keys = {kind: self._primary(kind.value) for kind in set(body.pii.values())}
        out = tokenize_frame(frame, dict(body.pii), keys, options=body.options)
        records: list[dict[str, Any] | None] = [None] * len(body.records)
        columns = {n: out.frame[n].tolist() for n in body.pii}
        for pos, label in enumerate(out.frame.index.tolist()):
            record = dict(body.records[label])
            for n in body.pii:
                record[n] = columns[n][pos]
            records[label] = record
        return {
            "records": records,
            "errors": _errors(out.quarantine, with_column=True),
            "protection": {n: _protection(p) for n, p in out.protection.items()},
        }

    def _tokenize_column(self, body: ColumnBody) -> dict[str, Any]:
        key = self._primary(body.kind.value)
        frame = pd.DataFrame({body.column: pd.Series(list(body.values), dtype=object)})
        out = tokenize_frame(
            frame, {body.column: body.kind}, {body.kind: key}, options=body.options
        )
        tokens: list[str | None] = [None] * len(body.values)
        for label, token in zip(
            out.frame.index.tolist(), out.frame[body.column].tolist(), strict=True
        ):
            tokens[label] = token
        return {
            "kind": body.kind.value,
            "column": body.column,
            "tokens": tokens,
            "errors": _errors(out.quarantine, with_column=False),
            "key_id": key.key_id,
            "key_version": key.version,
        }

    def detokenize(self, body: DetokenizeBody, *, client: str) -> dict[str, Any]:
        """Authorize (audited) and detokenize one column for ``client``.

        Raises:
            PolicyDenied: The policy or the anomaly detector denies it (audited).
            TokenizationError: A value is not a token of this column (no value named).
        """
        col = body.column
        kind = col.kind.value
        key_id = f"tokenize.{kind}"
        tokens = [str(v) for v in col.values]
        with self._ring_lock:
            version = body.key_version or primary_version(self._ring, key_id)
        try:
            request = DetokenizeRequest(
                principal=client,
                kind=kind,
                rows=len(tokens),
                purpose=body.purpose,
                justification=body.justification,
                key_version=version,
                source=_source(client),
                dataset_id=body.dataset_id or dataset_digest(kind, col.column, tokens),
            )
        except ValueError as exc:
            raise ConfigError(f"detokenize request: {exc}") from None
        with self._ring_lock:
            refuse_retired(self._ring, key_id, version)
        with self._gate_lock:
            gate = PolicyGate(self._policy, self._audit, anomaly=self._fitted_detector())
            gate.authorize(request)  # Raises PolicyDenied; audited either way.
        with self._ring_lock:
            key = self._ring.get(key_id, version)  # Audited key release, as in the CLI.
        frame = pd.DataFrame({col.column: pd.Series(tokens, dtype=object)})
        plain = detokenize_frame(
            frame, {col.column: col.kind}, {col.kind: key}, options=col.options
        )
        return {
            "kind": kind,
            "column": col.column,
            "values": plain[col.column].tolist(),
            "key_id": key_id,
            "key_version": version,
        }

    def approve(self, body: ApproveBody, *, approver: str) -> dict[str, Any]:
        """Record ``approver``'s approval of another client's exact request (audited).

        Raises:
            PolicyDenied: ``approver`` may not approve it (audited).
        """
        key_id = f"tokenize.{body.kind}"
        with self._ring_lock:
            version = body.key_version or primary_version(self._ring, key_id)
        try:
            request = DetokenizeRequest(
                principal=body.principal,
                kind=body.kind,
                rows=body.rows,
                purpose=body.purpose,
                justification=body.justification,
                dataset_id=body.dataset_id,
                key_version=version,
                source=_source(body.principal),
            )
        except ValueError as exc:
            raise ConfigError(f"approval request: {exc}") from None
        with self._gate_lock:
            PolicyGate(self._policy, self._audit).approve(request, approver=approver)
        return {
            "approved": True,
            "principal": body.principal,
            "kind": body.kind,
            "rows": body.rows,
            "key_version": request.key_version,
        }

    def scan(self, body: ScanBody) -> dict[str, Any]:
        """Scan text or a JSON document; the report holds masked previews only."""
        try:
            report = scan(body.target, kinds=body.kinds, min_confidence=body.min_confidence)
        except ValueError as exc:
            raise ConfigError(f"scan: {exc}") from None
        return report.to_dict()

    def check_ready(self) -> None:
        """Raise if the keyring or audit log cannot be read (for ``/healthz``).

        Raises:
            IntegrityError: The keyring fails authentication or cannot be read.
        """
        try:
            with self._ring_lock:
                self._ring.reload()
        except KeyManagementError as exc:
            raise IntegrityError(f"keyring not readable ({type(exc).__name__})") from None

    def _primary(self, kind: str) -> KeyMaterial:
        key_id = f"tokenize.{kind}"
        try:
            _, primary = self._cache.versions(key_id, KeyPurpose.TOKENIZE)
        except KeyNotFound:
            raise ConfigError(f"the keyring has no key {key_id!r}") from None
        return self._cache.key(key_id, primary)

    def _fitted_detector(self) -> AnomalyDetector:
        now = self._clock()
        if self._detector is None or now - self._fitted_at >= self.options.anomaly_refit_s:
            self._detector = AnomalyDetector().fit(self._audit.read_entries())
            self._fitted_at = now
        return self._detector


def _source(client: str) -> str:
    return f"sidecar:client.{client}"


def _errors(quarantine: pd.DataFrame, *, with_column: bool) -> list[dict[str, Any]]:
    rows = quarantine["row"].tolist()
    reasons = quarantine["reason"].tolist()
    if not with_column:
        return [{"index": r, "reason": why} for r, why in zip(rows, reasons, strict=True)]
    columns = quarantine["column"].tolist()
    return [
        {"index": r, "column": c, "reason": why}
        for r, c, why in zip(rows, columns, reasons, strict=True)
    ]


def _protection(p: Any) -> dict[str, Any]:
    return {
        "kind": p.kind.value,
        "method": p.method,
        "key_id": p.key_id,
        "key_version": p.key_version,
        "tweak_id": p.tweak_id,
    }
