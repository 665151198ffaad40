"""``finveil enclave measure | sign | run | verify`` through the command module's parser."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from enclaves.apps import app_dir
from engine.commands import enclave
from engine.errors import AttestationError, ConfigError
from tests.enclaves.conftest import copy_app

NONCE = "00112233445566778899aabbccddeeff"


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="finveil")
    enclave.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["enclave", *argv])
    code: int = args.handler(args)
    return code


@pytest.fixture(scope="module")
def signed_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    app = copy_app(app_dir("echo"), root / "echo")
    assert run("sign", str(app), "--key", str(root / "signer.pem"), "--new-key") == 0
    assert (root / "signer.pem").stat().st_mode & 0o077 == 0
    return app


def test_measure_prints_the_measurement(
    signed_app: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("measure", str(signed_app)) == 0
    measurement = capsys.readouterr().out.strip()
    assert len(bytes.fromhex(measurement)) == 32


def test_sign_with_existing_key(signed_app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = signed_app.parent / "signer.pem"
    assert run("sign", str(signed_app), "--key", str(key)) == 0
    assert "signer_id" in capsys.readouterr().out


def test_run_then_verify(
    signed_app: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    platform = tmp_path / "platform"
    quote = tmp_path / "quote.cose"
    assert (
        run(
            "run",
            str(signed_app),
            "--platform",
            str(platform),
            "--nonce",
            NONCE,
            "--quote-out",
            str(quote),
            "--call",
            "echo",
            "--args",
            '{"a": 1}',
        )
        == 0
    )
    out = capsys.readouterr().out
    assert '{"a": 1}' in out
    measurement = out.split()[1]
    policy = tmp_path / "policy.toml"
    policy.write_text(f'measurements = ["{measurement}"]\nallow_simulated = true\n')
    assert (
        run(
            "verify",
            str(quote),
            "--policy",
            str(policy),
            "--nonce",
            NONCE,
            "--platform",
            str(platform),
        )
        == 0
    )
    assert "ACCEPTED" in capsys.readouterr().out
    root = platform / "root_ca.pem"
    with pytest.raises(AttestationError, match="unknown"):
        run(
            "verify",
            str(quote),
            "--policy",
            str(policy),
            "--nonce",
            NONCE[::-1],
            "--root",
            str(root),
        )
    strict = tmp_path / "strict.json"
    strict.write_text(f'{{"measurements": ["{measurement}"]}}')
    with pytest.raises(AttestationError, match="simulated platform not allowed"):
        run("verify", str(quote), "--policy", str(strict), "--nonce", NONCE, "--root", str(root))


def test_bad_arguments(signed_app: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--nonce"):
        run("run", str(signed_app), "--platform", str(tmp_path / "p"), "--nonce", "zz")
    with pytest.raises(ConfigError, match="policy"):
        run(
            "verify",
            str(tmp_path / "q"),
            "--policy",
            str(tmp_path / "missing.toml"),
            "--nonce",
            NONCE,
            "--platform",
            str(tmp_path / "p"),
        )
