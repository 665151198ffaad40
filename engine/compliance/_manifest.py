"""Write a job's signed manifest: subjects are its output files, the predicate its evidence."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import platform
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from engine import __version__
from engine.compliance._dsse import build_statement, keyid_of, public_key_pem, sign_envelope
from engine.errors import IntegrityError
from engine.keys import AuditLog, KeyMaterial

__all__ = [
    "LINEAGE_FILE",
    "MANIFEST_FILE",
    "PUBLIC_KEY_FILE",
    "RESERVED_FILES",
    "code_identity",
    "fingerprint_file",
    "hash_listed",
    "hash_outputs",
    "summarize_audit",
    "write_signed_manifest",
]

MANIFEST_FILE = "manifest.json"
PUBLIC_KEY_FILE = "manifest.pub"
LINEAGE_FILE = "manifest.openlineage.json"
#: Files in a job directory that describe the job rather than being its outputs.
RESERVED_FILES = frozenset({MANIFEST_FILE, PUBLIC_KEY_FILE, LINEAGE_FILE})
PREDICATE_VERSION = 1
_REQUIRED = ("job", "inputs", "protection", "rows", "timings_s")
_JOB_KINDS = frozenset({"run", "retokenize", "scan-fix", "smpc-session", "enclave-key-release"})
_FINGERPRINT_LABEL = b"finveil/input-fingerprint/v1\n"
_CHUNK = 1 << 20


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprint_file(path: Path, key: KeyMaterial) -> dict[str, Any]:
    """Return the keyed fingerprint of an input file for the manifest's ``inputs``.

    A plain SHA-256 of a small or guessable input would let anyone holding the manifest
    confirm a guess of its content; an HMAC under a keyring key does not, yet equal inputs
    still have equal fingerprints under the same key version (lineage across jobs).

    Args:
        path: The input file.
        key: The fingerprint key, e.g. ``keyring.ensure("manifest.fingerprint",
            KeyPurpose.MANIFEST)``.

    Returns:
        ``{"alg": "hmac-sha256", "key_id", "key_version", "value"}``.
    """
    # SECURITY: never a plain hash of the input; the label separates this use of the key.
    mac = hmac.new(key.secret, _FINGERPRINT_LABEL, hashlib.sha256)
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            mac.update(chunk)
    return {
        "alg": "hmac-sha256",
        "key_id": key.key_id,
        "key_version": key.version,
        "value": mac.hexdigest(),
    }


def code_identity() -> dict[str, Any]:
    """Return the running code's identity: FinVeil version, Python and a source digest.

    ``package_sha256`` is SHA-256 over the sorted ``(relative path, SHA-256)`` of every
    ``.py`` file of the installed ``engine`` package, so an edited install is visible.
    """
    root = Path(__file__).resolve().parents[1]
    listing = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        listing.update(f"{rel}\0{_sha256_file(path)}\n".encode())
    return {
        "finveil_version": __version__,
        "python": platform.python_version(),
        "package_sha256": listing.hexdigest(),
    }


def hash_outputs(out_dir: Path) -> dict[str, str]:
    """Return ``{relative posix path: sha256}`` of every output file under ``out_dir``.

    Files in :data:`RESERVED_FILES` at the top level are not outputs.

    Raises:
        IntegrityError: A symbolic link or a special file is present (it cannot be pinned).
    """
    out_dir = Path(out_dir)
    digests: dict[str, str] = {}
    for path in sorted(out_dir.rglob("*")):
        rel = path.relative_to(out_dir).as_posix()
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            raise IntegrityError(f"{rel}: not a regular file; a manifest cannot pin it")
        if path.is_dir() or rel in RESERVED_FILES:
            continue
        digests[rel] = _sha256_file(path)
    return digests


def _regular_file(path: Path, name: str) -> Path:
    # SECURITY: a symbolic link could point the digest at another file than the one read.
    if path.is_symlink() or not path.is_file():
        raise IntegrityError(f"{name}: not a regular file; a manifest cannot pin it")
    return path


def _listed_subjects(out_dir: Path, files: Sequence[Path]) -> tuple[str, dict[str, str]]:
    """Return ``(subject_root relative to out_dir, {name: sha256})`` for explicit files."""
    if not files:
        raise ValueError("subjects must name at least one file")
    paths = [_regular_file(Path(os.path.abspath(f)), str(f)) for f in files]
    root = Path(os.path.commonpath([p.parent for p in paths]))
    digests = {p.relative_to(root).as_posix(): _sha256_file(p) for p in paths}
    if len(digests) != len(paths):
        raise ValueError("subjects lists a file twice")
    relative = Path(os.path.relpath(root, os.path.abspath(out_dir))).as_posix()
    return relative, digests


def hash_listed(root: Path, names: Sequence[str]) -> dict[str, str]:
    """Return ``{name: sha256}`` of the signed subject ``names`` under ``root``.

    A missing file is left out (the caller reports it).

    Raises:
        IntegrityError: A name is absolute or climbs out of ``root`` (``..``), or names a
            symbolic link or special file.
    """
    digests: dict[str, str] = {}
    for name in names:
        parts = name.split("/")
        # SECURITY: a subject names a file under the signed root, never anywhere else.
        if name.startswith("/") or any(part in ("", ".", "..") for part in parts):
            raise IntegrityError(f"{name}: subject name is not a plain relative path")
        path = root.joinpath(*parts)
        if path.exists() or path.is_symlink():
            digests[name] = _sha256_file(_regular_file(path, name))
    return digests


def _check_predicate(predicate: Mapping[str, Any]) -> None:
    missing = [name for name in _REQUIRED if name not in predicate]
    if missing:
        raise ValueError(f"predicate lacks required field(s): {', '.join(missing)}")
    job = predicate["job"]
    if not isinstance(job, Mapping) or not all(
        isinstance(job.get(k), str) and job.get(k) for k in ("name", "id", "started_at")
    ):
        raise ValueError("predicate.job needs non-empty string name, id and started_at")
    if job.get("kind", "run") not in _JOB_KINDS:
        raise ValueError(f"predicate.job.kind must be one of {sorted(_JOB_KINDS)}")
    if not isinstance(predicate["inputs"], list):
        raise ValueError("predicate.inputs must be a list")
    for i, item in enumerate(predicate["inputs"]):
        _check_input(item, i)
    rows = predicate["rows"]
    if not isinstance(rows, Mapping) or not all(
        type(rows.get(k)) is int and rows[k] >= 0 for k in ("in", "out", "quarantined")
    ):
        raise ValueError("predicate.rows needs non-negative int in, out and quarantined")
    for reserved in ("audit", "signer", "predicate_version", "subject_root"):
        if reserved in predicate:
            raise ValueError(f"predicate.{reserved} is filled in by write_signed_manifest")


def _check_input(item: object, i: int) -> None:
    where = f"predicate.inputs[{i}]"
    if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
        raise ValueError(f"{where} needs a name")
    fingerprint = item.get("fingerprint")
    if fingerprint is None and not item.get("in_memory"):
        raise ValueError(f"{where} needs a keyed fingerprint (or in_memory: true)")
    if fingerprint is not None and (
        not isinstance(fingerprint, Mapping) or fingerprint.get("alg") != "hmac-sha256"
    ):
        raise ValueError(f"{where}.fingerprint must come from fingerprint_file")
    # SECURITY: a plain digest of raw input data is refused; only the digest of a dataset
    # another FinVeil job produced (already public as that job's subject) may appear.
    if "sha256" in item and not item.get("is_finveil_output"):
        raise ValueError(f"{where}: a plain sha256 is allowed only with is_finveil_output: true")


def summarize_audit(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Return counts of actions, decisions, principals, key use and anomalies (no values)."""
    key_use: Counter[tuple[str, int, str]] = Counter()
    for e in entries:
        if e.get("key_id") is not None:
            key_use[(str(e["key_id"]), int(e.get("key_version") or 0), str(e["action"]))] += 1
    anomalies = [
        {"seq": e["seq"], "action": e["action"], "decision": e["decision"], "reason": e["reason"]}
        for e in entries
        if e["decision"] != "allow" or "anomaly" in str(e.get("reason", ""))
    ]
    return {
        "entries": len(entries),
        "actions": dict(sorted(Counter(str(e["action"]) for e in entries).items())),
        "decisions": dict(sorted(Counter(str(e["decision"]) for e in entries).items())),
        "principals": sorted({str(e["who"]) for e in entries}),
        "key_use": [
            {"key_id": k, "key_version": v or None, "action": a, "count": n}
            for (k, v, a), n in sorted(key_use.items())
        ],
        "anomalies": anomalies,
    }


def _audit_section(
    audit: AuditLog, *, first_seq: int, principal: str, job_id: str, key: KeyMaterial
) -> dict[str, Any]:
    # SECURITY: fail-closed: the signing is audited before it happens; if the entry cannot
    # be written, append raises and no manifest is signed.
    head = audit.append(
        who=principal, action="manifest.sign", decision="allow",
        reason="job manifest", key_id=key.key_id, key_version=key.version,
        subject={"job": job_id},
    )  # fmt: skip
    if not 0 <= first_seq <= head.seq:
        raise ValueError(f"audit_first_seq must be between 0 and {head.seq}")
    entries = [e for e in audit.read_entries() if first_seq <= e["seq"] <= head.seq]
    return {
        "log": audit.path.name,
        "first_seq": first_seq,
        "last_seq": head.seq,
        "head": {"entries": head.entries, "seq": head.seq, "digest": head.digest},
        "summary": summarize_audit(entries),
    }


def write_signed_manifest(
    out_dir: Path,
    predicate: Mapping[str, Any],
    *,
    key: KeyMaterial,
    audit: AuditLog | None = None,
    audit_first_seq: int | None = None,
    principal: str = "finveil",
    subjects: Sequence[Path] | None = None,
) -> dict[str, Any]:
    """Sign a manifest over every output file in ``out_dir`` and write it there.

    Writes ``manifest.json`` (the DSSE envelope, indented JSON) and ``manifest.pub`` (the
    signer's PEM public key). See docs/compliance.md for the predicate schema.

    Args:
        out_dir: The job's output directory; every file in it becomes a subject, unless
            ``subjects`` is given.
        predicate: The job's evidence (``job``, ``inputs``, ``protection``, ``rows``,
            ``timings_s`` required; ``code`` is filled in when absent).
        key: The manifest signing key (``keyring.ensure("manifest", KeyPurpose.MANIFEST)``).
        audit: The audit log the job wrote to; a ``manifest.sign`` entry is appended and
            the range ``audit_first_seq`` .. that entry is anchored in the predicate.
        audit_first_seq: Sequence number of the job's first audit entry (required with
            ``audit``), e.g. ``audit.append(action="job.start", ...).seq``.
        principal: Who signs, for the audit entry.
        subjects: Sign exactly these files instead, e.g. files a job changed in place
            outside ``out_dir``. Their names are paths relative to their deepest common
            directory, and that directory's path relative to ``out_dir`` is signed as
            ``predicate.subject_root``; verification hashes only the listed files.

    Returns:
        The envelope as written.

    Raises:
        ValueError: The predicate is malformed, or ``audit_first_seq`` is missing or out of
            range.
        IntegrityError: The audit log cannot be written or fails verification, or an
            output is not a regular file.
    """
    out_dir = Path(out_dir)
    _check_predicate(predicate)
    if audit is not None and audit_first_seq is None:
        raise ValueError("audit_first_seq is required when audit is given")
    body: dict[str, Any] = {"predicate_version": PREDICATE_VERSION, **predicate}
    if subjects is None:
        digests = hash_outputs(out_dir)
        if not digests:
            raise ValueError(f"{out_dir} holds no output files to sign")
    else:
        body["subject_root"], digests = _listed_subjects(out_dir, subjects)
    body.setdefault("code", code_identity())
    body["signer"] = {"algorithm": "ed25519", "key_id": key.key_id,
                      "key_version": key.version, "keyid": keyid_of(key)}  # fmt: skip
    if audit is not None and audit_first_seq is not None:
        body["audit"] = _audit_section(
            audit, first_seq=audit_first_seq, principal=principal,
            job_id=str(predicate["job"]["id"]), key=key,
        )  # fmt: skip
    # The signed payload is JSON; a round trip makes the return value exactly what is signed
    # (TOML dates in the job spec become ISO strings).
    body = json.loads(json.dumps(body, default=str, allow_nan=False))
    envelope = sign_envelope(build_statement(digests, body), key)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_atomic(out_dir / PUBLIC_KEY_FILE, public_key_pem(key))
    text = json.dumps(envelope, indent=2, sort_keys=True) + "\n"
    _write_atomic(out_dir / MANIFEST_FILE, text.encode("ascii"))
    return envelope


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
