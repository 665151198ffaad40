"""Migrate a job's tokenized output to new key versions; raw values exist only in memory."""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import os
import secrets
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from engine import __version__
from engine.compliance import verify_manifest, write_signed_manifest
from engine.compliance.report import public_key_pem
from engine.errors import (
    ConfigError,
    InputError,
    IntegrityError,
    KeyManagementError,
    TokenizationError,
)
from engine.jobs._io import sha256_file
from engine.jobs._tokenize_ray import ROW
from engine.keys import KeyMaterial, KeyRing, KeyState
from engine.tokenize import FormatOptions, Kind, Scheme, detokenize_frame, tokenize_frame

__all__ = [
    "ColumnChange",
    "RetokenizeResult",
    "is_envelope",
    "manifest_body",
    "retokenize_dataset",
    "retokenize_frame",
]

TOKENIZED = "tokenized.parquet"
MANIFEST = "manifest.json"
PUBLIC_KEY = "manifest.pub"  # Beside a signed manifest; written afresh when re-signed.


@dataclass(frozen=True, slots=True, kw_only=True)
class ColumnChange:
    """One tokenized column moved from one key version to another."""

    column: str
    kind: Kind
    key_id: str
    from_version: int
    to_version: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RetokenizeResult:
    """What :func:`retokenize_dataset` did.

    Args:
        output: The directory holding the migrated dataset (the source when in place).
        dataset_id: The keyring dataset id of the output (its usage records).
        changes: The columns migrated; empty when every column was already at the target.
        unchanged: Tokenized columns already at the target version.
        rows: Rows of ``tokenized.parquet`` rewritten (0 for a no-op).
        signed: True if the new manifest was re-signed (the source was a signed envelope).
        recovered: True if an interrupted earlier run was completed first.
    """

    output: Path
    dataset_id: str
    changes: tuple[ColumnChange, ...]
    unchanged: tuple[str, ...]
    rows: int
    signed: bool
    recovered: bool


def is_envelope(document: Mapping[str, Any]) -> bool:
    """Return True if ``document`` is a DSSE envelope rather than a plain manifest."""
    return "payload" in document and "payloadType" in document


def manifest_body(document: Mapping[str, Any]) -> dict[str, Any]:
    """Return the FinVeil manifest inside ``document``, signed or plain.

    Accepts the job's plain manifest dict, or a DSSE envelope (``payloadType``, base64
    ``payload``, ``signatures``) whose payload is an in-toto Statement carrying the FinVeil
    manifest as its ``predicate``. Signatures are *not* verified here (that is
    ``engine.compliance``'s job); callers that trust the envelope must verify it first.

    Raises:
        InputError: An envelope whose payload is not a Statement with a predicate.
    """
    if not is_envelope(document):
        return dict(document)
    try:
        statement = json.loads(base64.b64decode(str(document["payload"]), validate=True))
    except (binascii.Error, ValueError) as exc:
        raise InputError("manifest envelope: payload is not base64-encoded JSON") from exc
    predicate = statement.get("predicate") if isinstance(statement, dict) else None
    if not isinstance(predicate, dict):
        raise InputError("manifest envelope: the statement carries no predicate")
    return predicate


def retokenize_frame(
    df: pd.DataFrame,
    pii: Mapping[str, Kind | str],
    *,
    old_keys: Mapping[str, KeyMaterial],
    new_keys: Mapping[str, KeyMaterial],
    options: FormatOptions | None = None,
) -> pd.DataFrame:
    """Re-key the token columns ``pii`` of ``df``: detokenize with old keys, tokenize with new.

    Args:
        df: Tokenized rows (index labels name rows in error messages).
        pii: Column -> kind of the columns to re-key; other columns pass through.
        old_keys: Column -> key material the tokens were made with.
        new_keys: Column -> key material of the new tokens.
        options: The format options the tokens were made with (same for both keys).

    Returns:
        A copy of ``df`` (same index and columns) with the ``pii`` columns re-keyed.

    Raises:
        TokenizationError: A cell is not a token of its column under its old key.
        ConfigError: A column or key is missing.
    """
    out = df.copy()
    for column, kind in pii.items():
        if column not in old_keys or column not in new_keys:
            raise ConfigError(f"retokenize: no old or new key for column {column!r}")
        spec = {column: kind}
        kind_ = kind if isinstance(kind, Kind) else Kind(kind)
        # SECURITY: the raw values live only in this local frame, in memory; they are
        # never written, logged or put into a message.
        plain = detokenize_frame(df[[column]], spec, {kind_: old_keys[column]}, options=options)
        again = tokenize_frame(plain, spec, {kind_: new_keys[column]}, options=options)
        del plain
        if len(again.quarantine):
            row = again.quarantine["row"].iloc[0]
            raise TokenizationError(
                f"column {column!r}, row {row}: a detokenized value does not tokenize again "
                f"({len(again.quarantine)} rows); the dataset is unchanged"
            )
        out[column] = again.frame[column]
    return out


def retokenize_dataset(
    directory: Path,
    *,
    keyring: KeyRing,
    to_version: int | None = None,
    out: Path | None = None,
    batch_rows: int = 65_536,
    principal: str = "local",
) -> RetokenizeResult:
    """Migrate a job output directory's tokens to new key versions, atomically.

    ``tokenized.parquet`` is read in batches; each batch's PII columns are detokenized with
    the recorded version and tokenized with the target version in memory, into a staging
    directory beside the output holding the other files (hard links) and a new manifest
    (key versions, output hashes, a ``retokenized`` entry; re-signed if it was signed),
    which is fsynced and swapped into place. The keyring's usage records follow, so the old
    versions can then be retired. Quarantine rows are left as they are (encrypted under the
    quarantine key, not a tokenization key).

    Args:
        directory: The job output directory (``tokenized.parquet``, ``manifest.json``).
        keyring: Releases the old and new key versions (audited) and holds usage records.
        to_version: Target version of every tokenization key (default: each key's primary).
        out: Write the migrated dataset to this new directory (a new dataset id) instead
            of replacing ``directory`` in place.
        batch_rows: Rows per batch read and re-keyed in memory.
        principal: Who acts, for the audit log.

    Returns:
        What was done; a no-op (``changes`` empty) if every column is at its target.

    Raises:
        InputError: No such directory, no manifest or data file, a malformed manifest.
        IntegrityError: An output does not match the manifest (hash or signature), or the
            output could not be written (the dataset is then unchanged).
        KeyManagementError: A source version is retired; a target is retired or missing.
    """
    if batch_rows < 1:
        raise ValueError("batch_rows must be positive")
    directory = Path(directory).absolute()
    target = Path(out).absolute() if out is not None else directory
    with _locked(directory.parent):
        recovered = _recover(directory, keyring)
        document, body = _load(directory, keyring)
        changes, unchanged = _plan(body, keyring, to_version)
        done = RetokenizeResult(
            output=target, dataset_id=_dataset_id(body), changes=tuple(changes),
            unchanged=unchanged, rows=0, signed=is_envelope(document), recovered=recovered,
        )  # fmt: skip
        if not changes:
            _settle_if_guarded(keyring, done.dataset_id, body["protection"])
            return replace(done, output=directory)
        if out is not None and target.exists():
            raise ConfigError(f"retokenize: output {target} exists; refusing to overwrite")
        job = _prepare(directory, document, body, changes, keyring=keyring, is_copy=out is not None,
                       batch_rows=batch_rows, principal=principal)  # fmt: skip
        try:
            _publish(job, keyring, target)
        except BaseException as exc:
            with contextlib.suppress(IntegrityError):  # Best effort: the failure is raised.
                _audit(keyring, principal, "error", type(exc).__name__, dataset_id=job.dataset_id)
            raise
    return replace(done, dataset_id=job.dataset_id, rows=job.rows)


def _load(directory: Path, keyring: KeyRing) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read the manifest and check it against the files (signature, or recorded hashes)."""
    if not directory.is_dir():
        raise InputError(f"retokenize: no dataset directory {directory}")
    document = _read_manifest(directory)
    body = manifest_body(document)
    if is_envelope(document):
        # SECURITY: pinned to the keyring's own signing key, not to manifest.pub beside the
        # files, so replacing both the manifest and its public key is caught.
        signer = body.get("signer") or {}
        try:
            key = keyring.get(str(signer["key_id"]), int(signer["key_version"]))
        except (KeyError, TypeError, ValueError):
            raise IntegrityError("retokenize: the manifest names no signing key") from None
        public = public_key_pem(key)
        verify_manifest(directory / MANIFEST, public_key=public)  # or IntegrityError
    else:
        _check_outputs(directory, body)
    return document, body


def _prepare(directory: Path, document: dict[str, Any], body: dict[str, Any],
             changes: Sequence[ColumnChange], *, keyring: KeyRing, is_copy: bool,
             batch_rows: int, principal: str) -> _Rewrite:  # fmt: skip
    """Release the keys, check the recorded tweaks, and audit the run before it starts."""
    old = {c.column: keyring.get(c.key_id, c.from_version) for c in changes}
    new = {c.column: keyring.get(c.key_id, c.to_version) for c in changes}
    options = _options(body)
    _check_protection(body, changes, old, options)
    rows = pq.ParquetFile(directory / TOKENIZED).metadata.num_rows
    source_id = _dataset_id(body)
    dataset_id = f"{source_id}.rk-{secrets.token_hex(6)}" if is_copy else source_id
    seqs = [
        _audit(keyring, principal, "allow", f"column {c.column!r}: version {c.from_version} -> "
               f"{c.to_version}", dataset_id=dataset_id, key_id=c.key_id, version=c.to_version,
               rows=rows)
        for c in changes
    ]  # fmt: skip
    return _Rewrite(
        directory=directory, body=body, document=document, changes=changes, old=old, new=new,
        options=options, batch_rows=batch_rows, dataset_id=dataset_id, principal=principal,
        first_seq=seqs[0], rows=rows,
    )  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class _Rewrite:
    directory: Path
    body: dict[str, Any]
    document: Mapping[str, Any]
    changes: Sequence[ColumnChange]
    old: Mapping[str, KeyMaterial]
    new: Mapping[str, KeyMaterial]
    options: FormatOptions
    batch_rows: int
    dataset_id: str
    principal: str
    first_seq: int | None
    rows: int


def _publish(job: _Rewrite, ring: KeyRing, target: Path) -> None:
    """Stage the migrated dataset beside ``target`` and move it there (swap when in place)."""
    in_place = target == job.directory
    holder = _guard_id(job.dataset_id) if in_place else job.dataset_id
    # SECURITY: the target versions are recorded (in place: under a guard id) before any
    # token made with them is written, and the old ones are dropped only after the swap;
    # every crash point leaves a superset of the versions the files actually use.
    target.parent.mkdir(parents=True, exist_ok=True)
    if in_place:
        staging, old = _sibling(target, "new"), _sibling(target, "old")
        staging.mkdir(mode=stat.S_IMODE(target.stat().st_mode))
    else:
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.staging-", dir=target.parent))
    swapped = False
    try:
        _record_usage(ring, holder, job.changes, source=None if in_place else _dataset_id(job.body))
        manifest = _stage(job, ring, staging)
        if in_place:
            os.replace(target, old)
            swapped = True
        os.replace(staging, target)
        _fsync_dir(target.parent)
    except BaseException as exc:
        if swapped:  # _recover, on the next run, completes the swap.
            raise IntegrityError(
                f"retokenize: interrupted while swapping {target}; run retokenize again on it"
            ) from exc
        shutil.rmtree(staging, ignore_errors=True)
        ring.drop_usage(holder)
        if isinstance(exc, OSError):
            raise IntegrityError(
                f"retokenize: cannot write {target} ({exc.strerror}); the dataset is unchanged"
            ) from exc
        raise
    if in_place:
        shutil.rmtree(old, ignore_errors=True)  # What is left is removed by the next run.
        keys = {c.key_id for c in job.changes}
        _settle_usage(ring, job.dataset_id, manifest_body(manifest)["protection"], keys)


def _stage(job: _Rewrite, ring: KeyRing, staging: Path) -> Mapping[str, Any]:
    """Fill ``staging`` with the migrated dataset, fsynced; return its manifest as written."""
    _write_tokens(job, staging / TOKENIZED)
    for entry in sorted(job.directory.iterdir()):
        if entry.name in (TOKENIZED, MANIFEST, PUBLIC_KEY):
            continue
        # Hard links: the other outputs are unchanged, and linking costs no copy.
        if entry.is_dir():
            shutil.copytree(entry, staging / entry.name, copy_function=_link)
        else:
            _link(entry, staging / entry.name)
    manifest = _new_manifest(job, staging)
    if is_envelope(job.document):
        key = ring.primary(str(job.body.get("signer", {}).get("key_id", "manifest")))
        signed = write_signed_manifest(
            staging, _predicate(manifest), key=key, audit=ring.audit_log,
            audit_first_seq=job.first_seq if ring.audit_log is not None else None,
            principal=job.principal,
        )  # fmt: skip
    else:
        _write_json_file(manifest, staging / MANIFEST)
        signed = manifest
    _fsync_dir(staging)
    return signed


def _link(source: Path | str, target: Path | str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _write_tokens(job: _Rewrite, path: Path) -> None:
    """Stream the re-keyed tokens into ``path`` (in the private staging directory), fsynced."""
    source = pq.ParquetFile(job.directory / TOKENIZED)
    schema = source.schema_arrow
    pii = {c.column: c.kind for c in job.changes}
    mode = stat.S_IMODE((job.directory / TOKENIZED).stat().st_mode)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "wb") as handle:
        with pq.ParquetWriter(handle, schema) as writer:
            for batch in source.iter_batches(batch_size=job.batch_rows):
                frame = batch.to_pandas()
                if ROW in frame.columns:  # Error messages then name the input row.
                    frame.index = pd.Index(frame[ROW].to_numpy(), name=None)
                frame = retokenize_frame(
                    frame, pii, old_keys=job.old, new_keys=job.new, options=job.options
                )
                writer.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False))
        handle.flush()
        os.fsync(handle.fileno())


def _new_manifest(job: _Rewrite, staging: Path) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(json.dumps(job.body))
    for c in job.changes:
        body["protection"][c.column]["key_version"] = c.to_version
    if isinstance(body.get("outputs"), dict):
        body["outputs"][TOKENIZED] = sha256_file(staging / TOKENIZED)
    source_id = _dataset_id(job.body)
    if job.dataset_id != source_id:
        body["dataset_id"] = job.dataset_id
    entry: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "finveil_version": __version__,
        "from_dataset_id": source_id,
        "previous_manifest_sha256": sha256_file(job.directory / MANIFEST),
        "changes": [
            {"column": c.column, "key_id": c.key_id, "from_version": c.from_version,
             "to_version": c.to_version}
            for c in job.changes
        ],
    }  # fmt: skip
    body.setdefault("retokenized", []).append(entry)
    return body


def _predicate(body: Mapping[str, Any]) -> dict[str, Any]:
    # write_signed_manifest fills these in afresh (the signer, this run's audit range, and
    # the code that re-keyed the tokens).
    return {
        k: v for k, v in body.items() if k not in ("audit", "signer", "predicate_version", "code")
    }


def _plan(
    body: Mapping[str, Any], ring: KeyRing, to_version: int | None
) -> tuple[list[ColumnChange], tuple[str, ...]]:
    protection = body.get("protection")
    if not isinstance(protection, dict) or not protection:
        raise InputError("retokenize: the manifest records no tokenized column (protection)")
    changes, unchanged = [], []
    for column, record in protection.items():
        try:
            kind, key_id, version = Kind(record["kind"]), record["key_id"], record["key_version"]
            if type(version) is not int or not isinstance(key_id, str):
                raise TypeError
        except (KeyError, TypeError, ValueError):
            raise InputError(f"retokenize: malformed protection entry for {column!r}") from None
        info = ring.info(key_id)
        states = {v.version: v.state for v in info.versions}
        wanted = to_version if to_version is not None else info.primary_version
        if wanted not in states or states[wanted] is KeyState.RETIRED:
            state = "missing" if wanted not in states else "retired"
            raise KeyManagementError(
                f"retokenize: target version {wanted} of key {key_id!r} (column {column!r}) "
                f"is {state}; choose the primary or an active version"
            )
        if version == wanted:
            unchanged.append(str(column))
            continue
        if states.get(version) is KeyState.RETIRED:
            raise KeyManagementError(
                f"retokenize: column {column!r} is tokenized under key {key_id!r} version "
                f"{version}, which is retired; its tokens can no longer be migrated"
            )
        changes.append(ColumnChange(column=str(column), kind=kind, key_id=key_id,
                                    from_version=version, to_version=wanted))  # fmt: skip
    return changes, tuple(unchanged)


def _options(body: Mapping[str, Any]) -> FormatOptions:
    # The job tokenizes with FormatOptions(scheme=[tokenize] scheme) and defaults otherwise.
    spec = body.get("job", {}).get("spec", {})
    scheme = spec.get("tokenize", {}).get("scheme", "FF1") if isinstance(spec, dict) else "FF1"
    try:
        return FormatOptions(scheme=Scheme(scheme))
    except ValueError:
        raise InputError(f"retokenize: the manifest's job spec names scheme {scheme!r}") from None


def _check_protection(body: Mapping[str, Any], changes: Sequence[ColumnChange],
                      keys: Mapping[str, KeyMaterial], options: FormatOptions) -> None:  # fmt: skip
    # SECURITY: FPE decryption under the wrong tweak or scheme yields plausible garbage,
    # so the re-derived method and tweak must match the recorded ones before any value.
    for c in changes:
        empty = pd.DataFrame({c.column: pd.Series([], dtype="string")})
        derived = tokenize_frame(empty, {c.column: c.kind}, {c.kind: keys[c.column]},
                                 options=options).protection[c.column]  # fmt: skip
        recorded = body["protection"][c.column]
        if (derived.method, derived.tweak_id) != (recorded.get("method"), recorded.get("tweak_id")):
            raise IntegrityError(
                f"retokenize: column {c.column!r}: the recorded method or tweak does not match "
                "the job's tokenize options; refusing to detokenize"
            )


def _read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    for name in (MANIFEST, TOKENIZED):
        if not (directory / name).is_file():
            raise InputError(f"retokenize: {directory} has no {name}; not a job output")
    try:
        document: object = json.loads(path.read_text())
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"retokenize: {path} is not JSON") from exc
    if not isinstance(document, dict):
        raise InputError(f"retokenize: {path} is not a JSON object")
    return document


def _dataset_id(body: Mapping[str, Any]) -> str:
    """The keyring dataset id: ``dataset_id`` (a retokenized copy) or the job id."""
    job = body.get("job")
    value = body.get("dataset_id") or (job.get("id") if isinstance(job, dict) else None)
    if not isinstance(value, str) or not value:
        raise InputError("retokenize: the manifest has no job id")
    return value


def _guard_id(dataset_id: str) -> str:
    return f"retokenize:{dataset_id}"  # Holds the target versions while a run is under way.


def _sibling(directory: Path, role: str) -> Path:
    return directory.with_name(f".{directory.name}.retokenize-{role}")


def _check_outputs(directory: Path, body: Mapping[str, Any]) -> None:
    outputs = body.get("outputs")
    if not isinstance(outputs, dict) or not isinstance(outputs.get(TOKENIZED), str):
        raise InputError(f"retokenize: the manifest records no sha256 of {TOKENIZED}")
    for name, recorded in outputs.items():
        path = directory / name
        if not path.is_file() or sha256_file(path) != recorded:
            raise IntegrityError(
                f"retokenize: {path} does not match the manifest's sha256; refusing to use it"
            )


def _recover(directory: Path, ring: KeyRing) -> bool:
    """Finish or undo an interrupted in-place run; True if one was finished."""
    new, old = _sibling(directory, "new"), _sibling(directory, "old")
    if old.is_dir() and not directory.exists():
        # Killed between the two renames: the staged directory is complete (it holds its
        # manifest, written last); otherwise put the old one back.
        os.replace(new if (new / MANIFEST).is_file() else old, directory)
        _fsync_dir(directory.parent)
    for leftover in (new, old):
        if leftover.is_dir():
            shutil.rmtree(leftover)
    if not (directory / MANIFEST).is_file():
        return False
    body = manifest_body(_read_manifest(directory))
    return _settle_if_guarded(ring, _dataset_id(body), body.get("protection", {}))


def _settle_usage(
    ring: KeyRing, dataset_id: str, protection: Mapping[str, Any], key_ids: set[str]
) -> None:
    for key_id in sorted(key_ids):
        versions = {int(p["key_version"]) for p in protection.values() if p["key_id"] == key_id}
        ring.drop_usage(dataset_id, key_id)
        for version in sorted(versions):
            ring.record_usage(dataset_id, key_id, version)
    ring.drop_usage(_guard_id(dataset_id))


def _settle_if_guarded(ring: KeyRing, dataset_id: str, protection: Mapping[str, Any]) -> bool:
    """Finish the usage records of a run that stopped before it settled them."""
    guard = _guard_id(dataset_id)
    keys = {info.key_id for info in ring.list() if any(guard in v.datasets for v in info.versions)}
    if keys:
        _settle_usage(ring, dataset_id, protection, keys)
    return bool(keys)


def _record_usage(
    ring: KeyRing, holder: str, changes: Sequence[ColumnChange], *, source: str | None
) -> None:
    """Record the target versions under ``holder``; a copy also uses its source's others."""
    migrated = {c.key_id: c.to_version for c in changes}
    kept = [(info.key_id, v.version) for info in ring.list() if info.key_id not in migrated
            for v in info.versions if source is not None and source in v.datasets]  # fmt: skip
    for key_id, version in [*migrated.items(), *kept]:
        ring.record_usage(holder, key_id, version)


def _audit(ring: KeyRing, who: str, decision: str, reason: str, *, dataset_id: str,
           key_id: str | None = None, version: int | None = None,
           rows: int | None = None) -> int | None:  # fmt: skip
    log = ring.audit_log
    if log is None:
        return None
    return log.append(who=who, action="dataset.retokenize", decision=decision,
                      reason=reason[:1000], key_id=key_id, key_version=version, rows=rows,
                      subject={"dataset": dataset_id}).seq  # fmt: skip


def _write_json_file(document: Any, path: Path) -> None:
    """Write ``document`` as the job writes JSON (sorted keys), fsynced; never overwrite."""
    with path.open("xb") as handle:
        handle.write((json.dumps(document, indent=2, sort_keys=True, default=str) + "\n").encode())
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(directory: Path) -> None:
    with _directory_fd(directory) as fd:
        os.fsync(fd)  # Makes the renames in ``directory`` durable.


@contextlib.contextmanager
def _directory_fd(directory: Path) -> Iterator[int]:
    fd = os.open(directory, os.O_RDONLY)
    try:
        yield fd
    finally:
        os.close(fd)


@contextlib.contextmanager
def _locked(parent: Path) -> Iterator[None]:
    """Hold an exclusive lock on the dataset's parent directory (the swap happens there)."""
    if not parent.is_dir():
        raise InputError(f"retokenize: no directory {parent}")
    with _directory_fd(parent) as fd:
        fcntl.flock(fd, fcntl.LOCK_EX)  # Released when the descriptor is closed.
        yield
