from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.errors import KeyManagementError
from engine.keys import AuditLog, KeyPurpose, KeyRing, KeyState
from engine.keys.backends import FileBackend

_ROTATOR = """
import sys, time
from pathlib import Path
from engine.keys import KeyRing
ring_path, root, audit, rounds, ready, go = sys.argv[1:]
ring = KeyRing.open(Path(ring_path), root_key_file=Path(root), audit_path=Path(audit),
                    principal=Path(ready).name)
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.001)
versions = []
for _ in range(int(rounds)):
    versions.append(ring.rotate("tokenize.pan"))
    time.sleep(0.002)  # let the other process in between rotations
print(" ".join(map(str, versions)))
"""


def test_concurrent_rotation_from_two_processes_loses_no_version(
    ring: KeyRing, ring_path: Path, root_file: Path, tmp_path: Path
) -> None:
    rounds = 15
    audit = tmp_path / "audit.jsonl"
    go = tmp_path / "go"
    readies = [tmp_path / f"worker-{i}" for i in range(2)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _ROTATOR, str(ring_path), str(root_file), str(audit),
             str(rounds), str(ready), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for ready in readies
    ]  # fmt: skip
    deadline = time.monotonic() + 60
    while not all(r.exists() for r in readies):
        assert time.monotonic() < deadline, "workers did not start"
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.01)
    go.touch()
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        outputs.append([int(v) for v in out.split()])
    got = outputs[0] + outputs[1]
    # The two processes really interleaved (otherwise the lock was never contended).
    assert max(outputs[0]) > min(outputs[1])
    assert max(outputs[1]) > min(outputs[0])
    assert len(set(got)) == 2 * rounds  # no version handed out twice
    assert sorted(got) == list(range(2, 2 * rounds + 2))
    info = KeyRing.open(ring_path, root_key_file=root_file).info("tokenize.pan")
    assert [v.version for v in info.versions] == list(range(1, 2 * rounds + 2))
    assert [v.state for v in info.versions].count(KeyState.PRIMARY) == 1
    assert info.primary_version == 2 * rounds + 1
    secrets = {ring.get("tokenize.pan", v.version).secret for v in info.versions}
    assert len(secrets) == 2 * rounds + 1
    # Both processes audited into one log; the chain is intact.
    head = AuditLog.verify(audit, ring.primary("audit"))
    rotations = audit.read_text().count('"action":"key.rotate"')
    assert rotations == 2 * rounds
    assert head.entries >= 2 * rounds


def test_create_refuses_existing(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path / "k.json")
    assert not backend.exists()
    backend.create(b"one")
    assert backend.exists()
    with pytest.raises(KeyManagementError, match="already exists"):
        backend.create(b"two")
    assert backend.load() == b"one"
    assert backend.location == str(tmp_path / "k.json")


def test_failing_transform_writes_nothing(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path / "k.json")
    backend.create(b"one")

    def boom(raw: bytes) -> bytes:
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        backend.update(boom)
    assert backend.load() == b"one"
    backend.update(lambda raw: raw + b"+")
    assert backend.load() == b"one+"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.json", "k.json.lock"]


def test_lock_timeout(tmp_path: Path) -> None:
    import fcntl

    backend = FileBackend(tmp_path / "k.json", lock_timeout_s=0.05)
    backend.create(b"x")
    fd = os.open(backend.lock_path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        # flock locks belong to the open file description, so a second open contends.
        with pytest.raises(KeyManagementError, match="timed out"):
            backend.update(lambda raw: raw)
    finally:
        os.close(fd)
    backend.update(lambda raw: b"y")
    assert backend.load() == b"y"


def test_unreadable_directory_errors(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path / "missing-dir" / "k.json")
    with pytest.raises(KeyManagementError, match="lock"):
        backend.create(b"x")
    with pytest.raises(KeyManagementError, match="no keyring"):
        backend.load()


def test_ensure_under_contention_creates_once(
    ring: KeyRing, ring_path: Path, root_file: Path
) -> None:
    a = KeyRing.open(ring_path, root_key_file=root_file)
    b = KeyRing.open(ring_path, root_key_file=root_file)
    ka = a.ensure("quarantine", KeyPurpose.QUARANTINE)
    kb = b.ensure("quarantine", KeyPurpose.QUARANTINE)
    assert ka == kb
