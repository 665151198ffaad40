"""Retokenize a job output directory built here (no Ray): correctness, safety, refusals."""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import engine.jobs._retokenize as retokenize_module
from engine.compliance import encrypt_records, verify_manifest, write_signed_manifest
from engine.errors import (
    ConfigError,
    InputError,
    IntegrityError,
    KeyManagementError,
    KeyVersionMismatch,
)
from engine.jobs._io import sha256_file
from engine.jobs._retokenize import (
    is_envelope,
    manifest_body,
    retokenize_dataset,
    retokenize_frame,
)
from engine.keys import AuditLog, KeyMaterial, KeyPurpose, KeyRing, check_joinable
from engine.keys.backends import KeyFileRoot
from engine.tokenize import FormatOptions, Kind, Scheme, detokenize_frame, tokenize_frame

LOANS = Path(__file__).resolve().parents[2] / "data" / "loans_pii.csv.gz"
PII = {
    "customer_id": "id",
    "full_name": "name",
    "ssn": "ssn",
    "card_number": "pan",
    "iban": "iban",
    "email": "email",
    "phone": "phone",
    "date_of_birth": "date",
}
# Kinds whose domain is large enough that a token never equals another row's raw value by
# chance; their raw values are searched for in every file. (Names and dates come from small
# domains, where a token may legitimately coincide with some other customer's value.)
SCANNED = ("customer_id", "ssn", "card_number", "iban", "email", "phone")
ROWS = 30


@dataclass(frozen=True)
class JobOutput:
    out: Path
    ring: KeyRing
    raw: pd.DataFrame  # the rows that were tokenized, indexed by row
    rejected: pd.DataFrame  # the quarantined originals
    job_id: str

    @property
    def secrets(self) -> list[str]:
        frames = (self.raw, self.rejected)
        return sorted({str(v) for f in frames for c in SCANNED for v in f[c].tolist()})


def open_ring(home: Path) -> KeyRing:
    home.mkdir(parents=True, exist_ok=True)
    root = home / "keyring.root"
    if not root.exists():
        KeyFileRoot.generate(root)
    path = home / "keyring.json"
    audit = home / "audit.jsonl"
    if path.exists():
        return KeyRing.open(path, root_key_file=root, audit_path=audit, principal="tester")
    return KeyRing.create(path, root_key_file=root, audit_path=audit, principal="tester")


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v.value if isinstance(v, Enum) else v for k, v in record.items()}


def make_job_output(directory: Path, ring: KeyRing, *, scheme: str = "FF1") -> JobOutput:
    """Write what run_job writes (tokenized, scores, quarantine, manifest) for 30 loans."""
    frame = pd.read_csv(LOANS, dtype=str, keep_default_na=False, nrows=ROWS)
    frame = frame[[*PII, "loan_amount", "delinquent"]]
    frame.loc[3, "ssn"] = "000-00-0000"  # Quarantined: invalid area number.
    keys = {Kind(k): ring.ensure(f"tokenize.{k}", KeyPurpose.TOKENIZE) for k in PII.values()}
    options = FormatOptions(scheme=Scheme(scheme))
    result = tokenize_frame(frame, PII, keys, options=options)
    job_id = str(uuid.uuid4())
    directory.mkdir(parents=True)
    tokenized = result.frame.rename_axis("row").reset_index()
    pq.write_table(
        pa.Table.from_pandas(tokenized, preserve_index=False), directory / "tokenized.parquet"
    )
    scores = pd.DataFrame({"row": tokenized["row"], "score": 0.25, "decision": "approve"})
    pq.write_table(pa.Table.from_pandas(scores, preserve_index=False), directory / "scores.parquet")
    qkey = ring.ensure("quarantine", KeyPurpose.QUARANTINE)
    bad = sorted(set(result.quarantine["row"].tolist()))
    records = [{str(k): v for k, v in r.items()} for r in frame.loc[bad].to_dict("records")]
    quarantine = pd.DataFrame(
        {
            "row": pd.Series(bad, dtype="int64"),
            "reason": result.quarantine["reason"].to_numpy(),
            "key_id": qkey.key_id,
            "key_version": qkey.version,
            "record_encrypted": encrypt_records(records, bad, qkey, context=job_id),
        }
    )
    pq.write_table(
        pa.Table.from_pandas(quarantine, preserve_index=False), directory / "quarantine.parquet"
    )
    names = ("tokenized.parquet", "scores.parquet", "quarantine.parquet")
    manifest = {
        "job": {"name": "loans", "id": job_id, "started_at": "2026-12-04T05:00:00+00:00",
                "spec": {"pii": PII, "tokenize": {"scheme": scheme}}},
        "rows_in": len(frame), "rows_out": len(tokenized), "rows_quarantined": len(quarantine),
        "protection": {c: _plain(asdict(p)) for c, p in result.protection.items()},
        "outputs": {name: sha256_file(directory / name) for name in names},
    }  # fmt: skip
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    for kind in PII.values():
        ring.record_usage(job_id, f"tokenize.{kind}", 1)
    ring.record_usage(job_id, "quarantine", qkey.version)
    return JobOutput(out=directory, ring=ring, raw=frame.drop(index=bad), rejected=frame.loc[bad],
                     job_id=job_id)  # fmt: skip


def rotate_all(ring: KeyRing) -> None:
    for kind in PII.values():
        ring.rotate(f"tokenize.{kind}")


def detokenized(directory: Path, ring: KeyRing, version: int) -> pd.DataFrame:
    tokens = pd.read_parquet(directory / "tokenized.parquet").set_index("row")
    keys = {Kind(k): ring.get(f"tokenize.{k}", version) for k in PII.values()}
    return detokenize_frame(tokens, PII, keys, options=FormatOptions())


def assert_no_secret_on_disk(roots: Iterable[Path], secrets: list[str]) -> int:
    """Search every file under ``roots`` (bytes, and Parquet cells decoded); return files seen."""
    seen = 0
    for root in roots:
        for path in [root] if root.is_file() else sorted(root.rglob("*")):
            if not path.is_file():
                continue
            seen += 1
            data = path.read_bytes()
            texts = [data.decode("latin-1")]
            if data[:4] == b"PAR1" and data[-4:] == b"PAR1":
                table = pq.read_table(path)
                texts += [str(v) for col in table.columns for v in col.to_pylist()]
            for text in texts:
                found = [s for s in secrets if s in text]
                assert not found, f"raw value found in {path}"
    return seen


def manifest_of(directory: Path) -> dict[str, Any]:
    return manifest_body(json.loads((directory / "manifest.json").read_text()))


@pytest.fixture
def job(tmp_path: Path) -> JobOutput:
    return make_job_output(tmp_path / "out", open_ring(tmp_path / "home"))


def test_retokenize_in_place_round_trips_under_the_new_version(job: JobOutput) -> None:
    before = pd.read_parquet(job.out / "tokenized.parquet")
    scores = (job.out / "scores.parquet").read_bytes()
    rotate_all(job.ring)
    result = retokenize_dataset(job.out, keyring=job.ring, batch_rows=7)
    assert result.output == job.out.absolute()
    assert result.rows == len(job.raw) == ROWS - 1
    assert {c.column for c in result.changes} == set(PII)
    assert {(c.from_version, c.to_version) for c in result.changes} == {(1, 2)}

    after = pd.read_parquet(job.out / "tokenized.parquet")
    assert list(after.columns) == list(before.columns)
    assert after["row"].tolist() == before["row"].tolist()
    pd.testing.assert_frame_equal(after[["loan_amount", "delinquent"]],
                                  before[["loan_amount", "delinquent"]])  # fmt: skip
    plain = detokenized(job.out, job.ring, 2)
    pd.testing.assert_frame_equal(plain[list(PII)], job.raw[list(PII)], check_names=False,
                                  check_dtype=False, check_index_type=False)  # fmt: skip
    for column in PII:
        differ = (after[column] != before[column]).mean()
        assert differ == 1.0 if column in SCANNED else differ > 0.8, column
    assert (job.out / "scores.parquet").read_bytes() == scores

    manifest = manifest_of(job.out)
    assert {p["key_version"] for p in manifest["protection"].values()} == {2}
    for name, digest in manifest["outputs"].items():
        assert sha256_file(job.out / name) == digest
    (entry,) = manifest["retokenized"]
    assert entry["from_dataset_id"] == job.job_id
    assert {c["column"] for c in entry["changes"]} == set(PII)
    assert sorted(p.name for p in job.out.parent.iterdir()) == ["home", "out"]


def test_no_raw_value_touches_disk_at_any_point(
    job: JobOutput, monkeypatch: pytest.MonkeyPatch
) -> None:
    rotate_all(job.ring)
    real = os.replace
    checks: list[int] = []
    roots = [job.out.parent / "home", job.out.parent]

    def scanning_replace(src: Any, dst: Any) -> None:
        checks.append(assert_no_secret_on_disk(roots, job.secrets))  # Staged files included.
        real(src, dst)

    real_frame = retokenize_module.retokenize_frame

    def scanning_frame(df: pd.DataFrame, *args: Any, **kwargs: Any) -> pd.DataFrame:
        checks.append(assert_no_secret_on_disk(roots, job.secrets))  # Mid-write.
        return real_frame(df, *args, **kwargs)

    monkeypatch.setattr(os, "replace", scanning_replace)
    monkeypatch.setattr(retokenize_module, "retokenize_frame", scanning_frame)
    retokenize_dataset(job.out, keyring=job.ring, batch_rows=5)
    monkeypatch.undo()
    assert len(checks) >= 8
    assert min(checks) > 5
    assert assert_no_secret_on_disk(roots, job.secrets) >= 6
    # The scan can fail: a raw value written anywhere (here a Parquet cell) is found.
    leak = job.out / "leak.parquet"
    job.raw[["ssn"]].to_parquet(leak)
    with pytest.raises(AssertionError, match="raw value found"):
        assert_no_secret_on_disk(roots, job.secrets)
    leak.unlink()


def test_old_version_retires_only_after_retokenize(job: JobOutput) -> None:
    rotate_all(job.ring)
    with pytest.raises(KeyManagementError, match="still use it"):
        job.ring.retire("tokenize.pan", 1)
    retokenize_dataset(job.out, keyring=job.ring)
    for kind in PII.values():
        assert job.ring.datasets_using(f"tokenize.{kind}", 1) == []
        assert job.ring.datasets_using(f"tokenize.{kind}", 2) == [job.job_id]
        job.ring.retire(f"tokenize.{kind}", 1)
    # Quarantine rows stay encrypted under the quarantine key, still recorded.
    assert job.ring.datasets_using("quarantine", 1) == [job.job_id]
    assert all(not v.datasets or v.datasets == (job.job_id,)
               for info in job.ring.list() for v in info.versions)  # fmt: skip
    with pytest.raises(KeyManagementError, match="retired"):
        job.ring.get("tokenize.pan", 1)


def test_audited_and_chain_verifies(job: JobOutput) -> None:
    rotate_all(job.ring)
    retokenize_dataset(job.out, keyring=job.ring, principal="ops")
    log = job.ring.audit_log
    assert log is not None
    AuditLog.verify(log.path, lambda v: job.ring.get("audit", v))
    entries = [e for e in log.read_entries() if e["action"] == "dataset.retokenize"]
    assert len(entries) == len(PII)
    assert {e["who"] for e in entries} == {"ops"}
    assert {e["rows"] for e in entries} == {ROWS - 1}
    assert {e["subject"]["dataset"] for e in entries} == {log.subject_hash(job.job_id)}
    releases = {(e["key_id"], e["key_version"]) for e in log.read_entries()
                if e["action"] == "key.release"}  # fmt: skip
    assert ("tokenize.pan", 1) in releases
    assert ("tokenize.pan", 2) in releases


def test_copy_to_new_directory_is_not_joinable_with_the_original(
    job: JobOutput, tmp_path: Path
) -> None:
    original = {p.name: p.read_bytes() for p in job.out.iterdir()}
    rotate_all(job.ring)
    copy = tmp_path / "v2"
    result = retokenize_dataset(job.out, keyring=job.ring, out=copy)
    assert result.output == copy.absolute()
    assert result.dataset_id != job.job_id
    assert {p.name: p.read_bytes() for p in job.out.iterdir()} == original
    old, new = manifest_of(job.out), manifest_of(copy)
    assert new["dataset_id"] == result.dataset_id
    with pytest.raises(KeyVersionMismatch, match="card_number"):
        check_joinable(old["protection"], new["protection"], on=["card_number"])
    check_joinable(new["protection"], new["protection"], on=["card_number"])
    plain = detokenized(copy, job.ring, 2)
    assert plain["ssn"].tolist() == job.raw["ssn"].tolist()
    assert (copy / "quarantine.parquet").read_bytes() == original["quarantine.parquet"]
    # Both datasets are recorded: the original still holds version 1.
    assert job.ring.datasets_using("tokenize.pan", 1) == [job.job_id]
    assert job.ring.datasets_using("tokenize.pan", 2) == [result.dataset_id]
    assert result.dataset_id in job.ring.datasets_using("quarantine", 1)
    with pytest.raises(KeyManagementError):
        job.ring.retire("tokenize.pan", 1)


@pytest.mark.parametrize("failure", ["mid-write", "swap"])
def test_failed_write_leaves_the_dataset_intact(
    job: JobOutput, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    original = {p.name: p.read_bytes() for p in job.out.iterdir()}
    rotate_all(job.ring)
    real_replace, real_frame = os.replace, retokenize_module.retokenize_frame
    batches: list[int] = []

    def failing_replace(src: Any, dst: Any) -> None:
        if Path(src) == job.out.absolute():  # The first rename of the swap.
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    def failing_frame(df: pd.DataFrame, *args: Any, **kwargs: Any) -> pd.DataFrame:
        batches.append(len(df))
        if len(batches) == 3:  # Two batches are already in the staged file.
            raise OSError(28, "No space left on device")
        return real_frame(df, *args, **kwargs)

    if failure == "swap":
        monkeypatch.setattr(os, "replace", failing_replace)
    else:
        monkeypatch.setattr(retokenize_module, "retokenize_frame", failing_frame)
    with pytest.raises(IntegrityError, match="the dataset is unchanged"):
        retokenize_dataset(job.out, keyring=job.ring, batch_rows=5)
    monkeypatch.undo()
    assert batches == ([5, 5, 5] if failure == "mid-write" else [])
    assert {p.name: p.read_bytes() for p in job.out.iterdir()} == original
    assert sorted(p.name for p in job.out.parent.iterdir()) == ["home", "out"]
    assert job.ring.datasets_using("tokenize.pan", 1) == [job.job_id]
    assert job.ring.datasets_using("tokenize.pan", 2) == []  # The guard record is gone.
    assert detokenized(job.out, job.ring, 1)["ssn"].tolist() == job.raw["ssn"].tolist()
    retokenize_dataset(job.out, keyring=job.ring)  # A retry succeeds.
    assert detokenized(job.out, job.ring, 2)["ssn"].tolist() == job.raw["ssn"].tolist()


def test_crash_between_the_renames_is_finished_by_the_next_run(
    job: JobOutput, monkeypatch: pytest.MonkeyPatch
) -> None:
    rotate_all(job.ring)
    real = os.replace

    def crash_on_second(src: Any, dst: Any) -> None:
        if Path(dst) == job.out.absolute():  # dir -> old went through; staging -> dir fails
            raise OSError(5, "Input/output error")
        real(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_second)
    with pytest.raises(IntegrityError, match="run retokenize again"):
        retokenize_dataset(job.out, keyring=job.ring)
    monkeypatch.undo()
    assert not job.out.exists()
    with pytest.raises(KeyManagementError):
        job.ring.retire("tokenize.pan", 2)  # Not retirable: the guard holds version 2.
    result = retokenize_dataset(job.out, keyring=job.ring)
    assert result.recovered
    assert not result.changes
    assert detokenized(job.out, job.ring, 2)["ssn"].tolist() == job.raw["ssn"].tolist()
    assert sorted(p.name for p in job.out.parent.iterdir()) == ["home", "out"]
    assert job.ring.datasets_using("tokenize.pan", 1) == []
    job.ring.retire("tokenize.pan", 1)


def test_a_killed_run_is_cleaned_up_by_the_next(job: JobOutput) -> None:
    # What kill -9 during staging leaves: a partial staging directory and the guard record.
    staging = job.out.parent / ".out.retokenize-new"
    staging.mkdir()
    (staging / "tokenized.parquet").write_bytes(b"PAR1 partial")
    job.ring.rotate("tokenize.pan")
    job.ring.record_usage(f"retokenize:{job.job_id}", "tokenize.pan", 2)
    before = {p.name: p.read_bytes() for p in job.out.iterdir()}
    result = retokenize_dataset(job.out, keyring=job.ring, to_version=1)
    assert result.recovered
    assert result.changes == ()
    assert not staging.exists()
    assert {p.name: p.read_bytes() for p in job.out.iterdir()} == before
    assert job.ring.datasets_using("tokenize.pan", 2) == []
    assert job.ring.datasets_using("tokenize.pan", 1) == [job.job_id]


def test_already_at_target_is_a_no_op(job: JobOutput) -> None:
    before = {p.name: p.read_bytes() for p in job.out.iterdir()}
    result = retokenize_dataset(job.out, keyring=job.ring)
    assert result.changes == ()
    assert set(result.unchanged) == set(PII)
    assert result.rows == 0
    assert {p.name: p.read_bytes() for p in job.out.iterdir()} == before


def test_only_columns_behind_the_target_are_migrated(job: JobOutput) -> None:
    job.ring.rotate("tokenize.pan")
    result = retokenize_dataset(job.out, keyring=job.ring)
    assert [c.column for c in result.changes] == ["card_number"]
    assert "ssn" in result.unchanged
    protection = manifest_of(job.out)["protection"]
    assert protection["card_number"]["key_version"] == 2
    assert protection["ssn"]["key_version"] == 1
    assert detokenized_mixed(job)["card_number"].tolist() == job.raw["card_number"].tolist()


def detokenized_mixed(job: JobOutput) -> pd.DataFrame:
    tokens = pd.read_parquet(job.out / "tokenized.parquet").set_index("row")
    key = job.ring.get("tokenize.pan", 2)
    return detokenize_frame(tokens, {"card_number": "pan"}, {Kind.PAN: key})


def test_refusals(job: JobOutput, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no dataset directory"):
        retokenize_dataset(tmp_path / "missing", keyring=job.ring)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match=r"no manifest\.json"):
        retokenize_dataset(empty, keyring=job.ring)
    rotate_all(job.ring)
    with pytest.raises(KeyManagementError, match=r"target version 7 .* is missing"):
        retokenize_dataset(job.out, keyring=job.ring, to_version=7)
    with pytest.raises(ConfigError, match="exists"):
        retokenize_dataset(job.out, keyring=job.ring, out=empty)
    with pytest.raises(ValueError, match="batch_rows"):
        retokenize_dataset(job.out, keyring=job.ring, batch_rows=0)


def test_retired_source_or_target_is_refused(job: JobOutput) -> None:
    rotate_all(job.ring)
    job.ring.rotate("tokenize.ssn")  # ssn: v3 primary, v2 active
    job.ring.drop_usage(job.job_id)  # Pretend the records were lost, so v1 can be retired.
    job.ring.retire("tokenize.ssn", 2)
    with pytest.raises(KeyManagementError, match=r"target version 2 of key 'tokenize\.ssn'"):
        retokenize_dataset(job.out, keyring=job.ring, to_version=2)
    job.ring.retire("tokenize.pan", 1)
    with pytest.raises(KeyManagementError, match=r"'card_number' .* version 1, which is retired"):
        retokenize_dataset(job.out, keyring=job.ring)
    assert manifest_of(job.out)["protection"]["ssn"]["key_version"] == 1


def test_tampered_tokens_are_refused(job: JobOutput) -> None:
    rotate_all(job.ring)
    frame = pd.read_parquet(job.out / "tokenized.parquet")
    frame.loc[0, "loan_amount"] = "1"
    frame.to_parquet(job.out / "tokenized.parquet", index=False)
    with pytest.raises(IntegrityError, match="does not match the manifest"):
        retokenize_dataset(job.out, keyring=job.ring)


def test_wrong_recorded_tweak_is_refused(job: JobOutput) -> None:
    manifest = manifest_of(job.out)
    manifest["protection"]["ssn"]["tweak_id"] = "tw1:0000000000000000"
    (job.out / "manifest.json").write_text(json.dumps(manifest))
    job.ring.rotate("tokenize.ssn")
    with pytest.raises(IntegrityError, match="'ssn': the recorded method or tweak"):
        retokenize_dataset(job.out, keyring=job.ring)


def test_signed_manifest_is_verified_and_re_signed(job: JobOutput) -> None:
    plain = manifest_of(job.out)
    (job.out / "manifest.json").unlink()
    predicate = {
        "job": {k: plain["job"][k] for k in ("name", "id", "started_at", "spec")},
        "inputs": [{"name": "loans.csv", "in_memory": True}],
        "protection": plain["protection"],
        "rows": {"in": ROWS, "out": ROWS - 1, "quarantined": 1},
        "timings_s": {},
    }
    key = job.ring.ensure("manifest", KeyPurpose.MANIFEST)
    write_signed_manifest(job.out, predicate, key=key)
    rotate_all(job.ring)
    result = retokenize_dataset(job.out, keyring=job.ring)
    assert result.signed
    document = json.loads((job.out / "manifest.json").read_text())
    assert is_envelope(document)
    log = job.ring.audit_log
    assert log is not None
    report = verify_manifest(job.out, audit_path=log.path,
                             audit_key=lambda v: job.ring.get("audit", v))  # fmt: skip
    assert report.audit_head is not None
    assert {p["key_version"] for p in report.predicate["protection"].values()} == {2}
    assert report.subjects["tokenized.parquet"] == sha256_file(job.out / "tokenized.parquet")
    assert report.predicate["retokenized"][0]["from_dataset_id"] == job.job_id
    # A tampered output of a signed dataset is refused before any key is used.
    (job.out / "scores.parquet").write_bytes(b"PAR1")
    job.ring.rotate("tokenize.pan")
    with pytest.raises(IntegrityError, match=r"scores\.parquet"):
        retokenize_dataset(job.out, keyring=job.ring)


def test_ff3_scheme_is_read_from_the_job_spec(tmp_path: Path) -> None:
    ring = open_ring(tmp_path / "home")
    job = make_job_output(tmp_path / "out", ring, scheme="FF3-1")
    ring.rotate("tokenize.ssn")
    retokenize_dataset(job.out, keyring=ring)
    tokens = pd.read_parquet(job.out / "tokenized.parquet").set_index("row")
    options = FormatOptions(scheme=Scheme.FF3_1)
    plain = detokenize_frame(tokens, {"ssn": "ssn"}, {Kind.SSN: ring.get("tokenize.ssn", 2)},
                             options=options)  # fmt: skip
    assert plain["ssn"].tolist() == job.raw["ssn"].tolist()


def test_retokenize_frame_and_manifest_body() -> None:
    old = {"ssn": _key(1)}
    new = {"ssn": _key(2)}
    raw = pd.DataFrame({"ssn": ["150-59-7454", "219-09-9999"], "n": [1, 2]})
    tokens = tokenize_frame(raw, {"ssn": "ssn"}, {Kind.SSN: old["ssn"]}).frame
    moved = retokenize_frame(tokens, {"ssn": Kind.SSN}, old_keys=old, new_keys=new)
    assert moved["n"].tolist() == [1, 2]
    assert moved["ssn"].tolist() != tokens["ssn"].tolist()
    back = detokenize_frame(moved, {"ssn": "ssn"}, {Kind.SSN: new["ssn"]})
    assert back["ssn"].tolist() == raw["ssn"].tolist()
    with pytest.raises(ConfigError, match="no old or new key"):
        retokenize_frame(tokens, {"ssn": "ssn"}, old_keys=old, new_keys={})

    body = {"protection": {"ssn": {"key_version": 1}}}
    assert manifest_body(body) == body
    assert not is_envelope(body)
    statement = {"_type": "https://in-toto.io/Statement/v1", "predicate": body}
    payload = base64.b64encode(json.dumps(statement).encode()).decode()
    assert manifest_body({"payloadType": "x", "payload": payload, "signatures": []}) == body
    with pytest.raises(InputError, match="not base64"):
        manifest_body({"payloadType": "x", "payload": "%%%", "signatures": []})
    with pytest.raises(InputError, match="no predicate"):
        manifest_body({"payloadType": "x", "payload": base64.b64encode(b"[]").decode()})


def _key(version: int) -> KeyMaterial:
    return KeyMaterial(key_id="tokenize.ssn", version=version, secret=bytes([version]) * 32)
