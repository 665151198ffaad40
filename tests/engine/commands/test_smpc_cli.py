from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

import engine.cli as cli
from tests.engine.smpc._harness import Cluster


@pytest.fixture(autouse=True)
def only_smpc_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_COMMAND_MODULES", ("smpc",))


def _run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_keygen_prints_the_pinned_fingerprint(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = _run(capsys, "smpc", "keygen", "--party", "bank_a", "--out", tmp_path)
    assert code == 0
    cert = x509.load_pem_x509_certificate((tmp_path / "bank_a.crt").read_bytes())
    assert out.strip() == "sha256:" + hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()
    assert stat.S_IMODE((tmp_path / "bank_a.key").stat().st_mode) == 0o600
    code, _, err = _run(capsys, "smpc", "keygen", "--party", "bank_a", "--out", tmp_path)
    assert code == 1
    assert "already exists" in err


def _session(tmp_path: Path, computation: str = "mean") -> Path:
    cluster = Cluster.create(tmp_path, ["bank_a", "bank_b"])
    spec = tmp_path / "session.toml"
    spec.write_text(cluster.spec_text(computation, timeout_s=2), encoding="utf-8")
    return spec


@pytest.mark.parametrize(
    ("csv", "party", "message"),
    [
        ("balance\n1\n", "bank_a", "lacks column 'amount'"),
        ("amount\n1\n1e300\n", "bank_a", "row 1 is missing or outside the fixed-point range"),
        ("amount,id\n1,a\n,b\n", "bank_a", "row 1 is missing"),
        ("amount\n1\n", "bank_z", "unknown party 'bank_z'"),
    ],
)
def test_join_reports_bad_input_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, csv: str, party: str, message: str
) -> None:
    spec = _session(tmp_path)
    (tmp_path / "in.csv").write_text(csv, encoding="utf-8")
    result = tmp_path / "out.json"
    code, _, err = _run(
        capsys,
        "smpc",
        "join",
        "--session",
        spec,
        "--party",
        party,
        "--input",
        tmp_path / "in.csv",
        "--result",
        result,
    )
    assert code == 1
    assert message in err
    assert "1e300" not in err
    assert not result.exists()


def test_join_needs_an_identity_and_a_readable_spec(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    spec = _session(tmp_path)
    (tmp_path / "in.csv").write_text("amount\n1\n", encoding="utf-8")
    args: list[str | Path] = [
        "--party",
        "bank_a",
        "--input",
        tmp_path / "in.csv",
        "--result",
        tmp_path / "o.json",
    ]
    code, _, err = _run(
        capsys, "smpc", "join", "--session", spec, "--keys", tmp_path / "none", *args
    )
    assert code == 1
    assert "no identity file" in err
    code, _, err = _run(capsys, "smpc", "join", "--session", tmp_path / "missing.toml", *args)
    assert code == 1
    assert "cannot read session spec" in err


def test_dealer_refuses_a_spec_without_dealer(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    spec = _session(tmp_path)
    text = spec.read_text().split("[dealer]")[0]
    spec.write_text(text, encoding="utf-8")
    code, _, err = _run(capsys, "smpc", "dealer", "--session", spec)
    assert code == 1
    assert "no [dealer]" in err
