from __future__ import annotations

import hashlib
import stat
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

import engine.cli as cli
from engine.compliance import fingerprint_file, verify_manifest
from engine.compliance._dsse import public_key_pem
from engine.errors import IntegrityError
from engine.keys import KeyPurpose, KeyRing
from engine.smpc import parse_spec
from tests.engine.smpc._harness import Cluster


@pytest.fixture(autouse=True)
def only_smpc_commands(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(cli, "_COMMAND_MODULES", ("smpc",))
    # join opens the default keyring for its manifest: keep it out of the real home.
    monkeypatch.setenv("FINVEIL_HOME", str(tmp_path / "fv"))


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


def test_join_writes_a_signed_manifest_over_the_result(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    spec = _session(tmp_path)
    codes: dict[str, int] = {}

    def party(name: str, values: str) -> None:
        (tmp_path / f"{name}.csv").write_text(f"amount\n{values}\n", encoding="utf-8")
        codes[name] = cli.main([str(a) for a in (
            "smpc", "join", "--session", spec, "--party", name,
            "--input", tmp_path / f"{name}.csv", "--result", tmp_path / f"{name}.json",
            "--keyring", tmp_path / f"{name}-keys" / "keyring.json",
        )])  # fmt: skip

    threads = [
        threading.Thread(target=party, args=("bank_a", "10\n20")),
        threading.Thread(target=party, args=("bank_b", "30")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert codes == {"bank_a": 0, "bank_b": 0}
    manifest = tmp_path / "bank_a.json.finveil-smpc"
    assert f"signed manifest {manifest}" in capsys.readouterr().out
    ring, _ = KeyRing.open_default(tmp_path / "bank_a-keys" / "keyring.json")
    pub = public_key_pem(ring.ensure("manifest", KeyPurpose.MANIFEST))
    report = verify_manifest(manifest, public_key=pub)
    assert report.subjects.keys() == {"bank_a.json"}
    p = report.predicate
    assert p["job"]["kind"] == "smpc-session"
    assert p["rows"] == {"in": 2, "out": 2, "quarantined": 0, "reconciled": True}
    smpc = p["smpc"]
    parsed = parse_spec(spec.read_text())
    assert smpc["session_id"] == parsed.session_id
    assert smpc["spec_sha256"] == parsed.spec_hash.hex()
    assert smpc["output_policy"] == {"reveal_to": ["bank_a", "bank_b"], "revealed_to_us": True}
    assert [q["cert_sha256"] for q in smpc["parties"]] == [
        n.fingerprint.removeprefix("sha256:") for n in parsed.parties
    ]
    assert smpc["dealer"]["mode"] == "process"
    key = ring.ensure("manifest.fingerprint", KeyPurpose.MANIFEST)
    assert p["inputs"] == [
        {"name": str(tmp_path / "bank_a.csv"),
         "fingerprint": fingerprint_file(tmp_path / "bank_a.csv", key)}
    ]  # fmt: skip
    assert "10\n20" not in (manifest / "manifest.json").read_text()
    # The result is the signed output: changing it fails verification.
    result = tmp_path / "bank_a.json"
    result.write_text(result.read_text().replace('"count": 3', '"count": 4'), encoding="utf-8")
    with pytest.raises(IntegrityError, match=r"bank_a\.json: sha256 differs"):
        verify_manifest(manifest, public_key=pub)
