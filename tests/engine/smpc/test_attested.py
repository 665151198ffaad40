"""Dealer material from the attested dealer enclave, relayed by an untrusted host."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding

import engine.smpc._session as session_module
from enclaves.apps import app_dir
from enclaves.platform import SimulatedPlatform
from enclaves.runtime import SimulatedEnclave, sign_app
from engine.errors import ConfigError, SessionAborted
from engine.smpc import parse_spec
from engine.smpc.hazmat import DealerMode, PartyMaterial, client_id, fingerprint
from tests.enclaves.conftest import copy_app
from tests.engine.smpc._harness import DEALER, Cluster

NAMES = ["bank_a", "bank_b", "bank_c"]


def party_ids(cluster: Cluster) -> str:
    """Return the TOML list of the parties' client ids (for the dealer app's config)."""
    ids = []
    for name in cluster.names:
        pem = cluster.paths(name)[0].read_bytes()
        ids.append(client_id(x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)))
    return "[" + ", ".join(f'"{i.hex()}"' for i in ids) + "]"


def dealer_lines(measurement: bytes, root: x509.Certificate, *, extra: str = "") -> str:
    """Return the ``[dealer]`` lines of enclave mode pinning ``measurement`` and ``root``."""
    return "\n".join(
        [
            'mode = "enclave"',
            f'measurements = ["{measurement.hex()}"]',
            f'root_fingerprint = "{fingerprint(root.public_bytes(Encoding.DER))}"',
            "allow_simulated = true",
            "timeout_s = 15",
            extra,
        ]
    )


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> SimulatedPlatform:
    return SimulatedPlatform.open(tmp_path_factory.mktemp("platform") / "install")


@pytest.fixture(scope="module")
def signer() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Cluster:
    return Cluster.create(tmp_path_factory.mktemp("ids"), NAMES)


@pytest.fixture(scope="module")
def app(
    tmp_path_factory: pytest.TempPathFactory, cluster: Cluster, signer: Ed25519PrivateKey
) -> Path:
    path = copy_app(
        app_dir("dealer"), tmp_path_factory.mktemp("dealer") / "app", clients=party_ids(cluster)
    )
    sign_app(path, signer)
    return path


@pytest.fixture(scope="module")
def enclave(app: Path, platform: SimulatedPlatform) -> Iterator[SimulatedEnclave]:
    with SimulatedEnclave.load(app, platform=platform) as loaded:
        yield loaded


class _Spy:
    """Record every ``PartyMaterial`` a party expands, and whether any share was sent."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.materials: list[PartyMaterial] = []
        self.computed = 0
        expand, compute = session_module.expand, session_module._compute  # type: ignore[attr-defined]

        def spy_expand(material: PartyMaterial, *args: Any, **kwargs: Any) -> Any:
            self.materials.append(material)
            return expand(material, *args, **kwargs)

        async def spy_compute(*args: Any) -> Any:
            self.computed += 1  # the first step that sends a share
            return await compute(*args)

        monkeypatch.setattr(session_module, "expand", spy_expand)
        monkeypatch.setattr(session_module, "_compute", spy_compute)


def _inputs(rows: int = 48, seed: int = 7) -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return {n: {"amount": rng.uniform(0, 100, rows).round(2)} for n in NAMES}


def _spec(cluster: Cluster, computation: str, lines: str, *, sid: str, extra: str = "") -> str:
    return cluster.spec_text(
        computation, extra=extra, session_id=sid, timeout_s=30, dealer_lines=lines
    )


def test_enclave_is_the_default_dealer_mode(cluster: Cluster) -> None:
    bare = cluster.spec_text("threshold", extra="threshold = 1.0", dealer_lines="")
    with pytest.raises(ConfigError, match="measurements"):
        parse_spec(bare)
    with pytest.raises(ConfigError, match="unknown keys \\['allow_debug'\\]"):
        parse_spec(bare.replace("[dealer]", "[dealer]\nallow_debug = true"))
    assert parse_spec(cluster.spec_text("sum")).dealer_mode is DealerMode.PROCESS


def test_threshold_and_dot_from_the_enclave_dealer_match_numpy_host_sees_no_seed(
    cluster: Cluster,
    enclave: SimulatedEnclave,
    platform: SimulatedPlatform,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spy = _Spy(monkeypatch)
    lines = dealer_lines(enclave.measurement, platform.root_certificate)
    inputs = _inputs()
    transcript: list[bytes] = []
    out = cluster.run(
        _spec(cluster, "threshold", lines, sid="attested-threshold", extra="threshold = 150.0"),
        inputs,
        dealer_kwargs={
            "enclave": enclave,
            "root": platform.root_certificate,
            "transcript": transcript,
        },
    )
    total = np.sum([inputs[n]["amount"] for n in NAMES], axis=0)
    expected = [int(v) for v in total > 150.0]
    for name in NAMES:
        assert out[name]["flags"] == expected, out[name]
    assert out[DEALER] == 48
    # Every party expanded material it got from the enclave, and the host relayed it all.
    assert len(spy.materials) == 3
    relayed = b"".join(transcript)
    corrections = [w for m in spy.materials for w in m.corrections.values()]
    assert corrections
    assert sum(map(len, corrections)) < len(relayed)
    for material in spy.materials:
        assert material.seed not in relayed
    for words in corrections:
        for start in range(0, len(words) - 31, 256):
            assert words[start : start + 32] not in relayed
    # Dot with masks owned by parties 1 and 2 (not the default 0, 1): the app honours owners.
    x, y = inputs["bank_b"]["amount"], inputs["bank_c"]["amount"]
    dot = cluster.run(
        _spec(
            cluster,
            "dot",
            lines,
            sid="attested-dot",
            extra='bound = 1000.0\ndecimals = 2\nleft = "bank_b"\nright = "bank_c"',
        ),
        inputs,
        dealer_kwargs={"enclave": enclave, "root": platform.root_certificate},
    )
    for name in NAMES:
        assert dot[name]["dot"] == pytest.approx(float(np.dot(x, y)), abs=1e-6)


def _expect_every_party_aborts(
    out: dict[str, Any], spy: _Spy, reason: str, *, blame: str = DEALER
) -> None:
    own = 0
    for name in NAMES:
        exc = out[name]
        assert isinstance(exc, SessionAborted), (name, exc)
        assert exc.party == blame, (name, exc)
        # A party either refused the quote itself or was told by an aborting node first.
        own += reason in str(exc)
        assert reason in str(exc) or "aborted the session" in str(exc), (name, exc)
    assert own >= 1
    assert isinstance(out[DEALER], SessionAborted)
    assert spy.computed == 0, "a share was sent"
    assert not spy.materials


def test_tampered_dealer_app_makes_every_party_abort_before_any_share(
    cluster: Cluster,
    app: Path,
    enclave: SimulatedEnclave,
    platform: SimulatedPlatform,
    signer: Ed25519PrivateKey,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tampered = copy_app(app, tmp_path / "tampered")
    code = tampered / "app.py"
    code.write_bytes(
        code.read_bytes().replace(b"too many open sessions", b"too many open session!")
    )
    sign_app(tampered, signer)  # validly signed by the same signer: only the measurement differs
    lines = dealer_lines(enclave.measurement, platform.root_certificate)
    spy = _Spy(monkeypatch)
    with SimulatedEnclave.load(tampered, platform=platform) as evil:
        assert evil.measurement != enclave.measurement
        out = cluster.run(
            _spec(cluster, "threshold", lines, sid="tampered", extra="threshold = 1.0"),
            _inputs(),
            dealer_kwargs={"enclave": evil, "root": platform.root_certificate},
        )
    _expect_every_party_aborts(out, spy, "measurement and signer not allowed")


def test_debug_dealer_enclave_is_refused(
    cluster: Cluster, app: Path, platform: SimulatedPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = _Spy(monkeypatch)
    with SimulatedEnclave.load(app, platform=platform, is_debug=True) as debug:
        lines = dealer_lines(debug.measurement, platform.root_certificate)
        out = cluster.run(
            _spec(cluster, "threshold", lines, sid="debug", extra="threshold = 1.0"),
            _inputs(),
            dealer_kwargs={"enclave": debug, "root": platform.root_certificate},
        )
    _expect_every_party_aborts(out, spy, "debug enclave refused")


class _HostileHost:
    """A dealer host that replays an old quote or holds fresh quotes until they are stale."""

    def __init__(self, enclave: SimulatedEnclave, *, mode: str) -> None:
        self._enclave, self._mode = enclave, mode
        self._old = enclave.attest(b"n" * 32)  # a quote answering another verifier's nonce

    def attest(self, nonce: bytes) -> bytes:
        if self._mode == "replay":
            return self._old
        quote = self._enclave.attest(nonce)
        time.sleep(2.2)
        return quote

    def __getattr__(self, name: str) -> Any:
        return getattr(self._enclave, name)


@pytest.mark.parametrize(
    ("mode", "reason"), [("replay", "nonce is unknown"), ("stale", "quote is stale")]
)
def test_replayed_or_stale_quote_is_refused(
    cluster: Cluster,
    enclave: SimulatedEnclave,
    platform: SimulatedPlatform,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    reason: str,
) -> None:
    spy = _Spy(monkeypatch)
    lines = dealer_lines(enclave.measurement, platform.root_certificate, extra="max_age_s = 1")
    out = cluster.run(
        _spec(cluster, "threshold", lines, sid=f"hostile-{mode}", extra="threshold = 1.0"),
        _inputs(),
        dealer_kwargs={
            "enclave": _HostileHost(enclave, mode=mode),
            "root": platform.root_certificate,
        },
    )
    _expect_every_party_aborts(out, spy, reason)


def test_unpinned_platform_root_is_refused(
    cluster: Cluster,
    enclave: SimulatedEnclave,
    platform: SimulatedPlatform,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = SimulatedPlatform.open(tmp_path / "other")
    spy = _Spy(monkeypatch)
    lines = dealer_lines(enclave.measurement, other.root_certificate)
    out = cluster.run(
        _spec(cluster, "threshold", lines, sid="root", extra="threshold = 1.0"),
        _inputs(),
        dealer_kwargs={"enclave": enclave, "root": platform.root_certificate},
    )
    _expect_every_party_aborts(out, spy, "platform root the spec does not pin")


def test_host_without_an_enclave_is_a_config_error(cluster: Cluster) -> None:
    from engine.smpc import serve_dealer

    spec = parse_spec(
        cluster.spec_text(
            "threshold",
            extra="threshold = 1.0",
            dealer_lines=dealer_lines(b"\x01" * 32, _any_root(cluster)),
        )
    )
    cert, key = cluster.paths(DEALER)
    with pytest.raises(ConfigError, match="needs the dealer enclave"):
        serve_dealer(spec, cert=cert, key=key)


def _any_root(cluster: Cluster) -> x509.Certificate:
    return x509.load_pem_x509_certificate(cluster.paths(DEALER)[0].read_bytes())


def test_dealer_cli_needs_the_enclave_in_enclave_mode(
    cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import engine.cli as cli

    spec = tmp_path / "s.toml"
    lines = dealer_lines(b"\x01" * 32, _any_root(cluster))
    spec.write_text(cluster.spec_text("threshold", extra="threshold = 1.0", dealer_lines=lines))
    keys = ["--keys", str(cluster.root)]
    assert cli.main(["smpc", "dealer", "--session", str(spec), *keys]) != 0
    assert "--enclave" in capsys.readouterr().err
    process = tmp_path / "p.toml"
    process.write_text(cluster.spec_text("threshold", extra="threshold = 1.0"))
    args = ["smpc", "dealer", "--session", str(process), *keys, "--enclave", str(tmp_path)]
    assert cli.main(args) != 0
    assert "drop --enclave" in capsys.readouterr().err
