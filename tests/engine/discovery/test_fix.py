from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from engine.discovery import scan
from engine.discovery.pipeline import remediate, scan_located, settings_for
from engine.keys import KeyMaterial
from engine.tokenize import Kind

KEYS = {
    k: KeyMaterial(key_id=f"tokenize.{k.value}", version=1, secret=bytes(range(32))) for k in Kind
}
PAN = "4111111111111111"


def _fix(root: Path) -> list[str]:
    results = scan_located(root, settings_for())
    return [a.action for a in remediate(results, keys=KEYS, audit=None, principal="test")]


def test_csv_and_parquet_tokenized_in_place(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text(f"card,note,n\n{PAN},call +44 20 7946 0958 now,1\nx,ok,2\n")
    pd.DataFrame({"iban": ["DE89370400440532013000", "-"], "k": [1, 2]}).to_parquet(
        tmp_path / "p.parquet"
    )
    assert sorted(_fix(tmp_path)) == ["tokenized", "tokenized"]
    csv_text = (tmp_path / "c.csv").read_text()
    assert PAN not in csv_text
    assert "7946 0958" not in csv_text
    df = pd.read_csv(tmp_path / "c.csv", dtype=str)
    assert df["card"][0][:6] == "411111"  # PAN token keeps first 6 / last 4
    assert df["card"][0][-4:] == "1111"
    assert df["note"][0].startswith("call +44 ")
    assert df["note"][0].endswith(" now")
    assert df["n"].tolist() == ["1", "2"]
    assert pd.read_parquet(tmp_path / "p.parquet")["iban"][0].startswith("DE0")
    assert scan(tmp_path, kinds=["pan", "iban"]).findings == ()  # tokens fail Luhn / mod-97
    assert not list(tmp_path.glob(".*tmp"))


def test_text_and_json_get_redacted_copies(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text(f"x card {PAN} y\nssn 123-45-6789\n")
    (tmp_path / "e.json").write_text(json.dumps([{"email": "jo.doe@example.com", "k": 1}]))
    assert sorted(_fix(tmp_path)) == ["redacted", "redacted"]
    assert (tmp_path / "a.redacted.log").read_text() == (
        "x card [pan:411111******1111] y\nssn [ssn:***-**-6789]\n"
    )
    doc = json.loads((tmp_path / "e.redacted.json").read_text())
    assert doc == [{"email": "[email:j***@e***.com]", "k": 1}]
    assert PAN in (tmp_path / "a.log").read_text()  # the original is untouched
