from __future__ import annotations

import numpy as np
import pytest

from engine.errors import ShareMismatch
from engine.smpc.hazmat import ANDS_PER_COMPARISON, Kind, PartyMaterial, Request, deal, expand

PLAN = [
    Request(label="m", kind=Kind.TRIPLE, count=50),
    Request(label="c", kind=Kind.COMPARE, count=20),
    Request(label="t", kind=Kind.TRUNCATE, count=10, frac_bits=16),
    Request(label="o", kind=Kind.OWNED_DOT, count=30, owners=(1, 0)),
]


def _pools(n: int) -> list[dict[str, np.ndarray]]:
    materials = deal(PLAN, n)
    wire = [PartyMaterial.from_wire(m.to_wire()) for m in materials]
    pools = [expand(m, PLAN, party=i, n_parties=n) for i, m in enumerate(wire)]
    return [pool._arrays for pool in pools]


def _add(pools: list[dict[str, np.ndarray]], name: str) -> np.ndarray:
    total = np.zeros_like(pools[0][name])
    for p in pools:
        total += p[name]
    return total


def _xor(pools: list[dict[str, np.ndarray]], name: str) -> np.ndarray:
    total = np.zeros_like(pools[0][name])
    for p in pools:
        total ^= p[name]
    return total


@pytest.mark.parametrize("n", [2, 3, 5])
def test_dealt_material_is_correlated_as_specified(n: int) -> None:
    pools = _pools(n)
    assert (_add(pools, "m/a") * _add(pools, "m/b") == _add(pools, "m/c")).all()
    for lab in ("c", "t"):
        assert (_add(pools, f"{lab}/ra") == _xor(pools, f"{lab}/rx")).all()
        assert (
            _xor(pools, f"{lab}/ta") & _xor(pools, f"{lab}/tb") == _xor(pools, f"{lab}/tc")
        ).all()
        assert pools[0][f"{lab}/ta"].size == ANDS_PER_COMPARISON * (20 if lab == "c" else 10)
    assert (_add(pools, "t/ra") >> np.uint64(16) == _add(pools, "t/rs")).all()
    bits = _xor(pools, "t/bx")
    assert set(bits.tolist()) <= {0, 1}
    assert (bits == _add(pools, "t/ba")).all()
    # Owned-dot masks reach their owner only; <a, b> is shared by everyone.
    assert [("o/a" in p, "o/b" in p) for p in pools[:2]] == [(False, True), (True, False)]
    assert int(_add(pools, "o/c")[0]) == int(np.dot(pools[1]["o/a"], pools[0]["o/b"]))


def test_only_the_last_party_gets_corrections() -> None:
    materials = deal(PLAN, 3)
    assert [bool(m.corrections) for m in materials] == [False, False, True]
    assert len({m.seed for m in materials}) == 3
    assert repr(materials[2]) == "PartyMaterial()"


def test_material_wire_format_is_checked() -> None:
    with pytest.raises(ShareMismatch):
        PartyMaterial.from_wire({"v": 2, "seed": bytes(32), "corr": {}})
    with pytest.raises(ShareMismatch):
        PartyMaterial.from_wire({"v": 1, "seed": bytes(5), "corr": {}})
    with pytest.raises(ShareMismatch):
        PartyMaterial.from_wire({"v": 1, "seed": bytes(32), "corr": {"x": 3}})
    with pytest.raises(ShareMismatch):
        PartyMaterial.from_wire([1, 2])
    with pytest.raises(ShareMismatch, match="lacks"):
        expand(PartyMaterial(seed=bytes(32)), PLAN, party=2, n_parties=3)


def test_pool_hands_out_each_array_once() -> None:
    pool = expand(deal(PLAN, 2)[0], PLAN, party=0, n_parties=2)
    pool.take("m/a")
    with pytest.raises(ShareMismatch, match="no dealer material"):
        pool.take("m/a")
    with pytest.raises(ValueError, match="count"):
        Request(label="x", kind=Kind.TRIPLE, count=-1)
    with pytest.raises(ValueError, match="n_parties"):
        deal(PLAN, 1)
    with pytest.raises(ValueError, match="owners"):
        Request(label="x", kind=Kind.OWNED_DOT, count=1, owners=(1, 1))
