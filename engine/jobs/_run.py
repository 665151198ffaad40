"""The main batch job: validate, tokenize, train, encrypt, score encrypted, decrypt, decide."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.compliance import encrypt_records, fingerprint_file, write_signed_manifest
from engine.errors import InputError
from engine.he import CKKSKeys, CKKSParams
from engine.jobs._cluster import ray_cluster
from engine.jobs._features_ray import ray_aggregate
from engine.jobs._io import read_table, staged_directory, write_parquet
from engine.jobs._models import evaluation_report, fit_credit, fit_fraud
from engine.jobs._retokenize import manifest_body
from engine.jobs._score_ray import decrypt_scores, score_on_ray
from engine.jobs._spec import JobSpec, Task
from engine.jobs._tokenize_ray import ROW, tokenize_on_ray
from engine.jobs._validate import Columns, encode_label, resolve_columns
from engine.keys import KeyPurpose, KeyRing
from engine.models import EvaluationReport
from engine.tokenize import FormatOptions, Kind, Scheme, tokenize_frame

_log = logging.getLogger(__name__)
_DECISIONS = {Task.CREDIT: ("approve", "decline"), Task.FRAUD: ("allow", "flag")}


@dataclass(slots=True, kw_only=True)
class _Clock:
    """Wall-clock seconds per stage, in the order the stages ran."""

    stages: dict[str, float] = field(default_factory=dict)
    report: Callable[[str], None] | None = None

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if self.report is not None:
            self.report(name)
        start = time.perf_counter()
        yield
        self.stages[name] = round(time.perf_counter() - start, 3)
        _log.info("stage %s: %.2f s", name, self.stages[name])


@dataclass(frozen=True, slots=True, kw_only=True)
class JobResult:
    """What a finished job produced: ``manifest`` is the signed manifest's predicate."""

    output_dir: Path
    manifest: dict[str, Any]


def _sigmoid(margin: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-margin)))


def _token_keys(keyring: KeyRing, pii: dict[str, str]) -> dict[Kind, Any]:
    kinds = {Kind(kind) for kind in pii.values()}
    return {kind: keyring.ensure(f"tokenize.{kind.value}", KeyPurpose.TOKENIZE) for kind in kinds}


def _quarantine_table(
    frame: pd.DataFrame, rejected: pd.DataFrame, keyring: KeyRing, job_id: str
) -> pd.DataFrame:
    key = keyring.ensure("quarantine", KeyPurpose.QUARANTINE)
    rows = [int(r) for r in rejected.index]
    originals = frame.loc[rows].astype(object).where(frame.loc[rows].notna(), None)
    records: list[dict[str, Any]] = [
        {str(k): v for k, v in record.items()} for record in originals.to_dict("records")
    ]
    blobs = encrypt_records(records, rows, key, context=job_id)
    return pd.DataFrame(
        {
            ROW: pd.Series(rows, dtype="int64"),
            "column": rejected["column"].to_numpy(),
            "reason": rejected["reason"].to_numpy(),
            "key_id": key.key_id,
            "key_version": key.version,
            "record_encrypted": blobs,
        }
    )


def _train_and_score(
    good: pd.DataFrame,
    raw: pd.DataFrame | None,
    y: np.ndarray,
    columns: Columns,
    spec: JobSpec,
    clock: _Clock,
    cpus: int,
) -> tuple[pd.DataFrame, dict[str, Any], EvaluationReport]:
    model_spec = spec.model
    with clock.stage("train"):
        if model_spec.task is Task.FRAUD:
            fitted = fit_fraud(good, raw, y, spec, aggregate=ray_aggregate(cpus))
        else:
            fitted = fit_credit(good, raw, y, columns, spec)
    with clock.stage("ckks_keygen"):
        keys = CKKSKeys.generate(CKKSParams.DEFAULT)
        public = keys.public_context()
    with clock.stage("encrypt_and_score"):
        blobs = score_on_ray(
            fitted.features, public, weights=fitted.weights, intercept=fitted.intercept,
            chunk_rows=public.slot_count,
        )  # fmt: skip
    with clock.stage("decrypt_and_decide"):
        margin = decrypt_scores(blobs, keys)
        score = _sigmoid(margin)
        low, high = _DECISIONS[model_spec.task]
        decision = np.where(score >= model_spec.threshold, high, low)
        rows = fitted.test.index.to_numpy(dtype="int64")
        scores = pd.DataFrame({ROW: rows, "score": score, "decision": decision})
        if fitted.points is not None:
            scores.insert(2, "points", np.round(fitted.points(margin), 1))
        scores = scores.sort_values(ROW)
    y_test = y[good.index.get_indexer(fitted.test.index)]
    with clock.stage("report"):
        info = {"n_train": fitted.n_train, "n_test": len(y_test), "test_events": int(y_test.sum())}
        report = evaluation_report(fitted, y_test, score, margin, spec, info)
    tokens_row, encrypted_row = (
        next(r for r in report.rows if (r["model"], r["variant"]) == (fitted.name, variant))
        for variant in ("tokens", "encrypted")
    )
    metrics = {
        "algorithm": fitted.name,
        "n_train": fitted.n_train,
        "n_test": len(fitted.test),
        "features": list(fitted.names),
        "auc_plaintext": round(float(tokens_row["auc_roc"]), 6),
        "auc_encrypted": round(float(encrypted_row["auc_roc"]), 6),
        "max_abs_score_diff": float(np.max(np.abs(score - fitted.plain_score))),
        "max_abs_margin_diff": float(np.max(np.abs(margin - fitted.plain_margin))),
        **{
            f"{metric}_{variant}": round(float(row[metric]), 6)
            for variant, row in (("plaintext", tokens_row), ("encrypted", encrypted_row))
            for metric in ("average_precision", "card_precision_at_k", "ks")
            if metric in row
        },
        "decisions": {str(k): int(v) for k, v in scores["decision"].value_counts().items()},
        "ckks": public.describe(),
        "evaluation": report.to_dict()["rows"],
    }
    return scores, metrics, report


def _protection(frame: pd.DataFrame, spec: JobSpec, keys: dict[Kind, Any]) -> dict[str, Any]:
    # Protection depends only on the spec and keys, so the driver states it from an empty
    # frame: the same call the workers make, without a single value.
    options = FormatOptions(scheme=Scheme(spec.scheme))
    described = tokenize_frame(frame.iloc[:0][list(spec.pii)], spec.pii, keys, options=options)
    return {column: _plain(asdict(described.protection[column])) for column in spec.pii}


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v.value if isinstance(v, Enum) else v for k, v in record.items()}


def _add_label_failures(rejected: pd.DataFrame, rows: pd.Index, label: str) -> pd.DataFrame:
    if len(rows) == 0:
        return rejected
    extra = pd.DataFrame({"column": label, "reason": "label: missing"}, index=rows)
    combined = pd.concat([rejected, extra]).groupby(level=0, sort=True)
    return combined.agg({"column": "; ".join, "reason": "; ".join})


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _replaced_job(document: Any) -> str | None:
    """The job id of a FinVeil manifest (signed or plain), or ``None``."""
    if not isinstance(document, dict):
        return None
    try:
        job_id = manifest_body(document)["job"]["id"]
    except (InputError, KeyError, TypeError):
        return None
    return job_id if isinstance(job_id, str) else None


def _record_usage(
    keyring: KeyRing, job_id: str, protection: dict[str, Any], quarantine: pd.DataFrame
) -> None:
    # Recorded before the output moves into place: a key version a dataset depends on can
    # then never be retired, even if the move fails (a stale record only blocks retiring).
    used = {(entry["key_id"], int(entry["key_version"])) for entry in protection.values()}
    used |= set(zip(quarantine["key_id"], quarantine["key_version"].astype(int), strict=True))
    for key_id, version in sorted(used):
        keyring.record_usage(job_id, key_id, version)


def _reason_counts(quarantine: pd.DataFrame) -> dict[str, int]:
    reasons = quarantine["reason"].str.split("; ").explode()
    return {str(k): int(v) for k, v in reasons.value_counts().sort_index().items()}


def run_job(
    spec: JobSpec,
    *,
    keyring: KeyRing,
    ray_address: str | None = None,
    output_dir: Path | None = None,
    frame: pd.DataFrame | None = None,
    progress: Callable[[str], None] | None = None,
) -> JobResult:
    """Run the batch job described by ``spec``; see the README, "The batch job".

    Args:
        spec: The validated job spec.
        keyring: Where tokenization and quarantine keys come from (created on first use).
        ray_address: An existing Ray cluster; ``None`` uses ``RAY_ADDRESS`` or a local Ray.
        output_dir: Overrides ``[output] dir``.
        frame: The input rows, when they come from memory (a notebook, the demo) rather
            than from ``[input] path``.
        progress: Called with each stage's name as it starts.

    Returns:
        The output directory and the manifest written into it.

    Raises:
        InputError: Unreadable, empty or malformed input.
        ConfigError: The spec does not fit the input.
    """
    out = output_dir or spec.output_dir
    clock = _Clock(report=progress)
    job_id = str(uuid.uuid4())
    started = datetime.now(UTC).isoformat(timespec="seconds")
    with clock.stage("read_and_validate"):
        if frame is None:
            frame = read_table(spec.input_path, text_columns=list(spec.pii))
            fingerprint_key = keyring.ensure("manifest.fingerprint", KeyPurpose.MANIFEST)
            source: dict[str, Any] = {
                "name": str(spec.input_path),
                # SECURITY: a keyed hash, so the manifest cannot confirm a guessed input.
                "fingerprint": fingerprint_file(spec.input_path, fingerprint_key),
            }
        else:
            frame = frame.reset_index(drop=True)
            source = {"name": str(spec.input_path), "in_memory": True}
        columns = resolve_columns(frame, spec)
        y_all, label_missing = encode_label(frame[columns.label], spec.model.positive)
        keys = _token_keys(keyring, dict(spec.pii))
        audit = keyring.audit_log or keyring.attach_audit(
            keyring.path.with_name("audit.jsonl"), principal="finveil"
        )
        # Fail-closed: a job that cannot be audited does not start.
        first = audit.append(
            who="finveil", action="job.start", decision="allow", subject={"job": job_id}
        )
    out_manifest_before = _read_json(out / "manifest.json")
    with staged_directory(out) as staging, ExitStack() as stack:
        with clock.stage("start_ray"):
            cluster = stack.enter_context(ray_cluster(ray_address))
        with clock.stage("tokenize"):
            tokens, rejected = tokenize_on_ray(
                frame,
                spec.pii,
                keys,
                scheme=spec.scheme,
                batch_rows=spec.batch_rows,
                workers=cluster.cpus,
            )
            rejected = _add_label_failures(rejected, frame.index[label_missing], columns.label)
            good_rows = tokens.index.difference(rejected.index)
            good = frame.loc[good_rows].copy()
            good[list(spec.pii)] = tokens.loc[good_rows, list(spec.pii)]
        with clock.stage("quarantine"):
            quarantine = _quarantine_table(frame, rejected, keyring, job_id)
        y = y_all[good.index.to_numpy()]
        # The raw rows stay in this process (the owner's), for the report's raw variant.
        raw = frame.loc[good.index] if spec.model.compare_raw else None
        scores, metrics, report = _train_and_score(good, raw, y, columns, spec, clock, cluster.cpus)
        with clock.stage("write"):
            tokenized = good.rename_axis(ROW).reset_index()
            write_parquet(tokenized, staging / "tokenized.parquet")
            write_parquet(scores, staging / "scores.parquet")
            write_parquet(quarantine, staging / "quarantine.parquet")
            report.save(staging)
            (staging / "report.txt").write_text(report.to_table() + "\n")
        protection = _protection(frame, spec, keys)
        predicate = {
            "job": {
                "kind": "run",
                "name": spec.name,
                "id": job_id,
                "started_at": started,
                "spec": spec.raw,
            },
            "inputs": [source],
            "runtime": {"ray": {"address": cluster.address, "cpus": cluster.cpus}},
            "rows": {
                "in": len(frame),
                "out": len(tokenized),
                "quarantined": len(quarantine),
                "reconciled": len(frame) == len(tokenized) + len(quarantine),
            },
            "quarantine_reasons": _reason_counts(quarantine),
            "protection": protection,
            "model": {"task": spec.model.task.value, "label": columns.label, **metrics},
            "timings_s": clock.stages,
        }
        _record_usage(keyring, job_id, protection, quarantine)
        signing_key = keyring.ensure("manifest", KeyPurpose.MANIFEST)
        write_signed_manifest(
            staging, predicate, key=signing_key, audit=audit, audit_first_seq=first.seq
        )
    replaced = _replaced_job(out_manifest_before)
    if replaced is not None and replaced != job_id:
        # The earlier dataset in this directory is gone: its key versions are no longer used.
        keyring.drop_usage(replaced)
    return JobResult(output_dir=out, manifest=predicate)
