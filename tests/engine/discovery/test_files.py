"""Bad input: binary, encodings, huge lines, compressed, unreadable, symlink loops."""

from __future__ import annotations

import builtins
import bz2
import gzip
import os
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from engine.discovery import _files, scan

PAN = "4111111111111111"


def reasons(root: Path) -> dict[str, str]:
    return {Path(s.source).name: s.reason for s in scan(root).skipped}


def test_binary_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01" * 100 + PAN.encode())
    assert reasons(tmp_path) == {"blob.bin": "binary file"}


def test_latin1_and_utf16(tmp_path: Path) -> None:
    (tmp_path / "l1.txt").write_bytes("Müller card 4111 1111 1111 1111\n".encode("latin-1"))
    (tmp_path / "u16.txt").write_text("card 4111111111111111\n", encoding="utf-16")
    report = scan(tmp_path)
    assert sorted(Path(f.source).name for f in report.findings) == ["l1.txt", "u16.txt"]
    assert [n.reason for n in report.notes] == ["not UTF-8; scanned as 8-bit text"]


def test_huge_single_line_across_windows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_files, "CHUNK_BYTES", 4096)
    filler = "x" * 4090
    text = (filler + " " + PAN + " ") * 5 + "\nnext ssn 123-45-6789\n"
    (tmp_path / "huge.log").write_text(text)
    report = scan(tmp_path)
    pans = [f for f in report.findings if f.kind.value == "pan"]
    assert [(f.line, f.offset) for f in pans] == [(1, 4091 + i * 4108) for i in range(5)]
    assert [f.line for f in report.findings if f.kind.value == "ssn"] == [2]


def test_compressed_files_scanned_inside(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "a.log.gz", "wt") as fh:
        fh.write(f"card {PAN}\n")
    (tmp_path / "b.csv.bz2").write_bytes(bz2.compress(b"email,x\njo.doe@example.com,1\n"))
    (tmp_path / "c.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    with zipfile.ZipFile(tmp_path / "d.zip", "w") as zf:
        zf.writestr("x.txt", PAN)
    report = scan(tmp_path)
    assert sorted((Path(f.source).name, f.kind.value) for f in report.findings) == [
        ("a.log.gz", "pan"), ("b.csv.bz2", "email")]  # fmt: skip
    got = {Path(s.source).name: s.reason for s in report.skipped}
    assert got["c.gz"].startswith("corrupt compressed file")
    assert got["d.zip"] == "archive (zip) not scanned"


def test_symlink_loop_broken_link_and_fifo(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text(f"card {PAN}\n")
    os.symlink(tmp_path, tmp_path / "sub" / "loop")
    os.symlink(tmp_path / "missing", tmp_path / "dangling")
    os.symlink(tmp_path / "self", tmp_path / "self")
    os.mkfifo(tmp_path / "pipe")
    report = scan(tmp_path)
    assert len(report.findings) == 1
    got = {Path(s.source).name: s.reason for s in report.skipped}
    assert got == {
        "loop": "symlink loop: directory already visited",
        "dangling": "broken symlink",
        "self": "symlink loop",
        "pipe": "not a regular file (device, FIFO or socket)",
    }


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "secret.txt"
    target.write_text(PAN)
    real_open = builtins.open

    def fake_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if str(file) == str(target):
            raise PermissionError(13, "Permission denied")
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    assert reasons(tmp_path) == {"secret.txt": "permission denied"}


def test_structured_formats(tmp_path: Path) -> None:
    pd.DataFrame({"card": [PAN, "x"], "n": [1, 2]}).to_parquet(tmp_path / "t.parquet")
    (tmp_path / "e.jsonl").write_text('{"email": "jo.doe@example.com"}\nnot json 123-45-6789\n')
    (tmp_path / "bad.json").write_text('{"a": "ssn 123-45-6789"')
    (tmp_path / "semi.csv").write_text("name;ssn\nJane Doe;123456789\n")
    found = sorted(
        (Path(f.source).name, f.kind.value, f.row, f.column) for f in scan(tmp_path).findings
    )
    assert found == [
        ("bad.json", "ssn", None, None),
        ("e.jsonl", "email", 0, "$.email"),
        ("e.jsonl", "ssn", 1, "$._line"),
        ("semi.csv", "name", 0, "name"),
        ("semi.csv", "ssn", 0, "ssn"),
        ("t.parquet", "pan", 0, "card"),
    ]


def test_unexpected_parser_error_is_a_skip_without_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.json").write_text('{"ssn": "123-45-6789"}')
    (tmp_path / "deep.json").write_text("[" * 50_000 + "]" * 50_000)

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("123-45-6789")

    monkeypatch.setattr(_files, "scan_json", boom)
    report = scan(tmp_path)
    assert report.findings == ()
    got = {Path(s.source).name: s.reason for s in report.skipped}
    assert got["a.json"] == "could not be scanned (KeyError)"
    assert "123-45-6789" not in repr(report)
