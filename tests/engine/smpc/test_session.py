"""Sessions over real mutual-TLS sockets on 127.0.0.1, parties in threads of this process."""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.errors import ConfigError, InputError, SessionAborted
from engine.smpc import generate_identity, join_session, parse_spec
from engine.smpc._session import _hello
from engine.smpc._transport import Mesh
from tests.engine.smpc._harness import Cluster

NAMES = ["bank_a", "bank_b", "bank_c"]
RNG = np.random.default_rng(11)


@pytest.fixture
def cluster(tmp_path: Path) -> Cluster:
    return Cluster.create(tmp_path, NAMES)


def _amounts(sizes: tuple[int, ...] = (40, 55, 30)) -> dict[str, dict[str, np.ndarray]]:
    return {
        name: {"amount": RNG.uniform(-500, 5000, size).round(2)}
        for name, size in zip(NAMES, sizes, strict=True)
    }


def test_joint_statistics_match_numpy(cluster: Cluster) -> None:
    inputs = _amounts()
    joint = np.concatenate([v["amount"] for v in inputs.values()])
    tol = 3 * 0.5 / 2**16 * joint.size  # rounding of each value, documented in docs/smpc.md
    out = cluster.run(cluster.spec_text("variance", reveal_to=["bank_a", "bank_c"]), inputs)
    assert out["bank_b"] == {}
    for name in ("bank_a", "bank_c"):
        assert out[name]["count"] == joint.size
        assert out[name]["mean"] == pytest.approx(joint.mean(), abs=tol / joint.size)
        assert out[name]["variance"] == pytest.approx(joint.var(), rel=1e-6)
    money = cluster.run(cluster.spec_text("sum", extra="decimals = 2"), inputs)
    # Exact in minor units: the sum of cents, no rescaling.
    assert round(money["bank_b"]["sum"] * 100) == int(np.rint(joint * 100).astype(np.int64).sum())
    hist = cluster.run(
        cluster.spec_text("histogram", extra="buckets = [0, 100, 1000, 10000]"), inputs
    )
    expected, _ = np.histogram(joint[(joint >= 0)], bins=[0, 100, 1000, 10000])
    assert hist["bank_a"]["counts"] == expected.tolist()


def test_threshold_flags_reveal_only_bits(cluster: Cluster) -> None:
    inputs = {n: {"amount": RNG.uniform(0, 100, 64).round(3)} for n in NAMES}
    total = np.sum([v["amount"] for v in inputs.values()], axis=0)
    out = cluster.run(
        cluster.spec_text("threshold", extra="threshold = 150.0", reveal_to=["bank_b"]), inputs
    )
    assert out["dealer"] == 64
    assert out["bank_a"] == {}
    assert out["bank_c"] == {}
    assert out["bank_b"]["flags"] == (total > 150.0).tolist()
    assert out["bank_b"]["flagged"] == int((total > 150.0).sum())


def test_logreg_scoring_with_features_split_across_banks(cluster: Cluster) -> None:
    rows = 50
    inputs = {
        "bank_a": {"income": RNG.uniform(0, 10, rows)},
        "bank_b": {"debt": RNG.uniform(0, 5, rows), "age": RNG.uniform(18, 90, rows)},
        "bank_c": {"unused": np.zeros(rows)},
    }
    model = (
        '[[feature]]\nparty = "bank_a"\ncolumn = "income"\nweight = 0.4\n'
        '[[feature]]\nparty = "bank_b"\ncolumn = "debt"\nweight = -0.9\n'
        '[[feature]]\nparty = "bank_b"\ncolumn = "age"\nweight = 0.01\n[model]\nintercept = -0.5\n'
    )
    z = (
        -0.5
        + 0.4 * inputs["bank_a"]["income"]
        - 0.9 * inputs["bank_b"]["debt"]
        + 0.01 * inputs["bank_b"]["age"]
    )
    prob = 1 / (1 + np.exp(-z))
    scores = cluster.run(cluster.spec_text("logreg-score", tail=model), inputs)
    assert np.allclose(scores["bank_c"]["score"], prob, atol=1e-4)
    flags = cluster.run(
        cluster.spec_text("logreg-score", extra="threshold = 0.6", tail=model), inputs
    )
    assert flags["bank_a"]["flags"] == (prob > 0.6).tolist()


def test_dot_product_between_two_banks_with_a_helper(cluster: Cluster) -> None:
    rows = 300
    x, y = RNG.uniform(-1000, 1000, rows).round(2), RNG.uniform(-1000, 1000, rows).round(2)
    inputs = {"bank_a": {"amount": x}, "bank_b": {"amount": y}, "bank_c": {}}
    out = cluster.run(cluster.spec_text("dot", extra="bound = 1000.0\ndecimals = 2"), inputs)
    exact = int(np.sum(np.rint(x * 100).astype(object) * np.rint(y * 100).astype(object)))
    assert round(out["bank_c"]["dot"] * 10**4) == exact


def test_psi_reveals_only_the_intersection(cluster: Cluster) -> None:
    common = [f"4000{i:012d}" for i in range(7)]
    inputs = {
        n: {"amount": np.array(common + [f"{n}-{i}" for i in range(9)], dtype=object)}
        for n in NAMES
    }
    out = cluster.run(cluster.spec_text("psi", reveal_to=["bank_a"]), inputs)
    assert sorted(out["bank_a"]["intersection"]) == common
    assert out["bank_b"] == {}
    assert out["bank_c"] == {}
    sizes = cluster.run(cluster.spec_text("psi-size"), inputs)
    assert sizes["bank_c"] == {"intersection_size": 7}


@pytest.mark.parametrize(
    ("computation", "inputs", "message"),
    [
        ("mean", {"balance": np.ones(3)}, "lacks column 'amount'"),
        ("mean", {"amount": np.array([1.0, 1e30])}, "row 1 is missing or outside"),
        ("sum", {"amount": np.array([1.0, np.nan])}, "row 1 is missing"),
        ("sum", {"amount": np.array(["1.5", "x"], dtype=object)}, "not numeric"),
        ("dot", {"amount": np.array([1.0, 5000.0])}, "row 1 exceeds the session bound"),
    ],
)
def test_bad_input_fails_before_any_connection(
    cluster: Cluster, computation: str, inputs: dict[str, np.ndarray], message: str
) -> None:
    spec = parse_spec(cluster.spec_text(computation, extra="bound = 1000.0"))
    cert, key = cluster.paths("bank_a")
    start = time.monotonic()
    with pytest.raises(InputError, match=message):
        join_session(spec, party="bank_a", inputs=inputs, cert=cert, key=key)
    assert time.monotonic() - start < 1  # no peer is running: nothing was even attempted


def test_unknown_party_fails_before_any_connection(cluster: Cluster) -> None:
    cert, key = cluster.paths("bank_a")
    with pytest.raises(ConfigError, match="unknown party"):
        join_session(
            parse_spec(cluster.spec_text("sum")), party="bank_x", inputs={}, cert=cert, key=key
        )


def test_different_input_lengths_abort_before_shares(cluster: Cluster) -> None:
    inputs = {n: {"amount": np.ones(size)} for n, size in zip(NAMES, (5, 5, 6), strict=True)}
    out = cluster.run(cluster.spec_text("threshold", extra="threshold = 1.0", timeout_s=5), inputs)
    for name in NAMES:
        assert isinstance(out[name], InputError), out[name]
        assert "different lengths" in str(out[name])
    assert isinstance(out["dealer"], SessionAborted)


def test_mismatched_specs_abort_naming_the_odd_party(cluster: Cluster) -> None:
    good = cluster.spec_text("sum", timeout_s=5)
    texts = {
        "bank_a": good,
        "bank_b": good,
        "bank_c": good.replace("timeout_s = 5", "timeout_s = 6"),
    }
    out = cluster.run(texts, _amounts())
    for name in ("bank_a", "bank_b"):
        assert isinstance(out[name], SessionAborted)
        assert out[name].party == "bank_c"
        assert "different session spec" in str(out[name])
    assert isinstance(out["bank_c"], SessionAborted)


def test_wrong_certificate_aborts_naming_the_party(cluster: Cluster) -> None:
    # bank_c runs with a key the spec does not pin: its peers refuse it.
    impostor = generate_identity("bank_c")
    cluster.paths("bank_c")[0].write_bytes(impostor.cert_pem)
    cluster.paths("bank_c")[1].write_bytes(impostor.key_pem)
    start = time.monotonic()
    out = cluster.run(cluster.spec_text("sum", timeout_s=4), _amounts())
    assert time.monotonic() - start < 4 + 3
    for name in ("bank_a", "bank_b"):
        assert isinstance(out[name], SessionAborted), out[name]
        assert out[name].party == "bank_c", out[name]
    assert isinstance(out["bank_c"], SessionAborted)


def _serve_stranger(cluster: Cluster, port: int, stop: threading.Event) -> None:
    """A TLS server with an unpinned certificate squatting on a party's port."""
    ident = generate_identity("stranger")
    cert, key = cluster.root / "stranger.crt", cluster.root / "stranger.key"
    cert.write_bytes(ident.cert_pem)
    key.write_bytes(ident.key_pem)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)

    async def main() -> None:
        server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", port, ssl=ctx)
        while not stop.is_set():
            await asyncio.sleep(0.05)
        server.close()

    asyncio.run(main())


def test_stranger_on_a_party_port_aborts_cleanly(cluster: Cluster) -> None:
    stop = threading.Event()
    inputs = {n: v for n, v in _amounts().items() if n != "bank_c"}
    start = time.monotonic()
    out = _run_with_stranger(cluster, inputs, stop)
    assert time.monotonic() - start < 4 + 3
    for name in ("bank_a", "bank_b"):
        assert isinstance(out[name], SessionAborted), out[name]
        assert out[name].party == "bank_c", out[name]
    # Each party found the bad certificate itself or was told by the other, naming bank_c.
    assert any("certificate" in str(out[n]) for n in ("bank_a", "bank_b"))
    assert all(
        "certificate" in str(out[n]) or "aborted the session" in str(out[n])
        for n in ("bank_a", "bank_b")
    )


def _run_with_stranger(
    cluster: Cluster, inputs: dict[str, dict[str, np.ndarray]], stop: threading.Event
) -> dict[str, Any]:
    t = threading.Thread(target=_serve_stranger, args=(cluster, cluster.ports["bank_c"], stop))
    t.start()
    time.sleep(0.2)
    try:
        return cluster.run(cluster.spec_text("sum", timeout_s=4), inputs)
    finally:
        stop.set()
        t.join(5)


def _fake_party(cluster: Cluster, *, behaviour: str, stop: threading.Event) -> None:
    """bank_c links and says hello correctly, then drops or stalls."""
    spec = parse_spec(cluster.spec_text("sum", timeout_s=3))
    cert, key = cluster.paths("bank_c")

    async def main() -> None:
        mesh = Mesh(
            list(spec.parties),
            me=2,
            n_parties=3,
            session_id=spec.session_id,
            cert=cert,
            key=key,
            timeout_s=10,
        )
        await mesh.connect([0, 1])
        for p in (0, 1):
            await mesh.send(p, "hello", _hello(spec, 1))
        if behaviour == "stall":
            while not stop.is_set():
                await asyncio.sleep(0.05)
        await mesh.close()

    asyncio.run(main())


@pytest.mark.parametrize("behaviour", ["drop", "stall"])
def test_dropped_or_stalled_party_aborts_everyone_naming_it(
    cluster: Cluster, behaviour: str
) -> None:
    stop = threading.Event()
    inputs = {n: v for n, v in _amounts().items() if n != "bank_c"}
    fake = threading.Thread(
        target=_fake_party, args=(cluster,), kwargs={"behaviour": behaviour, "stop": stop}
    )
    fake.start()
    start = time.monotonic()
    try:
        out = cluster.run(cluster.spec_text("sum", timeout_s=3), inputs)
    finally:
        stop.set()
        fake.join(10)
    assert time.monotonic() - start < 3 + 2
    reason = "stalled" if behaviour == "stall" else "dropped"
    for name in ("bank_a", "bank_b"):
        assert isinstance(out[name], SessionAborted), out[name]
        assert out[name].party == "bank_c", out[name]
        # Found it itself, or was told by the other party (whose abort names bank_c).
        assert reason in str(out[name]) or "aborted the session" in str(out[name])
    assert any(reason in str(out[n]) for n in ("bank_a", "bank_b"))


def test_party_that_never_connects_aborts_within_timeout(cluster: Cluster) -> None:
    inputs = {n: v for n, v in _amounts().items() if n != "bank_c"}
    start = time.monotonic()
    out = cluster.run(cluster.spec_text("sum", timeout_s=2), inputs)
    assert time.monotonic() - start < 2 + 2
    for name in ("bank_a", "bank_b"):
        assert isinstance(out[name], SessionAborted), out[name]
        assert out[name].party == "bank_c", out[name]


def _knock(port: int, root: Path, stop: threading.Event) -> None:
    """Strangers at a party's own port: no certificate, an unpinned one, and plain garbage."""
    ident = generate_identity("stranger")
    (root / "knock.crt").write_bytes(ident.cert_pem)
    (root / "knock.key").write_bytes(ident.key_pem)
    with_cert = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with_cert.load_cert_chain(root / "knock.crt", root / "knock.key")
    without = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    for ctx in (with_cert, without):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE

    async def main() -> None:
        for _ in range(40):
            if stop.is_set():
                return
            for ctx in (with_cert, without, None):
                try:
                    _, w = await asyncio.wait_for(
                        asyncio.open_connection("127.0.0.1", port, ssl=ctx), 0.5
                    )
                    w.write(b"\x00\x00\x00\x05hello")
                    w.close()
                except (OSError, TimeoutError, ssl.SSLError):
                    pass
            await asyncio.sleep(0.02)

    asyncio.run(main())


def test_strangers_knocking_on_a_party_port_change_nothing(cluster: Cluster) -> None:
    stop = threading.Event()
    inputs = _amounts()
    knocker = threading.Thread(target=_knock, args=(cluster.ports["bank_c"], cluster.root, stop))
    knocker.start()
    try:
        out = cluster.run(cluster.spec_text("count", timeout_s=10), inputs)
    finally:
        stop.set()
        knocker.join(10)
    assert out["bank_a"] == {"count": sum(len(v["amount"]) for v in inputs.values())}
