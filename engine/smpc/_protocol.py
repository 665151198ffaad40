"""Party-side protocols over additive shares: open, input, Beaver products, comparison, truncation.

Every primitive is vectorised: one call moves whole arrays, so the number of rounds does not
grow with the number of elements. Comparison and truncation use the same circuit: a masked
value ``c = x + r`` is opened (``r`` uniform in Z_2^64, so ``c`` hides ``x`` perfectly) and the
borrows of ``c - r`` are computed on XOR-shared bits of ``r`` with a word-parallel
Kogge-Stone prefix (6 rounds of boolean Beaver ANDs on 64-bit words).
"""

from __future__ import annotations

import secrets
from typing import Protocol

import numpy as np

from engine.errors import SessionAborted, ShareMismatch
from engine.smpc._dealer import ANDS_PER_COMPARISON, Pool
from engine.smpc._ring import MAX_ABS_BITS, U64, prg, to_words

_ONE = np.uint64(1)
_ALL = np.uint64(0xFFFF_FFFF_FFFF_FFFF)


class Net(Protocol):
    """What a party needs from its links: ordered, authenticated messages to each peer."""

    me: int
    n: int

    async def send(self, peer: int, kind: str, body: bytes) -> None:
        """Send ``body`` tagged ``kind`` to ``peer``."""

    async def recv(self, peer: int, kind: str) -> bytes:
        """Return the next message from ``peer``; it must be tagged ``kind``."""

    def peer_name(self, peer: int) -> str:
        """Return the session name of ``peer`` (for errors that blame it)."""


class Party:
    """One party's view of a computation: its links and its dealer shares."""

    def __init__(self, net: Net, pool: Pool | None = None) -> None:
        self.net = net
        self.pool = pool if pool is not None else Pool({})
        self.me, self.n = net.me, net.n
        self._peers = [p for p in range(net.n) if p != net.me]

    def constant(self, value: np.ndarray) -> np.ndarray:
        """Return this party's share of a public array (party 0 holds it, the others 0)."""
        return value.astype(U64) if self.me == 0 else np.zeros(value.shape, dtype=U64)

    async def _recv_bytes(self, peer: int, kind: str, size: int) -> bytes:
        """Receive exactly ``size`` bytes from ``peer``; anything else aborts, blaming it."""
        data = await self.net.recv(peer, kind)
        if len(data) != size:
            name = self.net.peer_name(peer)
            raise SessionAborted(f"party {name!r} sent a malformed {kind!r} message", party=name)
        return data

    async def _recv_words(self, peer: int, kind: str, count: int) -> np.ndarray:
        return to_words(await self._recv_bytes(peer, kind, 8 * count), count)

    async def _exchange(self, kind: str, mine: np.ndarray) -> list[np.ndarray]:
        body = np.ascontiguousarray(mine, dtype=U64).tobytes()
        for p in self._peers:
            await self.net.send(p, kind, body)
        return [await self._recv_words(p, kind, mine.size) for p in self._peers]

    async def open(self, share: np.ndarray) -> np.ndarray:
        """Open an arithmetic sharing to every party."""
        total = np.asarray(share, dtype=U64).copy()
        for other in await self._exchange("open", total):
            total += other
        return total

    async def open_xor(self, share: np.ndarray) -> np.ndarray:
        """Open an XOR sharing to every party."""
        total = np.asarray(share, dtype=U64).copy()
        for other in await self._exchange("open_xor", total):
            total ^= other
        return total

    async def share_input(self, values: np.ndarray | None, *, owner: int, count: int) -> np.ndarray:
        """Secret-share ``owner``'s ring elements; every party gets its share.

        The owner sends each peer only a fresh 32-byte PRG seed, and keeps the correction.
        """
        if self.me != owner:
            return prg(await self._recv_bytes(owner, "input", 32), "input", count)
        if values is None or values.size != count:
            raise ShareMismatch("owner input has the wrong length")
        mine = np.asarray(values, dtype=U64).copy()
        for p in self._peers:
            seed = secrets.token_bytes(32)
            mine -= prg(seed, "input", count)
            await self.net.send(p, "input", seed)
        return mine

    async def sum_inputs(self, values: np.ndarray) -> np.ndarray:
        """Return this party's share of the element-wise sum of every party's ``values``."""
        total = np.zeros(values.size, dtype=U64)
        for owner in range(self.n):
            total += await self.share_input(
                values if owner == self.me else None, owner=owner, count=values.size
            )
        return total

    async def reveal(self, share: np.ndarray, *, to: frozenset[int]) -> np.ndarray | None:
        """Open ``share`` to the parties in ``to`` only; the others get None."""
        body = np.ascontiguousarray(share, dtype=U64).tobytes()
        for p in sorted(to - {self.me}):
            await self.net.send(p, "reveal", body)
        if self.me not in to:
            return None
        total = np.asarray(share, dtype=U64).copy()
        for p in self._peers:
            total += await self._recv_words(p, "reveal", share.size)
        return total

    async def reveal_bits(self, bits: np.ndarray, *, to: frozenset[int]) -> np.ndarray | None:
        """Open XOR-shared bits (bit 0 of each word) to ``to``; only bit 0 ever leaves."""
        # SECURITY: mask to bit 0, the other bits of a share carry circuit internals.
        packed = np.packbits((bits & _ONE).astype(np.uint8)).tobytes()
        for p in sorted(to - {self.me}):
            await self.net.send(p, "reveal_bits", packed)
        if self.me not in to:
            return None
        total = (bits & _ONE).astype(np.uint8)
        for p in self._peers:
            data = await self._recv_bytes(p, "reveal_bits", len(packed))
            total ^= np.unpackbits(np.frombuffer(data, np.uint8))[: bits.size]
        return total.astype(bool)

    async def mul(self, x: np.ndarray, y: np.ndarray, *, label: str) -> np.ndarray:
        """Multiply element-wise with Beaver triples (one round)."""
        a, b, c = (self.pool.take(f"{label}/{k}") for k in "abc")
        if not x.size == y.size == a.size:
            raise ShareMismatch(f"{label}: operand and triple sizes differ")
        opened = await self.open(np.concatenate([x - a, y - b]))
        d, e = opened[: x.size], opened[x.size :]
        out: np.ndarray = c + d * b + e * a + self.constant(d * e)
        return out

    async def dot(self, x: np.ndarray, y: np.ndarray, *, label: str) -> np.ndarray:
        """Return a one-element sharing of ``sum(x * y)`` (mod 2^64)."""
        return np.array([np.sum(await self.mul(x, y, label=label), dtype=U64)], dtype=U64)

    async def dot_owned(
        self, values: np.ndarray | None, *, left: int, right: int, label: str
    ) -> np.ndarray:
        """Return a one-element sharing of ``<x, y>``, ``x`` held by ``left``, ``y`` by ``right``.

        The dealer gives ``left`` a mask ``a``, ``right`` a mask ``b`` and everyone shares of
        ``<a, b>``. ``left`` sends ``x - a`` to ``right`` only, ``right`` sends ``y - b`` to
        ``left`` only (one round, one vector each way; the other parties stay idle), and
        ``<x, y> = <a, e> + <d, e> + <d, b> + <a, b>`` with ``d = x - a``, ``e = y - b``.
        """
        c = self.pool.take(f"{label}/c")
        if self.me not in (left, right):
            return c
        mask = self.pool.take(f"{label}/{'a' if self.me == left else 'b'}")
        if values is None or values.size != mask.size:
            raise ShareMismatch(f"{label}: input and dealer material sizes differ")
        peer = right if self.me == left else left
        await self.net.send(peer, "dot_masked", (values - mask).tobytes())
        theirs = await self._recv_words(peer, "dot_masked", mask.size)
        # Left holds <a, e> + <d, e> = <x, e>; right holds <d, b>.
        local = np.dot(values, theirs) if self.me == left else np.dot(theirs, mask)
        out: np.ndarray = c + np.array([local], dtype=U64)
        return out

    async def _and(self, x: np.ndarray, y: np.ndarray, t: tuple[np.ndarray, ...]) -> np.ndarray:
        a, b, c = t
        opened = await self.open_xor(np.concatenate([x ^ a, y ^ b]))
        d, e = opened[: x.size], opened[x.size :]
        z = c ^ (d & b) ^ (e & a)
        out: np.ndarray = z ^ (d & e) if self.me == 0 else z
        return out

    async def _masked_carries(
        self, x: np.ndarray, *, label: str
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Open ``c = x + r`` and return (c, XOR share of p = c ^ ~r, XOR share of carries G).

        ``G`` bit i is the carry out of bit i of ``c + ~r + 1 = c - r``: bit 63 is [c >= r],
        bit f-1 is [c mod 2^f >= r mod 2^f], and bit 63 of ``x`` is ``p[63] ^ G[62]``.
        """
        m = x.size
        ra, rx = self.pool.take(f"{label}/ra"), self.pool.take(f"{label}/rx")
        ta, tb, tc = (self.pool.take(f"{label}/t{k}") for k in "abc")
        if ra.size != m or ta.size != ANDS_PER_COMPARISON * m:
            raise ShareMismatch(f"{label}: operand and dealer material sizes differ")
        c = await self.open(x + ra)
        not_r = rx ^ _ALL if self.me == 0 else rx
        g = c & not_r
        p = c ^ not_r if self.me == 0 else not_r
        big_g, big_p = g ^ (p & _ONE), p & ~_ONE  # fold the carry-in 1 into bit 0
        offset = 0
        for shift in (1, 2, 4, 8, 16, 32):
            k = np.uint64(shift)
            if shift < 32:
                lhs, rhs = np.concatenate([big_p, big_p]), np.concatenate([big_g << k, big_p << k])
            else:
                lhs, rhs = big_p, big_g << k
            w = lhs.size
            z = await self._and(
                lhs,
                rhs,
                (ta[offset : offset + w], tb[offset : offset + w], tc[offset : offset + w]),
            )
            offset += w
            big_g = big_g ^ z[:m]
            if shift < 32:
                big_p = z[m:]
        return c, p, big_g

    async def less_than_zero(self, x: np.ndarray, *, label: str) -> np.ndarray:
        """Return an XOR sharing (bit 0 of each word) of ``[x < 0]``, for ``|x| < 2^63``."""
        _, p, big_g = await self._masked_carries(x, label=label)
        return ((p >> np.uint64(63)) ^ (big_g >> np.uint64(62))) & _ONE

    async def _bits_to_arith(self, bits: np.ndarray, *, label: str) -> np.ndarray:
        bx, ba = self.pool.take(f"{label}/bx"), self.pool.take(f"{label}/ba")
        e = (await self.open_xor((bits ^ bx) & _ONE)) & _ONE
        out: np.ndarray = self.constant(e) + ba - np.uint64(2) * e * ba
        return out

    async def truncate(self, x: np.ndarray, *, frac_bits: int, label: str) -> np.ndarray:
        """Return a sharing of ``floor(x / 2^frac_bits)`` exactly, for ``|x| < 2^62``.

        Unlike local truncation (wrong with probability ~2^(bits-64)), the wrap-around of the
        masked opening is computed in MPC, so the result is exact for every in-range input.
        """
        if not 1 <= frac_bits < MAX_ABS_BITS:
            raise ValueError(f"frac_bits must be in [1, {MAX_ABS_BITS - 1}]")
        offset = np.full(x.size, 1 << MAX_ABS_BITS, dtype=U64)
        shifted = x + self.constant(offset)  # x + 2^62 is in [0, 2^63)
        c, _, big_g = await self._masked_carries(shifted, label=label)
        f = np.uint64(frac_bits)
        no_wrap = (big_g >> np.uint64(63)) & _ONE
        no_low_borrow = (big_g >> np.uint64(frac_bits - 1)) & _ONE
        ones = self.constant(np.ones(x.size, dtype=U64))
        bits = np.concatenate([no_wrap ^ ones, no_low_borrow ^ ones])
        arith = await self._bits_to_arith(bits, label=label)
        wrap, low_borrow = arith[: x.size], arith[x.size :]
        r_shifted = self.pool.take(f"{label}/rs")
        result = self.constant(c >> f) - r_shifted + (wrap << (np.uint64(64) - f)) - low_borrow
        out: np.ndarray = result - self.constant(
            np.full(x.size, 1 << (MAX_ABS_BITS - frac_bits), dtype=U64)
        )
        return out
