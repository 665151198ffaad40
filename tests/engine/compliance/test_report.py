from __future__ import annotations

import hashlib
import json
from pathlib import Path

from engine.compliance import fingerprint_file, verify_manifest, write_signed_manifest
from engine.compliance.report import (
    LineageEdge,
    lineage_edges,
    openlineage_event,
    public_key_pem,
    render_html,
    render_text,
    scan_jobs,
)
from tests.engine.compliance.conftest import (
    FINGERPRINT_KEY,
    MANIFEST_KEY,
    JobMaker,
    predicate,
    write_outputs,
)

PUB = public_key_pem(MANIFEST_KEY)


def _three_jobs(make_job: JobMaker, tmp_path: Path) -> tuple[Path, Path, Path]:
    ingest = make_job("ingest")
    tokens = ingest / "tokenized.parquet"
    reuse = {
        "name": str(tokens),
        "fingerprint": fingerprint_file(tokens, FINGERPRINT_KEY),
        "sha256": hashlib.sha256(tokens.read_bytes()).hexdigest(),
        "is_finveil_output": True,
    }
    retokenize = make_job("retokenize", extra_inputs=[reuse])
    raw = tmp_path / "ingest.csv"
    same_raw = {"name": str(raw), "fingerprint": fingerprint_file(raw, FINGERPRINT_KEY)}
    rescore = make_job("rescore", extra_inputs=[same_raw])
    return ingest, retokenize, rescore


def test_lineage_across_jobs(make_job: JobMaker, tmp_path: Path) -> None:
    ingest, _retokenize, _rescore = _three_jobs(make_job, tmp_path)
    scan = scan_jobs(tmp_path / "jobs", public_key=PUB)
    assert scan.failures == ()
    assert [j.path.parent.name for j in scan.jobs] == ["ingest", "retokenize", "rescore"]
    ids = {j.path.parent.name: j.predicate["job"]["id"] for j in scan.jobs}
    edges = lineage_edges(scan.jobs)
    assert (
        LineageEdge(
            producer=ids["ingest"],
            consumer=ids["retokenize"],
            dataset=str(ingest / "tokenized.parquet"),
            via="sha256",
        )
        in edges
    )
    shared = str(tmp_path / "ingest.csv")
    edge = LineageEdge(
        producer=ids["ingest"], consumer=ids["rescore"], dataset=shared, via="fingerprint"
    )
    assert edge in edges
    assert len(edges) == 2
    text = render_text(scan.jobs, edges=edges)
    assert "read its output (sha256)" in text
    assert "same input (fingerprint)" in text


def test_a_tampered_job_is_reported_not_trusted(make_job: JobMaker, tmp_path: Path) -> None:
    ingest, _, _ = _three_jobs(make_job, tmp_path)
    (ingest / "scores.parquet").write_bytes(b"changed")
    scan = scan_jobs(tmp_path / "jobs", public_key=PUB)
    assert [j.path.parent.name for j in scan.jobs] == ["retokenize", "rescore"]
    ((path, reason),) = scan.failures
    assert path == ingest / "manifest.json"
    assert "scores.parquet: sha256 differs" in reason
    assert "FAILED" in render_text(scan.jobs, failures=scan.failures)


def test_openlineage_event_points_at_the_manifest(make_job: JobMaker) -> None:
    job = make_job()
    report = verify_manifest(job, public_key=PUB)
    event = openlineage_event(report, namespace="bank-a")
    manifest_sha = hashlib.sha256((job / "manifest.json").read_bytes()).hexdigest()
    assert event["eventType"] == "COMPLETE"
    assert event["run"]["runId"] == report.predicate["job"]["id"]
    assert event["job"] == {"namespace": "bank-a", "name": "fraud-daily", "facets": {}}
    assert event["schemaURL"].startswith("https://openlineage.io/spec/2-0-2/OpenLineage.json")
    assert event["run"]["facets"]["finveil_manifest"]["manifestSha256"] == manifest_sha
    outputs = {Path(o["name"]).name: o for o in event["outputs"]}
    assert set(outputs) == set(report.subjects)
    for name, dataset in outputs.items():
        assert dataset["namespace"] == "file"
        assert dataset["facets"]["finveil_manifest"]["manifestSha256"] == manifest_sha
        assert dataset["facets"]["version"]["datasetVersion"] == report.subjects[name]
    (source,) = event["inputs"]
    fingerprint = report.predicate["inputs"][0]["fingerprint"]["value"]
    assert source["facets"]["version"]["datasetVersion"] == fingerprint
    assert source["facets"]["finveil_manifest"]["manifestSha256"] == manifest_sha
    json.dumps(event)  # JSON-ready


def test_run_id_is_a_uuid_even_for_other_job_ids(tmp_path: Path) -> None:
    out = tmp_path / "job"
    write_outputs(out)
    pred = predicate(name="n", inputs=[], job_id="nightly-42")
    write_signed_manifest(out, pred, key=MANIFEST_KEY)
    run_id = openlineage_event(verify_manifest(out, public_key=PUB))["run"]["runId"]
    assert len(run_id) == 36
    assert run_id != "nightly-42"
    assert openlineage_event(verify_manifest(out, public_key=PUB))["run"]["runId"] == run_id


def test_auditor_page_covers_the_evidence_and_escapes(make_job: JobMaker, tmp_path: Path) -> None:
    job = make_job()
    report = verify_manifest(job, public_key=PUB)
    page = render_html([report])
    for needle in ("tokenize.pan", "FF3-1", "pan/v1", "poly_modulus_degree", "Key access",
                   "anomaly_block: rows_1h", report.predicate["code"]["package_sha256"],
                   "tokenized.parquet", "pan: luhn"):  # fmt: skip
        assert needle in page, needle
    out = tmp_path / "evil"
    write_outputs(out)
    pred = predicate(name="<script>alert(1)</script>", inputs=[])
    pred["protection"]["<img src=x onerror=1>"] = {"method": "\"'&"}
    write_signed_manifest(out, pred, key=MANIFEST_KEY)
    page = render_html([verify_manifest(out, public_key=PUB)])
    assert "<script>alert" not in page
    assert "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&quot;&#x27;&amp;" in page
