from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.keys import AccessPolicy, KeyPurpose, KeyRing
from engine.keys._local import STANDARD_KEYS, open_local
from engine.service import BackgroundServer, Sidecar, SidecarOptions, create_app

PANS = ["4111111111111111", "5500005555555559", "340000000000009", "6011000000000004"]
EMAILS = ["jane.doe@example.com", "r.roe@bank.example"]
POLICY = {
    "roles": {
        "analyst": {
            "kinds": ["pan", "email"],
            "purposes": ["fraud-investigation"],
            "max_rows": 100,
        }
    },
    "principals": {
        "alice": {"roles": ["analyst"]},
        "bob": {"roles": ["analyst"], "approver": True},
    },
}
CLIENTS = ("alice", "bob", "payments")


class LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        if record.exc_info:
            self.lines.append(logging.Formatter().formatException(record.exc_info))

    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass
class Running:
    url: str
    ring: KeyRing
    keys: dict[str, bytes]
    logs: LogCapture
    keyring_path: Path


def make_ring(root: Path) -> tuple[KeyRing, Path, dict[str, bytes]]:
    path = root / "keyring.json"
    ring, _ = open_local(path, create=True, root_key_file=root / "keyring.root")
    for key_id, purpose in STANDARD_KEYS:
        ring.ensure(key_id, purpose)
    keys = {c: ring.ensure(f"client.{c}", KeyPurpose.CLIENT).secret for c in CLIENTS}
    return ring, path, keys


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    ring, path, keys = make_ring(tmp_path_factory.mktemp("sidecar"))
    options = SidecarOptions(max_body_bytes=64 * 1024, max_values=2000, replay_window_s=60)
    app = create_app(Sidecar(ring, AccessPolicy.from_mapping(POLICY), options=options))
    capture = LogCapture()
    # The server's loggers only (the client's httpx logs are not the server's output).
    loggers = [logging.getLogger(n) for n in ("engine", "uvicorn", "uvicorn.access")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.addHandler(capture)
    try:
        with BackgroundServer(app) as server:
            yield Running(url=server.url, ring=ring, keys=keys, logs=capture, keyring_path=path)
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(capture)
            lg.setLevel(level)
