from __future__ import annotations

import numpy as np
import pytest

from engine.errors import SessionAborted, ShareMismatch
from engine.smpc import split
from engine.smpc._ring import MAX_ABS_BITS, U64
from engine.smpc.hazmat import Kind, Party, Request, run_local

LIMIT = 2**MAX_ABS_BITS
RNG = np.random.default_rng(7)


def _near_limit_values(m: int) -> np.ndarray:
    x = RNG.integers(-LIMIT + 1, LIMIT, m, dtype=np.int64)
    edge = [0, 1, -1, 2, -2, LIMIT - 1, -LIMIT + 1, -LIMIT, LIMIT // 2, -(LIMIT // 2) - 1]
    edge += [(1 << 16) - 1, 1 << 16, -(1 << 16), -(1 << 16) - 1]
    x[: len(edge)] = edge
    return x


@pytest.mark.parametrize("n", [2, 3, 5])
def test_compare_and_truncate_are_exact_near_the_limits(n: int) -> None:
    m = 400
    x = _near_limit_values(m)
    shares = split(x.view(U64), n)
    plan = [
        Request(label="c", kind=Kind.COMPARE, count=m),
        Request(label="t", kind=Kind.TRUNCATE, count=m, frac_bits=16),
    ]

    async def program(p: Party) -> tuple[np.ndarray | None, np.ndarray]:
        bits = await p.reveal_bits(
            await p.less_than_zero(shares[p.me], label="c"), to=frozenset({0})
        )
        truncated = await p.open(await p.truncate(shares[p.me], frac_bits=16, label="t"))
        return bits, truncated

    results = run_local(n, program, plan=plan)
    bits, truncated = results[0]
    assert bits is not None
    assert (bits == (x < 0)).all()
    # Exact floor division, even where local truncation would wrap.
    assert (truncated.view(np.int64) == (x >> 16)).all()
    assert all(r[0] is None for r in results[1:])  # revealed to party 0 only


@pytest.mark.parametrize("frac_bits", [1, 13, 40, 61])
def test_truncate_other_precisions(frac_bits: int) -> None:
    x = _near_limit_values(64)
    shares = split(x.view(U64), 3)
    plan = [Request(label="t", kind=Kind.TRUNCATE, count=64, frac_bits=frac_bits)]

    async def program(p: Party) -> np.ndarray:
        return await p.open(await p.truncate(shares[p.me], frac_bits=frac_bits, label="t"))

    assert (run_local(3, program, plan=plan)[1].view(np.int64) == (x >> frac_bits)).all()


def test_truncate_rejects_bad_precision() -> None:
    async def program(p: Party) -> np.ndarray:
        return await p.truncate(np.zeros(1, dtype=U64), frac_bits=0, label="t")

    with pytest.raises(ValueError, match="frac_bits"):
        run_local(2, program)


def test_beaver_products_and_dot_match_numpy() -> None:
    m = 1000
    x = RNG.integers(-(2**31), 2**31, m).astype(np.int64)
    y = RNG.integers(-(2**31), 2**31, m).astype(np.int64)
    plan = [
        Request(label="m", kind=Kind.TRIPLE, count=m),
        Request(label="d", kind=Kind.TRIPLE, count=m),
    ]

    async def program(p: Party) -> tuple[np.ndarray, np.ndarray]:
        xs = await p.share_input(x.view(U64) if p.me == 0 else None, owner=0, count=m)
        ys = await p.share_input(y.view(U64) if p.me == 2 else None, owner=2, count=m)
        prod = await p.open(await p.mul(xs, ys, label="m"))
        dot = await p.open(await p.dot(xs, ys, label="d"))
        return prod, dot

    prod, dot = run_local(3, program, plan=plan)[1]
    assert (prod.view(np.int64) == x * y).all()
    # The ring wraps: the dot product is exact modulo 2^64.
    assert int(dot[0]) == int(np.sum(x.astype(object) * y.astype(object))) % 2**64


def test_sum_inputs_and_reveal_to_a_subset() -> None:
    values = [RNG.integers(0, 1000, 5).astype(np.uint64) for _ in range(4)]

    async def program(p: Party) -> np.ndarray | None:
        return await p.reveal(await p.sum_inputs(values[p.me]), to=frozenset({1, 3}))

    results = run_local(4, program)
    expected = sum(v.astype(np.int64) for v in values)
    assert results[0] is None
    assert results[2] is None
    assert results[1] is not None
    assert (results[1].view(np.int64) == expected).all()


def test_mismatched_sizes_and_reused_material_fail() -> None:
    plan = [Request(label="m", kind=Kind.TRIPLE, count=3)]

    async def program(p: Party) -> np.ndarray:
        return await p.mul(np.zeros(2, dtype=U64), np.zeros(2, dtype=U64), label="m")

    with pytest.raises(ShareMismatch, match="sizes differ"):
        run_local(2, program, plan=plan)

    async def twice(p: Party) -> np.ndarray:
        z = np.zeros(3, dtype=U64)
        await p.mul(z, z, label="m")
        return await p.mul(z, z, label="m")

    with pytest.raises(ShareMismatch, match="no dealer material"):
        run_local(2, twice, plan=plan)


@pytest.mark.parametrize(("n", "left", "right"), [(2, 0, 1), (3, 2, 0), (5, 1, 4)])
def test_owned_dot_product_is_exact_mod_2_64(n: int, left: int, right: int) -> None:
    m = 777
    x = RNG.integers(-(2**40), 2**40, m).astype(np.int64)
    y = RNG.integers(-(2**40), 2**40, m).astype(np.int64)
    plan = [Request(label="d", kind=Kind.OWNED_DOT, count=m, owners=(left, right))]

    async def program(p: Party) -> np.ndarray:
        mine = x if p.me == left else y if p.me == right else None
        data = None if mine is None else mine.view(U64)
        return await p.open(await p.dot_owned(data, left=left, right=right, label="d"))

    results = run_local(n, program, plan=plan)
    expected = int(np.sum(x.astype(object) * y.astype(object))) % 2**64
    assert all(int(r[0]) == expected for r in results)


def test_a_malformed_share_aborts_blaming_its_sender() -> None:
    async def program(p: Party) -> np.ndarray | None:
        if p.me == 1:
            for q in (0, 2):
                await p.net.send(q, "open", b"\x00" * 7)
            return None
        return await p.open(np.zeros(1, dtype=U64))

    with pytest.raises(SessionAborted, match="malformed 'open'") as info:
        run_local(3, program)
    assert info.value.party == "party1"
