"""The SMPC dealer app in a real enclave process: material only to listed parties, once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cbor2
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from enclaves.apps import app_dir
from enclaves.attestation import NonceRegistry, Policy
from enclaves.keyrelease import client_id_of
from enclaves.platform import SimulatedPlatform
from enclaves.runtime import AttestedClient, SimulatedEnclave, sign_app
from engine.errors import PolicyDenied
from engine.smpc.hazmat import Kind, PartyMaterial, Request, expand
from tests.enclaves.apps.conftest import hex_ids
from tests.enclaves.conftest import copy_app

PLAN = [Request(label="m", kind=Kind.TRIPLE, count=16)]
WIRE_PLAN = [[r.label, r.kind.value, r.count, r.frac_bits] for r in PLAN]


@pytest.fixture(scope="module")
def parties() -> list[Ed25519PrivateKey]:
    return [Ed25519PrivateKey.generate() for _ in range(3)]


@pytest.fixture(scope="module")
def dealer(
    tmp_path_factory: pytest.TempPathFactory,
    platform: SimulatedPlatform,
    signer_key: Ed25519PrivateKey,
    parties: list[Ed25519PrivateKey],
) -> Iterator[SimulatedEnclave]:
    path: Path = copy_app(
        app_dir("dealer"), tmp_path_factory.mktemp("dealer") / "app", clients=hex_ids(*parties)
    )
    sign_app(path, signer_key)
    with SimulatedEnclave.load(path, platform=platform) as enclave:
        yield enclave


def _client(
    enclave: SimulatedEnclave, platform: SimulatedPlatform, key: Ed25519PrivateKey | None
) -> AttestedClient:
    policy = Policy(measurements=frozenset({enclave.measurement}), allow_simulated=True)
    return AttestedClient.connect(
        enclave,
        policy=policy,
        roots=[platform.root_certificate],
        nonces=NonceRegistry(),
        client_key=key,
    )


def test_parties_get_consistent_material_once(
    dealer: SimulatedEnclave, platform: SimulatedPlatform, parties: list[Ed25519PrivateKey]
) -> None:
    ids = [client_id_of(k).hex() for k in parties]
    args = {"session_id": "s1", "spec_hash": b"h" * 32, "parties": ids, "plan": WIRE_PLAN}
    clients = [_client(dealer, platform, k) for k in parties]
    for c in clients:
        assert c.call("open", args) == {"session_id": "s1", "n_parties": 3}
    with pytest.raises(PolicyDenied, match="another spec"):
        clients[0].call("open", {**args, "spec_hash": b"x" * 32})
    with pytest.raises(PolicyDenied, match="own client"):
        clients[0].call("material", {"session_id": "s1", "party": 1})
    pools = []
    for i, c in enumerate(clients):
        material = PartyMaterial.from_wire(c.call("material", {"session_id": "s1", "party": i}))
        pools.append(expand(material, PLAN, party=i, n_parties=3)._arrays)
    a, b, c_ = (sum(p[f"m/{k}"] for p in pools) for k in "abc")
    assert (np.asarray(a) * np.asarray(b) == np.asarray(c_)).all()
    with pytest.raises(PolicyDenied, match="no such session"):
        clients[2].call("material", {"session_id": "s1", "party": 2})


def test_only_listed_clients_over_a_channel(
    dealer: SimulatedEnclave, platform: SimulatedPlatform
) -> None:
    with pytest.raises(PolicyDenied, match="secure channel"):
        dealer.call("open", {"session_id": "s2"})
    with pytest.raises(PolicyDenied, match="listed clients"):
        _client(dealer, platform, Ed25519PrivateKey.generate()).call("open", {"session_id": "s2"})
    assert dealer.call("info")["sessions"] == 0


def test_owned_dot_masks_follow_the_plan_owners(
    dealer: SimulatedEnclave, platform: SimulatedPlatform, parties: list[Ed25519PrivateKey]
) -> None:
    plan = [Request(label="d", kind=Kind.OWNED_DOT, count=8, owners=(2, 1))]
    wire = [[r.label, r.kind.value, r.count, r.frac_bits, list(r.owners)] for r in plan]
    ids = [client_id_of(k).hex() for k in parties]
    args = {"session_id": "s3", "spec_hash": b"h" * 32, "parties": ids, "plan": wire}
    clients = [_client(dealer, platform, k) for k in parties]
    pools = []
    for i, c in enumerate(clients):
        c.call("open", args)
        material = PartyMaterial.from_wire(c.call("material", {"session_id": "s3", "party": i}))
        pools.append(expand(material, plan, party=i, n_parties=3)._arrays)
    assert "d/a" in pools[2]
    assert "d/b" in pools[1]
    assert "d/a" not in pools[0]
    inner = sum(int(p["d/c"][0]) for p in pools) % 2**64
    assert inner == int(np.dot(pools[2]["d/a"], pools[1]["d/b"]))


def test_open_refuses_duplicate_parties_and_foreign_owners(
    dealer: SimulatedEnclave, platform: SimulatedPlatform, parties: list[Ed25519PrivateKey]
) -> None:
    me = client_id_of(parties[0]).hex()
    client = _client(dealer, platform, parties[0])
    base = {"session_id": "s4", "spec_hash": b"h" * 32, "plan": WIRE_PLAN}
    with pytest.raises(PolicyDenied, match="distinct"):
        client.call("open", {**base, "parties": [me, me]})
    other = client_id_of(parties[1]).hex()
    with pytest.raises(PolicyDenied, match="owners"):
        client.call(
            "open",
            {**base, "parties": [me, other], "plan": [["d", "owned_dot", 4, 0, [0, 5]]]},
        )


def test_large_material_comes_in_ordered_parts(
    dealer: SimulatedEnclave, platform: SimulatedPlatform, parties: list[Ed25519PrivateKey]
) -> None:
    rows = 200_000  # the last party's corrections: 12 words per row, about 19 MB: two parts
    plan = [Request(label="c", kind=Kind.COMPARE, count=rows)]
    wire = [[r.label, r.kind.value, r.count, r.frac_bits] for r in plan]
    ids = [client_id_of(k).hex() for k in parties[:2]]
    args = {"session_id": "s5", "spec_hash": b"h" * 32, "parties": ids, "plan": wire}
    clients = [_client(dealer, platform, k) for k in parties[:2]]
    for c in clients:
        c.call("open", args)
    with pytest.raises(PolicyDenied, match="in order"):
        clients[1].call("material", {"session_id": "s5", "party": 1, "part": 1})
    pools = []
    for i, c in enumerate(clients):
        chunks: list[bytes] = []
        parts = 1
        while len(chunks) < parts:
            reply = c.call("material", {"session_id": "s5", "party": i, "part": len(chunks)})
            chunks.append(reply["part"])
            parts = reply["parts"]
        assert parts == (2 if i == 1 else 1)
        material = PartyMaterial.from_wire(cbor2.loads(b"".join(chunks)))
        pools.append(expand(material, plan, party=i, n_parties=2)._arrays)
    ra = pools[0]["c/ra"] + pools[1]["c/ra"]
    assert (pools[0]["c/rx"] ^ pools[1]["c/rx"] == ra).all()
    assert dealer.call("info")["sessions"] == 0
