"""The dealer: Beaver triples, comparison and truncation randomness, compressed as PRG seeds.

Trust assumption (SECURITY): the dealer is trusted not to collude with any party and to
follow the protocol; it learns nothing about inputs (it never receives a share), but anyone
who holds its view plus one party's shares could unmask that party's peers. Parties
``0 .. n-2`` receive only a 32-byte seed; the last party receives the seed plus explicit
correction words. Any party's material alone is uniformly random.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from engine.errors import ShareMismatch
from engine.smpc._ring import U64, prg, to_words

#: Boolean AND triples one comparison uses: 2 per Kogge-Stone level for 5 levels, 1 for the last.
ANDS_PER_COMPARISON = 11
_FORMAT_VERSION = 1
# Rules whose every share, the last party's included, comes from that party's seed.
_FREE = ("free", "xfree", "bits")


class Kind(Enum):
    """What a dealer request produces."""

    TRIPLE = "triple"  # arithmetic Beaver triples (a, b, c = a * b)
    COMPARE = "compare"  # edaBits (r arithmetic and XOR-shared) plus boolean AND triples
    TRUNCATE = "truncate"  # COMPARE material plus r >> f and two daBits per element
    OWNED_DOT = "owned_dot"  # a (owner 0 only), b (owner 1 only), shares of <a, b>


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """One block of correlated randomness: ``count`` items of ``kind`` under ``label``."""

    label: str
    kind: Kind
    count: int
    frac_bits: int = 0
    owners: tuple[int, int] = (0, 1)

    def __post_init__(self) -> None:
        if self.count < 0:
            raise ValueError("count must be non-negative")
        if self.owners[0] == self.owners[1]:
            raise ValueError("owners must be two different parties")


@dataclass(frozen=True, slots=True, kw_only=True)
class PartyMaterial:
    """What the dealer gives one party: a seed and (last party only) correction words."""

    seed: bytes = field(repr=False)
    corrections: dict[str, bytes] = field(repr=False, default_factory=dict)

    def to_wire(self) -> dict[str, object]:
        """Return the CBOR-ready form (format version first)."""
        return {"v": _FORMAT_VERSION, "seed": self.seed, "corr": dict(self.corrections)}

    @classmethod
    def from_wire(cls, obj: object) -> PartyMaterial:
        """Parse :meth:`to_wire` output, raising ShareMismatch on anything else."""
        if not isinstance(obj, dict) or obj.get("v") != _FORMAT_VERSION:
            raise ShareMismatch("dealer material has an unknown format")
        seed, corr = obj.get("seed"), obj.get("corr")
        if not isinstance(seed, bytes) or len(seed) != 32 or not isinstance(corr, dict):
            raise ShareMismatch("dealer material is malformed")
        if not all(isinstance(k, str) and isinstance(v, bytes) for k, v in corr.items()):
            raise ShareMismatch("dealer material is malformed")
        return cls(seed=seed, corrections=corr)


def _components(req: Request) -> list[tuple[str, str, int]]:
    """Return (name, rule, words) per array of ``req``; rule sets the last party's share."""
    m = req.count
    lab = req.label
    if req.kind is Kind.OWNED_DOT:
        left, right = req.owners
        return [
            (f"{lab}/a", f"own{left}", m),
            (f"{lab}/b", f"own{right}", m),
            (f"{lab}/c", "inner", 1),
        ]
    if req.kind is Kind.TRIPLE:
        return [(f"{lab}/a", "free", m), (f"{lab}/b", "free", m), (f"{lab}/c", "mul", m)]
    out = [
        (f"{lab}/ra", "free", m),
        (f"{lab}/rx", "xor_of_ra", m),
        (f"{lab}/ta", "xfree", ANDS_PER_COMPARISON * m),
        (f"{lab}/tb", "xfree", ANDS_PER_COMPARISON * m),
        (f"{lab}/tc", "and", ANDS_PER_COMPARISON * m),
    ]
    if req.kind is Kind.TRUNCATE:
        out += [
            (f"{lab}/rs", "shift_of_ra", m),
            (f"{lab}/bx", "bits", 2 * m),
            (f"{lab}/ba", "arith_of_bx", 2 * m),
        ]
    return out


def _draw(seed: bytes, name: str, words: int, rule: str) -> np.ndarray:
    x = prg(seed, name, words)
    return x & np.uint64(1) if rule == "bits" else x


def deal(plan: list[Request], n_parties: int) -> list[PartyMaterial]:
    """Generate every party's material for ``plan`` (pure; randomness from ``secrets``).

    Returns:
        One ``PartyMaterial`` per party, in party order; only the last has corrections.
    """
    if n_parties < 2:
        raise ValueError("n_parties must be at least 2")
    seeds = [secrets.token_bytes(32) for _ in range(n_parties)]
    last = n_parties - 1
    corrections: dict[str, bytes] = {}
    for req in plan:
        values: dict[str, np.ndarray] = {}
        for name, rule, words in _components(req):
            if rule.startswith("own"):
                # Known to its owner (and the dealer) only: a mask, not a share.
                values[name] = _draw(seeds[int(rule[3:])], name, words, rule)
                continue
            shares = [_draw(s, name, words, rule) for s in seeds]
            if rule in _FREE:
                total = shares[0].copy()
                for s in shares[1:]:
                    total = total + s if rule == "free" else total ^ s
                values[name] = total
                continue
            target = _target(req, name, rule, values)
            values[name] = target
            fix = target.copy()
            for s in shares[:last]:
                fix = fix ^ s if rule in ("xor_of_ra", "and") else fix - s
            corrections[name] = fix.astype(U64).tobytes()
    return [
        PartyMaterial(seed=s, corrections=corrections if i == last else {})
        for i, s in enumerate(seeds)
    ]


def _target(req: Request, name: str, rule: str, values: dict[str, np.ndarray]) -> np.ndarray:
    base = name.rsplit("/", 1)[0]
    if rule == "mul":
        product: np.ndarray = values[f"{base}/a"] * values[f"{base}/b"]
        return product
    if rule == "inner":
        return np.array([np.dot(values[f"{base}/a"], values[f"{base}/b"])], dtype=U64)
    if rule == "and":
        both: np.ndarray = values[f"{base}/ta"] & values[f"{base}/tb"]
        return both
    if rule == "xor_of_ra":
        return values[f"{base}/ra"].copy()
    if rule == "shift_of_ra":
        return values[f"{base}/ra"] >> np.uint64(req.frac_bits)
    return values[f"{base}/bx"].copy()  # arith_of_bx: the same bits, as ring elements


def expand(material: PartyMaterial, plan: list[Request], *, party: int, n_parties: int) -> Pool:
    """Expand one party's material into its shares of every array of ``plan``."""
    last = n_parties - 1
    arrays: dict[str, np.ndarray] = {}
    for req in plan:
        for name, rule, words in _components(req):
            if rule.startswith("own"):
                if party == int(rule[3:]):
                    arrays[name] = _draw(material.seed, name, words, rule)
                continue
            if party == last and rule not in _FREE:
                blob = material.corrections.get(name)
                if blob is None:
                    raise ShareMismatch(f"dealer material lacks {name!r}")
                arrays[name] = to_words(blob, words)
            else:
                arrays[name] = _draw(material.seed, name, words, rule)
    return Pool(arrays)


class Pool:
    """A party's expanded dealer shares, consumed by label; each array is handed out once."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self._arrays = arrays

    def take(self, name: str) -> np.ndarray:
        """Remove and return the array ``name``.

        SECURITY: correlated randomness must never be used twice; taking removes it.
        """
        try:
            return self._arrays.pop(name)
        except KeyError:
            raise ShareMismatch(f"no dealer material left for {name!r}") from None
