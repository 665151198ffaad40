"""``finveil serve`` as a real process: start, serve signed requests, stop cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import engine.cli as cli
from engine.service import Client
from tests.engine.service.conftest import PANS


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serve_and_client_add(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_COMMAND_MODULES", ("keys", "serve"))
    monkeypatch.delenv("FINVEIL_KEYRING_PASSPHRASE", raising=False)
    keyring = tmp_path / "keyring.json"
    assert cli.main(["keys", "init", "--keyring", str(keyring)]) == 0
    key_file = tmp_path / "alice.key"
    assert (
        cli.main(["client", "add", "alice", "--key-out", str(key_file), "--keyring", str(keyring)])
        == 0
    )
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert (
        cli.main(["client", "add", "alice", "--key-out", str(key_file), "--keyring", str(keyring)])
        == 1
    )  # Refuses to overwrite.
    assert (
        cli.main(
            [
                "client",
                "add",
                "Bad Name",
                "--key-out",
                str(tmp_path / "x"),
                "--keyring",
                str(keyring),
            ]
        )
        == 1
    )
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "engine.cli",
            "-v",
            "serve",
            "--keyring",
            str(keyring),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, "the server exited early"
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start in 20 s"
            time.sleep(0.1)
        with Client(url, "alice", bytes.fromhex(key_file.read_text())) as alice:
            tokens = alice.tokenize("pan", PANS, column="pan")["tokens"]
            assert len(tokens) == len(PANS)
            # No policy file: deny by default.
            with pytest.raises(Exception, match="HTTP 403"):
                alice.detokenize(
                    "pan",
                    tokens,
                    column="pan",
                    purpose="fraud-investigation",
                    justification="case FR-2026-0042",
                )
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=15)
    text = output.decode()
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert proc.returncode in (0, -signal.SIGTERM)
    assert "Finished server process" in text
    assert "POST /v1/tokenize" in text
    assert not [p for p in PANS if p in text]
