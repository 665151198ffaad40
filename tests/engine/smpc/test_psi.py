from __future__ import annotations

import pytest

from engine.errors import ShareMismatch
from engine.smpc.hazmat import (
    Party,
    exponentiate,
    hash_to_group,
    intersect,
    random_scalar,
    run_local,
)

DOMAIN = b"test-domain"


def test_hash_to_group_is_deterministic_and_domain_separated() -> None:
    ids = [b"4111111111111111", b"alice"]
    assert hash_to_group(ids, domain=DOMAIN) == hash_to_group(ids, domain=DOMAIN)
    assert hash_to_group(ids, domain=DOMAIN) != hash_to_group(ids, domain=b"other")
    assert len(set(hash_to_group(ids, domain=DOMAIN))) == 2


def test_exponentiation_commutes() -> None:
    a, b = random_scalar(), random_scalar()
    points = hash_to_group([b"x", b"y"], domain=DOMAIN)
    assert exponentiate(exponentiate(points, a), b) == exponentiate(exponentiate(points, b), a)


def test_invalid_points_are_rejected() -> None:
    with pytest.raises(ShareMismatch):
        exponentiate([b"\xff" * 32], random_scalar())
    with pytest.raises(ShareMismatch):
        exponentiate([b"\x01" * 31], random_scalar())


@pytest.mark.parametrize(("n", "size_only"), [(2, False), (3, False), (3, True), (5, False)])
def test_intersection_of_all_parties(n: int, size_only: bool) -> None:
    common = {f"card-{i}".encode() for i in range(20)}
    sets = [sorted(common | {f"p{p}-{i}".encode() for i in range(15 + p)}) for p in range(n)]
    sets[1] = [*sets[1], b"p0-1", b"card-3"]  # pairwise overlap and a duplicate

    async def program(p: Party) -> list[bytes] | int | None:
        return await intersect(
            p.net, sets[p.me], domain=DOMAIN, reveal_to=frozenset({0, 1}), size_only=size_only
        )

    results = run_local(n, program)
    truth = set.intersection(*(set(s) for s in sets))
    assert (truth == common) == (n > 2)
    expected = len(truth) if size_only else sorted(truth)
    assert results[0] == expected
    assert results[1] == expected
    assert all(r is None for r in results[2:])
