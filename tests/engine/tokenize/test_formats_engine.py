"""The slot engine: small-domain permutation, mixed radices, keys and tweaks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.keys import KeyMaterial
from engine.tokenize import Kind, Scheme
from engine.tokenize._formats.engine import CharMap, _base, permute
from engine.tokenize._formats.keyed import ColumnKeys, derive_key

KEY = KeyMaterial(key_id="k", version=1, secret=bytes(range(32)))


def column(scheme: Scheme = Scheme.FF1, label: str = "c", kind: Kind = Kind.NAME) -> ColumnKeys:
    return ColumnKeys(KEY, kind, scheme, label)


def test_small_domain_permutation_is_a_cached_bijection() -> None:
    keys = column()
    forward, inverse = keys.prp("part", 46656)
    assert np.array_equal(np.sort(forward), np.arange(46656))
    assert np.array_equal(inverse[forward], np.arange(46656))
    assert keys.prp("part", 46656)[0] is forward
    other, _ = column(label="d").prp("part", 46656)
    assert not np.array_equal(forward, other)


@pytest.mark.parametrize(
    "radices",
    [
        [26, 26, 26],  # small-domain permutation
        [10, 26, 193],  # small-domain permutation, mixed radices
    ],
)
def test_domains_permute_exhaustively_fast(radices: list[int]) -> None:
    check_exhaustive(radices)


@pytest.mark.slow
@pytest.mark.parametrize(
    "radices",
    [
        [10] * 6,  # FF1 directly (exactly 10^6)
        [36, 36, 36, 26],  # mixed radices, cycle-walked FF1 (1,213,056 values)
    ],
)
def test_domains_permute_exhaustively(radices: list[int]) -> None:
    check_exhaustive(radices)


def check_exhaustive(radices: list[int]) -> None:
    size = int(np.prod(radices))
    grids = np.meshgrid(*[np.arange(r) for r in radices], indexing="ij")
    num = np.stack([g.reshape(-1) for g in grids], axis=1).astype(np.int64)
    radix = np.tile(np.array(radices, dtype=np.int64), (size, 1))
    out, failed = permute(column(), "p", num, radix, decrypt=False)
    assert not failed.any()
    assert (out < radix).all()
    assert np.unique(out, axis=0).shape[0] == size
    back, _ = permute(column(), "p", out, radix, decrypt=True)
    assert np.array_equal(back, num)


@settings(max_examples=30, deadline=None)
@given(
    radices=st.lists(st.sampled_from([10, 26, 36, 193, 20992]), min_size=5, max_size=30),
    rows=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
    scheme=st.sampled_from(list(Scheme)),
    context=st.booleans(),
)
def test_mixed_and_direct_round_trip(
    radices: list[int], rows: int, seed: int, scheme: Scheme, context: bool
) -> None:
    rng = np.random.default_rng(seed)
    radix = np.tile(np.array(radices, dtype=np.int64), (rows, 1))
    num = (rng.random(radix.shape) * radix).astype(np.int64)
    ctx = rng.integers(0, 2**63, rows, dtype=np.uint64) if context else None
    keys = column(scheme)
    out, failed = permute(keys, "p", num, radix, decrypt=False, context=ctx)
    assert (out < radix).all()
    assert (out >= 0).all()
    back, _ = permute(keys, "p", out, radix, decrypt=True, context=ctx)
    assert np.array_equal(back[~failed], num[~failed])
    if scheme is Scheme.FF1:
        assert not failed.any()


def test_padding_radix_one_is_ignored() -> None:
    num = np.array([[3, 4, 5, 6, 7, 0, 0], [3, 4, 5, 6, 7, 8, 9]], dtype=np.int64)
    radix = np.array([[26] * 5 + [1, 1], [26] * 7], dtype=np.int64)
    out, _ = permute(column(), "p", num, radix, decrypt=False)
    assert (out[0, 5:] == 0).all()
    back, _ = permute(column(), "p", out, radix, decrypt=True)
    assert np.array_equal(back, num)


@pytest.mark.parametrize("size", [10**6, 26**4 * 10**14, 26 * 10**22, 193**3 * 26**20, 2**200])
def test_mixed_base_is_tight(size: int) -> None:
    r, length = _base(size)
    assert r**length >= size
    assert length >= 2
    assert r**length / size < 1.63


def test_charmap_round_trip_and_unknown() -> None:
    cmap = CharMap(["abc", range(0x4E00, 0x4E10), "XY"])
    codes = np.array([[ord("b"), 0x4E05, ord("Y"), ord("z")]], dtype=np.uint32)
    cls, num = cmap.lookup(codes)
    assert cls.tolist() == [[0, 1, 2, -1]]
    assert num[0, :3].tolist() == [1, 5, 1]
    assert cmap.chars(cls[:, :3], num[:, :3]).tolist() == codes[:, :3].tolist()
    with pytest.raises(ValueError, match="two classes"):
        CharMap(["ab", "bc"])


def test_keys_are_separated_by_kind_and_purpose() -> None:
    a = derive_key(KEY.secret, Kind.PAN, "fpe/FF1", 32)
    assert a != derive_key(KEY.secret, Kind.SSN, "fpe/FF1", 32)
    assert a != derive_key(KEY.secret, Kind.PAN, "fpe/FF3-1", 32)
    assert a != derive_key(KEY.secret, Kind.PAN, "prp", 32)
    assert len(column(Scheme.FF3_1).tweak("x")) == 7
    assert len(column().tweak("x")) == 16
    assert column().tweak_id == column().tweak_id != column(label="d").tweak_id
    assert column().tweak_id.startswith("tw1:")
