"""Verify a job's signed manifest: signature, every output file, and the audit range."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.compliance._dsse import PREDICATE_TYPE, PublicKeyLike, keyid_of, verify_envelope
from engine.compliance._manifest import (
    MANIFEST_FILE,
    PUBLIC_KEY_FILE,
    hash_listed,
    hash_outputs,
    summarize_audit,
)
from engine.errors import IntegrityError
from engine.keys import AuditChainHead, AuditLog, KeyMaterial

__all__ = ["AuditKey", "ManifestReport", "verify_manifest"]

AuditKey = KeyMaterial | bytes | Callable[[int], KeyMaterial | bytes]


@dataclass(frozen=True, slots=True, kw_only=True)
class ManifestReport:
    """A manifest that passed :func:`verify_manifest`.

    Args:
        path: The manifest file.
        statement: The verified in-toto statement.
        manifest_sha256: SHA-256 (hex) of the manifest file's bytes (for lineage events).
        keyid: The DSSE key id (SHA-256 of the raw public key) that signed it.
        is_key_pinned: Whether the caller supplied the public key; ``False`` means it was
            read from ``manifest.pub`` beside the manifest, which proves integrity but not
            who signed (anyone can re-sign and replace both).
        audit_head: The anchored audit chain head, when the audit log was checked.
    """

    path: Path
    statement: Mapping[str, Any]
    manifest_sha256: str
    keyid: str
    is_key_pinned: bool
    audit_head: AuditChainHead | None = None

    @property
    def predicate(self) -> Mapping[str, Any]:
        """The signed predicate."""
        predicate: Mapping[str, Any] = self.statement["predicate"]
        return predicate

    @property
    def subject_dir(self) -> Path:
        """The directory the subject names are relative to (the job directory by default)."""
        return self.path.parent / str(self.predicate.get("subject_root", "."))

    @property
    def subjects(self) -> dict[str, str]:
        """Output file (relative path) -> SHA-256, as signed."""
        return {s["name"]: s["digest"]["sha256"] for s in self.statement["subject"]}


def _manifest_path(path: Path) -> Path:
    path = Path(path)
    return path / MANIFEST_FILE if path.is_dir() else path


def _load_json(path: Path) -> tuple[Any, bytes]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise IntegrityError(f"cannot read manifest {path}: {exc.strerror}") from exc
    try:
        return json.loads(raw.decode("utf-8")), raw
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise IntegrityError(f"manifest {path} is not valid JSON") from None


def _public_key(manifest: Path, public_key: PublicKeyLike | None) -> tuple[PublicKeyLike, bool]:
    if public_key is not None:
        return public_key, True
    beside = manifest.with_name(PUBLIC_KEY_FILE)
    try:
        return beside.read_bytes(), False
    except OSError:
        raise IntegrityError(
            f"no public key given and none beside the manifest ({beside.name})"
        ) from None


def _check_subjects(
    out_dir: Path, signed: Mapping[str, str], *, subject_root: object = None
) -> None:
    if subject_root is None:
        actual = hash_outputs(out_dir)
    elif isinstance(subject_root, str):
        # Listed subjects (files a job changed outside its manifest directory): only those
        # files are pinned; other files beside them are not the job's outputs.
        out_dir = out_dir / subject_root
        actual = hash_listed(out_dir, sorted(signed))
    else:
        raise IntegrityError("manifest predicate.subject_root is malformed")
    problems = []
    for name in sorted(set(signed) | set(actual)):
        if name not in actual:
            problems.append(f"{name}: missing")
        elif name not in signed:
            problems.append(f"{name}: extra file not in the manifest")
        elif not hmac.compare_digest(signed[name], actual[name]):
            problems.append(f"{name}: sha256 differs (changed)")
    if problems:
        raise IntegrityError(
            f"outputs in {out_dir} do not match the manifest: " + "; ".join(problems)
        )


def _check_rows(predicate: Mapping[str, Any]) -> None:
    rows = predicate.get("rows")
    if not isinstance(rows, Mapping) or not all(
        type(rows.get(k)) is int for k in ("in", "out", "quarantined")
    ):
        raise IntegrityError("manifest predicate.rows is malformed")
    if rows["in"] != rows["out"] + rows["quarantined"] or rows.get("reconciled") is False:
        raise IntegrityError(
            f"row counts do not reconcile: in {rows['in']} != out {rows['out']} + "
            f"quarantined {rows['quarantined']}"
        )


def _check_audit(
    predicate: Mapping[str, Any],
    audit_path: Path,
    audit_key: AuditKey,
) -> AuditChainHead:
    section = predicate.get("audit")
    if not isinstance(section, Mapping):
        raise IntegrityError("the manifest anchors no audit range; the audit log cannot be tied")
    try:
        head = AuditChainHead(**section["head"])
        first, last = int(section["first_seq"]), int(section["last_seq"])
    except (KeyError, TypeError, ValueError):
        raise IntegrityError("manifest predicate.audit is malformed") from None
    AuditLog.verify(audit_path, audit_key, expected_head=head)
    entries = [e for e in AuditLog.read(audit_path, audit_key) if first <= e["seq"] <= last]
    if len(entries) != last - first + 1 or last != head.seq:
        raise IntegrityError(f"audit log {audit_path} lacks entries {first}..{last}")
    if summarize_audit(entries) != section.get("summary"):
        raise IntegrityError(
            f"audit entries {first}..{last} in {audit_path} differ from the signed summary"
        )
    return head


def verify_manifest(
    path: Path,
    *,
    public_key: PublicKeyLike | None = None,
    audit_path: Path | None = None,
    audit_key: AuditKey | None = None,
) -> ManifestReport:
    """Verify a job's manifest: signature, every output file, row counts, audit range.

    Args:
        path: The manifest file or the job directory holding ``manifest.json``.
        public_key: The signer's Ed25519 public key (32 raw bytes, PEM or key object).
            Without it, ``manifest.pub`` beside the manifest is used and the report says
            the key was not pinned.
        audit_path: The audit log; with ``audit_key``, the anchored range is verified.
        audit_key: The audit key (keyring id ``"audit"``), or a function from audit key
            version to key (a log spanning audit key rotations).

    Returns:
        The verified manifest.

    Raises:
        IntegrityError: Naming the reason: unreadable or unsigned manifest, wrong payload
            type, bad signature, a changed, missing or extra output file, counts that do
            not reconcile, or an audit log edited, truncated or rewritten in the range.
        ValueError: Only one of ``audit_path`` and ``audit_key`` given.
    """
    if (audit_path is None) != (audit_key is None):
        raise ValueError("give both audit_path and audit_key, or neither")
    manifest = _manifest_path(path)
    envelope, raw = _load_json(manifest)
    key, is_pinned = _public_key(manifest, public_key)
    try:
        keyid = keyid_of(key)
    except ValueError as exc:
        raise IntegrityError(f"the public key is unusable: {exc}") from None
    statement = verify_envelope(envelope, key)
    if statement.get("predicateType") != PREDICATE_TYPE:
        raise IntegrityError(f"manifest predicateType is not {PREDICATE_TYPE}")
    predicate = statement["predicate"]
    signer = predicate.get("signer")
    if not isinstance(signer, Mapping) or signer.get("keyid") != keyid:
        raise IntegrityError("manifest predicate.signer does not name the signing key")
    signed = {s["name"]: s["digest"]["sha256"] for s in statement["subject"]}
    _check_subjects(manifest.parent, signed, subject_root=predicate.get("subject_root"))
    _check_rows(predicate)
    head = None
    if audit_path is not None and audit_key is not None:
        head = _check_audit(predicate, Path(audit_path), audit_key)
    return ManifestReport(
        path=manifest,
        statement=statement,
        manifest_sha256=hashlib.sha256(raw).hexdigest(),
        keyid=keyid,
        is_key_pinned=is_pinned,
        audit_head=head,
    )
