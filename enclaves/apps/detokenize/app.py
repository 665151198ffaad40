"""Detokenize app: released keys, the measured access policy and an enclave-written audit log."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from enclaves.keyrelease import client_ids, receive_key, require_client
from enclaves.runtime import EnclaveContext, Request
from engine.errors import ConfigError, IntegrityError, PolicyDenied
from engine.keys import (
    AccessPolicy,
    AuditChainHead,
    AuditLog,
    DetokenizeRequest,
    KeyMaterial,
    PolicyGate,
)
from engine.tokenize import FormatOptions, Kind, Scheme, detokenize_frame

_TOKENIZE_PREFIX = "tokenize."
_OPTION_FIELDS = {f.name: f for f in dataclasses.fields(FormatOptions)}


def _clients(config: Mapping[str, Any]) -> dict[bytes, str]:
    table = config.get("clients", {})
    if not isinstance(table, Mapping) or not all(isinstance(v, str) for v in table.values()):
        raise ConfigError("detokenize config clients: must map principal names to hex ids")
    ids = client_ids({"c": list(table.values())}, "c")
    if len(ids) != len(table):
        raise ConfigError("detokenize config clients: each principal needs its own client id")
    return {bytes.fromhex(hex_id): str(name) for name, hex_id in table.items()}


def _options(spec: Any) -> FormatOptions | dict[str, FormatOptions] | None:
    if spec is None:
        return None
    if not isinstance(spec, Mapping):
        raise ConfigError("detokenize: options must map column names to option tables")
    return {str(column): _column_options(column, fields) for column, fields in spec.items()}


def _column_options(column: str, fields: Any) -> FormatOptions:
    if not isinstance(fields, Mapping) or not set(fields) <= set(_OPTION_FIELDS):
        raise ConfigError(f"detokenize: options for column {column!r} name unknown fields")
    values = dict(fields)
    try:
        if "scheme" in values:
            values["scheme"] = Scheme(values["scheme"])
        for name in ("date_min", "date_max"):
            if name in values:
                values[name] = dt.date.fromisoformat(values[name])
        return FormatOptions(**values)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"detokenize: options for column {column!r} are invalid") from None


class DetokenizeApp:
    """Answer ``info`` (plain), ``load_key`` (keyring only) and ``detokenize``/``approve``.

    Each ``detokenize`` request is made by the principal mapped to the channel's client id;
    per token kind it is authorized by a ``PolicyGate`` over the enclave's audit log (the
    decision is fsynced before any token is turned back), then detokenized with the
    released key. Values leave only inside the requesting client's channel.
    """

    def __init__(self, context: EnclaveContext) -> None:
        self._context = context
        config = context.config
        self._policy = AccessPolicy.from_mapping(config.get("policy", {}))
        self._clients = _clients(config)
        self._audit_key_id = str(config.get("audit_key_id", "audit.detokenize"))
        self._max_rows = int(config.get("max_rows", 100_000))
        client_ids(config, "trusted_clients")  # Validated at load, used per release.
        self._keys: dict[Kind, dict[int, KeyMaterial]] = {}
        self._audit: AuditLog | None = None
        self._audit_key: KeyMaterial | None = None
        self._head: AuditChainHead | None = None

    def handle(self, request: Request) -> Any:
        """Dispatch one request."""
        if request.method == "info":
            return {
                "kinds": {k.value: sorted(v) for k, v in sorted(self._keys.items(),
                                                               key=lambda i: i[0].value)},
                "has_audit": self._audit is not None,
                "audit_entries": None if self._head is None else self._head.entries,
            }  # fmt: skip
        if request.method == "load_key":
            return self._load_key(request)
        if request.method == "audit_head":
            head = self._checked_head()
            return {"entries": head.entries, "seq": head.seq, "digest": head.digest}
        if request.method in ("detokenize", "approve"):
            principal = self._principal(request)
            if request.method == "approve":
                return self._approve(principal, request.args)
            return self._detokenize(principal, request.args)
        raise PolicyDenied(f"unknown method {request.method!r}")

    # -- keys and audit -----------------------------------------------------------------

    def _load_key(self, request: Request) -> dict[str, Any]:
        received = receive_key(request, self._context)
        key = received.material
        if key.key_id == self._audit_key_id:
            path = received.extra.get("audit_path")
            if not isinstance(path, str) or not Path(path).is_absolute():
                raise ConfigError("load_key: the audit key needs an absolute 'audit_path'")
            audit = AuditLog(Path(path), key=key)
            # SECURITY: an existing log must verify under the released key before it is
            # used; its entries carry the rate limits and approvals the gate relies on.
            self._head = AuditLog.verify(Path(path), key) if Path(path).exists() else None
            self._audit, self._audit_key = audit, key
            return {"key_id": key.key_id, "version": key.version}
        if not key.key_id.startswith(_TOKENIZE_PREFIX):
            raise PolicyDenied(f"load_key: this enclave does not take key {key.key_id!r}")
        try:
            kind = Kind(key.key_id[len(_TOKENIZE_PREFIX) :])
        except ValueError:
            raise PolicyDenied(f"load_key: {key.key_id!r} is not a tokenization key") from None
        self._keys.setdefault(kind, {})[key.version] = key
        return {"key_id": key.key_id, "version": key.version}

    def _checked_head(self) -> AuditChainHead:
        if self._audit is None or self._audit_key is None:
            raise PolicyDenied("detokenize: no audit key has been released; nothing is allowed")
        # SECURITY: the host stores the log; the enclave remembers the head it last wrote,
        # so a truncated, rewritten or replaced log is refused (fail-closed).
        if self._head is None and self._audit.path.exists():
            raise IntegrityError("the audit log appeared after the enclave saw none")
        if self._head is None:
            return AuditChainHead(entries=0, seq=-1, digest="0" * 64)
        return AuditLog.verify(self._audit.path, self._audit_key, expected_head=self._head)

    def _gate(self) -> PolicyGate:
        self._checked_head()
        assert self._audit is not None  # noqa: S101 (checked by _checked_head)
        return PolicyGate(self._policy, self._audit)

    def _record_head(self) -> None:
        assert self._audit is not None  # noqa: S101 (checked by _checked_head)
        assert self._audit_key is not None  # noqa: S101
        self._head = AuditLog.verify(self._audit.path, self._audit_key)

    def _principal(self, request: Request) -> str:
        try:
            client = require_client(request, self._clients, what=request.method)
        except PolicyDenied:
            if self._audit is not None:
                self._checked_head()
                self._audit.append(
                    who="unauthenticated", action="detokenize", decision="deny",
                    reason="client not listed in the enclave config",
                )  # fmt: skip
                self._record_head()
            raise
        return self._clients[client]

    # -- requests -----------------------------------------------------------------------

    def _requests(self, principal: str, args: Any) -> tuple[pd.DataFrame, dict[str, Kind],
                                                             list[DetokenizeRequest]]:  # fmt: skip
        if not isinstance(args, Mapping):
            raise ConfigError("detokenize: arguments must be a map")
        columns, pii = args.get("columns"), args.get("pii")
        if not isinstance(columns, Mapping) or not isinstance(pii, Mapping) or not pii:
            raise ConfigError("detokenize: 'columns' and a non-empty 'pii' map are required")
        lengths = {len(v) for v in columns.values() if isinstance(v, list)}
        if len(lengths) != 1 or len(columns) == 0 or set(pii) - set(columns):
            raise ConfigError("detokenize: columns must be equal-length lists covering pii")
        rows = lengths.pop()
        if not 0 < rows <= self._max_rows:
            raise PolicyDenied(f"detokenize: 1 to {self._max_rows} rows per request")
        try:
            kinds = {str(c): Kind(k) for c, k in pii.items()}
        except ValueError:
            raise ConfigError("detokenize: pii names an unknown kind") from None
        dataset_id = args.get("dataset_id")
        if dataset_id is not None and not isinstance(dataset_id, str):
            raise ConfigError("detokenize: dataset_id must be a string")
        versions = args.get("key_versions", {})
        if not isinstance(versions, Mapping):
            raise ConfigError("detokenize: key_versions must map kinds to versions")
        requests = []
        for kind in sorted(set(kinds.values()), key=lambda k: k.value):
            held = self._keys.get(kind, {})
            version = versions.get(kind.value, max(held, default=None))
            if version not in held:
                raise PolicyDenied(f"detokenize: no key for kind {kind.value!r} at that version")
            requests.append(
                DetokenizeRequest(
                    principal=principal,
                    kind=kind.value,
                    rows=rows,
                    purpose=str(args.get("purpose", "")),
                    justification=str(args.get("justification", "")),
                    dataset_id=dataset_id,
                    key_version=version,
                )
            )
        frame = pd.DataFrame({str(c): pd.Series(v, dtype=object) for c, v in columns.items()})
        return frame, kinds, requests

    def _detokenize(self, principal: str, args: Any) -> dict[str, Any]:
        try:
            frame, kinds, requests = self._requests(principal, args)
        except ValueError as exc:  # DetokenizeRequest validation (purpose, principal).
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"detokenize: invalid request ({exc})") from None
        gate = self._gate()
        try:
            # SECURITY: every kind is authorized (and audited) before any token is turned
            # back; the first denial stops the request.
            for request in requests:
                gate.authorize(request)
        finally:
            self._record_head()
        keys = {Kind(r.kind): self._keys[Kind(r.kind)][int(r.key_version or 0)] for r in requests}
        out = detokenize_frame(frame, kinds, keys, options=_options(args.get("options")))
        return {
            "columns": {
                column: [None if pd.isna(v) else str(v) for v in out[column].tolist()]
                for column in kinds
            },
            "rows": len(out),
        }

    def _approve(self, principal: str, args: Any) -> None:
        if not isinstance(args, Mapping) or not isinstance(args.get("request"), Mapping):
            raise ConfigError("approve: a 'request' map is required")
        try:
            request = DetokenizeRequest(**dict(args["request"]))
        except (TypeError, ValueError):
            raise ConfigError("approve: the request is malformed") from None
        gate = self._gate()
        try:
            gate.approve(request, approver=principal)
        finally:
            self._record_head()


def create(context: EnclaveContext) -> DetokenizeApp:
    """Entry point named in ``enclave.toml``."""
    return DetokenizeApp(context)
