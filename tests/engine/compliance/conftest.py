from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from engine.compliance import fingerprint_file, write_signed_manifest
from engine.keys import AuditLog, KeyMaterial

MANIFEST_KEY = KeyMaterial(key_id="manifest", version=1, secret=bytes(range(32)))
FINGERPRINT_KEY = KeyMaterial(key_id="manifest.fingerprint", version=1, secret=bytes(32))
AUDIT_KEY = KeyMaterial(key_id="audit", version=1, secret=bytes(range(32, 64)))


def write_outputs(out: Path, *, rows: int = 6) -> None:
    """Write a small job's outputs (tokens only, no raw values) as Parquet."""
    out.mkdir(parents=True, exist_ok=True)
    good = rows - 1
    pd.DataFrame({"_row": range(good), "pan": [f"tok{i:04d}" for i in range(good)]}).to_parquet(
        out / "tokenized.parquet", index=False
    )
    pd.DataFrame({"_row": range(good), "score": [0.1 * i for i in range(good)]}).to_parquet(
        out / "scores.parquet", index=False
    )
    pd.DataFrame({"_row": [good], "reason": ["pan: luhn"]}).to_parquet(
        out / "quarantine.parquet", index=False
    )


def predicate(
    *,
    name: str,
    inputs: list[dict[str, Any]],
    rows: int = 6,
    job_id: str | None = None,
    started_at: str = "2026-12-04T05:00:00+00:00",
) -> dict[str, Any]:
    return {
        "job": {
            "kind": "run",
            "name": name,
            "id": job_id or str(uuid.uuid4()),
            "started_at": started_at,
            "spec": {"name": name, "pii": {"pan": "pan"}},
        },
        "inputs": inputs,
        "protection": {
            "pan": {
                "kind": "pan",
                "method": "FF3-1",
                "key_id": "tokenize.pan",
                "key_version": 2,
                "tweak_id": "pan/v1",
                "small_domain_fallback": False,
            }
        },
        "ckks": {"scheme": "CKKS", "poly_modulus_degree": 8192, "security_bits": 128},
        "rows": {"in": rows, "out": rows - 1, "quarantined": 1, "reconciled": True},
        "quarantine_reasons": {"pan: luhn": 1},
        "timings_s": {"tokenize": 0.5, "write": 0.1},
    }


JobMaker = Callable[..., Path]


@pytest.fixture
def audit(tmp_path: Path) -> AuditLog:
    return AuditLog(tmp_path / "audit.jsonl", key=AUDIT_KEY)


@pytest.fixture
def make_job(tmp_path: Path, audit: AuditLog) -> JobMaker:
    """Build a signed job directory: raw input CSV -> outputs, with an audit range."""
    made: list[str] = []

    def make(
        name: str = "fraud-daily",
        *,
        extra_inputs: list[dict[str, Any]] | None = None,
        key: KeyMaterial = MANIFEST_KEY,
    ) -> Path:
        raw = tmp_path / f"{name}.csv"
        raw.write_text(f"pan,amount,job\n4111111111111111,10,{name}\n")
        out = tmp_path / "jobs" / name
        write_outputs(out)
        made.append(name)
        pred = predicate(
            name=name,
            started_at=f"2026-12-04T05:{len(made):02d}:00+00:00",
            inputs=[{"name": str(raw), "fingerprint": fingerprint_file(raw, FINGERPRINT_KEY)}]
            + (extra_inputs or []),
        )
        start = audit.append(
            who="job", action="job.start", decision="allow", subject={"job": pred["job"]["id"]}
        )
        audit.append(
            who="job", action="key.release", decision="allow", key_id="tokenize.pan", key_version=2
        )
        audit.append(
            who="job", action="detokenize", decision="deny", reason="anomaly_block: rows_1h"
        )
        write_signed_manifest(
            out, pred, key=key, audit=audit, audit_first_seq=start.seq, principal="job"
        )
        return out

    return make
