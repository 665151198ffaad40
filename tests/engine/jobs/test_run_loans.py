"""End to end: ``finveil run`` on 10,000 real loans, on a real local Ray."""

import base64
import re
import shutil
import stat
from pathlib import Path

import ahocorasick
import numpy as np
import pandas as pd
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from engine.compliance import verify_manifest
from engine.errors import IntegrityError
from engine.keys import KeyRing
from tests.engine.jobs.conftest import PII, JobRun, predicate

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def _luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _iban_ok(iban: str) -> bool:
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", iban):
        return False
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _date_ok(value: str) -> bool:
    return not pd.isna(pd.to_datetime(value, format="%Y-%m-%d", errors="coerce"))


# An independent statement of which loans values are malformed, written from the data's
# documentation (not from the tokenizer), so the quarantine is checked against an outsider.
MALFORMED = {
    # SSA structure rules: no area 000, 666 or 9xx, no group 00, no serial 0000.
    "ssn": lambda v: not re.fullmatch(r"(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}", v),
    "card_number": lambda v: not (v.isdigit() and 12 <= len(v) <= 19 and _luhn_ok(v)),
    "iban": lambda v: not _iban_ok(v),
    "email": lambda v: not re.fullmatch(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}", v),
    "date_of_birth": lambda v: not _date_ok(v),
}


def _raw_values(raw: pd.DataFrame) -> ahocorasick.Automaton:
    """An automaton over every raw PII value (4+ characters) -> (value, rows holding it)."""
    automaton = ahocorasick.Automaton()
    for column in PII:
        values = raw[column].str.strip()
        for value, rows in values.groupby(values).groups.items():
            text = str(value)
            if len(text) >= 4:
                _, held = automaton.get(text, (text, set()))
                automaton.add_word(text, (text, held | {int(r) for r in rows}))
    automaton.make_automaton()
    return automaton


def _cell_hits(path: Path, automaton: ahocorasick.Automaton) -> list[tuple[str, int, str]]:
    """Every (column, row, raw value) where a cell of a Parquet file contains a raw value."""
    table = pd.read_parquet(path)
    rows = table["row"].to_numpy() if "row" in table.columns else np.full(len(table), -1)
    hits = []
    for column in table.columns:
        cells = [v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in table[column]]
        ends = np.cumsum([len(c) + 1 for c in cells])  # cells joined by NUL, one scan
        for end, (value, _) in automaton.iter("\x00".join(cells)):
            hits.append((str(column), int(rows[np.searchsorted(ends, end, side="right")]), value))
    return hits


def test_reconciles(loans_run: JobRun) -> None:
    rows = predicate(loans_run.out)["rows"]
    tokenized = pd.read_parquet(loans_run.out / "tokenized.parquet")
    quarantine = pd.read_parquet(loans_run.out / "quarantine.parquet")
    assert rows["in"] == len(loans_run.raw) == 10_000
    assert rows["out"] == len(tokenized)
    assert rows["quarantined"] == len(quarantine)
    assert rows["in"] == rows["out"] + rows["quarantined"]
    assert rows["reconciled"] is True
    assert set(tokenized["row"]) | set(quarantine["row"]) == set(range(10_000))
    assert not set(tokenized["row"]) & set(quarantine["row"])


def test_malformed_values_are_quarantined_with_reasons(loans_run: JobRun) -> None:
    quarantine = pd.read_parquet(loans_run.out / "quarantine.parquet").set_index("row")
    raw = loans_run.raw
    expected: dict[int, set[str]] = {}
    for column, is_bad in MALFORMED.items():
        for position in np.flatnonzero(raw[column].map(is_bad).to_numpy()):
            expected.setdefault(int(position), set()).add(column)
    assert 30 <= len(expected) <= 100  # about 0.5% of the rows, as documented
    assert set(quarantine.index) == set(expected)
    named = quarantine["column"].astype(str).str.split("; ")
    for row, columns in expected.items():
        assert set(named.loc[row]) == columns
    assert quarantine["reason"].astype(str).str.len().gt(0).all()
    assert quarantine["key_id"].eq("quarantine").all()


def test_outputs_keep_row_numbers_and_column_names(loans_run: JobRun) -> None:
    tokenized = pd.read_parquet(loans_run.out / "tokenized.parquet")
    assert list(tokenized.columns) == ["row", *loans_run.raw.columns]
    scores = pd.read_parquet(loans_run.out / "scores.parquet")
    assert list(scores.columns) == ["row", "score", "decision"]
    assert set(scores["row"]) <= set(tokenized["row"])
    assert scores["score"].between(0, 1).all()
    assert set(scores["decision"]) <= {"approve", "decline"}
    sample = tokenized.set_index("row").head(50)
    assert (
        sample["loan_amount"].astype(str) == loans_run.raw.loc[sample.index, "loan_amount"]
    ).all()


def _find_leaks(
    out: Path, logs: dict[str, str], raw: pd.DataFrame
) -> tuple[list[tuple[str, str, int]], list[str]]:
    """Return ``(leaks, columns of chance hits)`` over every output file and the logs.

    Format-preserving tokens live in the same space as the values, so a raw value can turn
    up inside somebody else's token by chance (a date token that is another customer's real
    birth date; ten digits of a phone number inside an IBAN token). Such a hit is accepted
    only in a PII token cell of a row that does not hold that raw value; anything else,
    anywhere else (bytes of any file, decoded cells, logs), is a leak.
    """
    files = sorted(p for p in out.rglob("*") if p.is_file())
    automaton = _raw_values(raw)
    holders = {value: rows for _, (value, rows) in automaton.items()}
    leaks: list[tuple[str, str, int]] = []
    chance: set[str] = set()
    chance_columns: list[str] = []
    for path in (p for p in files if p.suffix == ".parquet"):
        for column, row, value in _cell_hits(path, automaton):
            if column in PII and row >= 0 and row not in holders[value]:
                chance.add(value)
                chance_columns.append(column)
            else:
                leaks.append((path.name, column, row))
    texts = {p.name: p.read_bytes().decode("latin-1") for p in files} | logs
    for name, text in texts.items():
        for _, (value, _) in automaton.iter(text):
            if not (name.endswith(".parquet") and value in chance):
                leaks.append((name, "bytes", -1))
    return leaks, chance_columns


def test_no_raw_identifier_in_any_output_or_log(loans_run: JobRun) -> None:
    names = {p.name for p in loans_run.out.rglob("*") if p.is_file()}
    assert names == {
        "tokenized.parquet",
        "scores.parquet",
        "quarantine.parquet",
        "report.json",
        "report.txt",
        "roc.png",
        "precision_recall.png",
        "manifest.json",
        "manifest.pub",
    }
    logs = {"stdout": loans_run.stdout, "stderr": loans_run.stderr}
    leaks, chance_columns = _find_leaks(loans_run.out, logs, loans_run.raw)
    assert not leaks
    # Dates are a small domain, so their tokens often equal other people's birth dates;
    # anywhere else a coincidence is rare, and many would mean values pass through.
    assert sum(column != "date_of_birth" for column in chance_columns) < 20
    tokenized = pd.read_parquet(loans_run.out / "tokenized.parquet").set_index("row")
    for column in PII:
        same = tokenized[column] == loans_run.raw.loc[tokenized.index, column]
        assert same.sum() <= 2, f"{column}: tokens equal to their own raw value"


def test_leak_search_finds_a_planted_value(loans_run: JobRun, tmp_path: Path) -> None:
    shutil.copytree(loans_run.out, tmp_path / "out")
    tokenized = pd.read_parquet(tmp_path / "out" / "tokenized.parquet")
    row = int(tokenized["row"].iloc[10])
    raw_phone, raw_ssn = (str(loans_run.raw[c].iloc[row]) for c in ("phone", "ssn"))
    tokenized.loc[10, "emp_title"] = f"call {raw_phone}"
    tokenized.to_parquet(tmp_path / "out" / "tokenized.parquet", index=False)
    leaks, _ = _find_leaks(tmp_path / "out", {"log": ""}, loans_run.raw)
    assert ("tokenized.parquet", "emp_title", row) in leaks
    leaks, _ = _find_leaks(loans_run.out, {"log": raw_ssn}, loans_run.raw)
    assert leaks == [("log", "bytes", -1)]


def test_manifest_states_protection_metrics_and_timings(loans_run: JobRun) -> None:
    manifest = predicate(loans_run.out)
    for column, kind in PII.items():
        entry = manifest["protection"][column]
        assert entry["kind"] == kind
        assert entry["key_id"] == f"tokenize.{kind}"
        assert entry["key_version"] == 1
    model = manifest["model"]
    assert model["auc_plaintext"] > 0.6
    assert abs(model["auc_plaintext"] - model["auc_encrypted"]) < 1e-4
    assert model["max_abs_score_diff"] < 1e-4
    assert set(manifest["timings_s"]) >= {"tokenize", "train", "encrypt_and_score"}
    assert manifest["code"]["finveil_version"]
    assert len(manifest["code"]["package_sha256"]) == 64


def test_no_key_material_in_outputs_or_logs(loans_run: JobRun) -> None:
    home = loans_run.out.parent / "home"
    keyring = KeyRing.open(home / "keyring.json", root_key_file=home / "keyring.root")
    manifest = predicate(loans_run.out)
    key_ids = {entry["key_id"] for entry in manifest["protection"].values()} | {"quarantine"}
    blobs = [p.read_bytes() for p in loans_run.out.rglob("*") if p.is_file()]
    blobs += [loans_run.stdout.encode(), loans_run.stderr.encode()]
    for key_id in key_ids:
        secret = keyring.primary(key_id).secret
        for form in (secret, secret.hex().encode(), base64.b64encode(secret)):
            assert not any(form in blob for blob in blobs), key_id


def test_keyring_is_private(loans_run: JobRun) -> None:
    keyring = loans_run.out.parent / "home" / "keyring.json"
    assert stat.S_IMODE(keyring.stat().st_mode) == 0o600
    assert "keyring" in loans_run.stderr


def test_key_versions_in_use_cannot_be_retired(loans_run: JobRun) -> None:
    home = loans_run.out.parent / "home"
    keyring = KeyRing.open(home / "keyring.json", root_key_file=home / "keyring.root")
    job_id = predicate(loans_run.out)["job"]["id"]
    assert job_id in keyring.datasets_using("tokenize.pan", 1)
    assert job_id in keyring.datasets_using("quarantine", 1)


def test_signed_manifest_verifies_with_the_keyring_key_and_audit_log(
    loans_run: JobRun, tmp_path: Path
) -> None:
    home = loans_run.out.parent / "home"
    keyring = KeyRing.open(home / "keyring.json", root_key_file=home / "keyring.root")
    public = Ed25519PrivateKey.from_private_bytes(keyring.primary("manifest").secret).public_key()
    report = verify_manifest(
        loans_run.out / "manifest.json",
        public_key=public,
        audit_path=home / "audit.jsonl",
        audit_key=keyring.primary("audit"),
    )
    assert report.is_key_pinned
    assert report.predicate["job"]["kind"] == "run"
    assert report.predicate["inputs"][0]["fingerprint"]["alg"] == "hmac-sha256"
    shutil.copytree(loans_run.out, tmp_path / "out")
    scores = tmp_path / "out" / "scores.parquet"
    scores.write_bytes(scores.read_bytes()[:-1] + b"\x00")
    with pytest.raises(IntegrityError, match=r"scores\.parquet"):
        verify_manifest(tmp_path / "out" / "manifest.json", public_key=public)
