"""FF1 format-preserving encryption (NIST SP 800-38G Rev. 1, §6.1), batched over numpy arrays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from engine.errors import DomainError
from engine.tokenize._feistel import FeistelCipher, Numerals, ecb
from engine.tokenize._numeral import (
    FAST_LIMIT,
    Ints,
    add_mod,
    byte_length,
    from_be_bytes_mod,
    mod_words,
    pack,
    sub_mod,
    to_be_bytes,
    unpack,
)

__all__ = ["FF1"]

_ROUNDS: Final = 10
_MAX_TWEAK_BYTES: Final = (1 << 32) - 1


@dataclass(frozen=True, slots=True, kw_only=True)
class _Round:
    """Per-round constants: CBC-MAC state after the shared blocks, and what is left over."""

    state: bytes
    head: bytes
    # (head || 0^b) xor state, split in two 8-byte halves (used when b <= 8).
    high: bytes
    low: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class _Plan:
    """Everything that depends only on (tweak, n)."""

    u: int
    v: int
    b: int
    d: int
    rounds: tuple[_Round, ...]


def _xor(left: bytes, right: bytes) -> bytes:
    return (int.from_bytes(left, "big") ^ int.from_bytes(right, "big")).to_bytes(len(left), "big")


class FF1(FeistelCipher):
    """Hazardous: the raw FF1 cipher of NIST SP 800-38G Rev. 1 over a batch.

    Each Feistel round of a whole batch is one AES-ECB call over the batch's last CBC-MAC
    blocks: the prefix P || T || pad || [i] shared by all rows is MAC-ed once per
    (tweak, length) and remembered.

    Args:
        key: AES key, 16, 24 or 32 bytes.
        radix: Alphabet size, in [2, 2^16].
        alphabet: The characters, numeral 0 first; defaults to the first ``radix``
            characters of ``0-9a-z`` (radix above 36 needs one).

    Raises:
        DomainError: key size, radix or alphabet outside the domain.
        TypeError: an argument of the wrong type.
    """

    __slots__ = ()
    _name = "FF1"

    @staticmethod
    def _max_length(radix: int) -> int:
        # NIST SP 800-38G Rev. 1, §5.2: maxlen < 2^32 (memory bounds it long before).
        return (1 << 32) - 1

    def _check_tweak(self, tweak: bytes) -> bytes:
        if not isinstance(tweak, bytes | bytearray):
            raise TypeError("tweak must be bytes")
        if len(tweak) > _MAX_TWEAK_BYTES:
            raise DomainError("tweak: FF1 tweaks are shorter than 2^32 bytes")
        return bytes(tweak)

    def _make_plan(self, tweak: bytes, n: int) -> _Plan:
        radix = self._radix
        u = n // 2
        v = n - u
        b = byte_length(radix, v)
        # NIST SP 800-38G Rev. 1, Algorithm 7, steps 3-5.
        p_block = (
            bytes([1, 2, 1])
            + radix.to_bytes(3, "big")
            + bytes([10, u % 256])
            + n.to_bytes(4, "big")
            + len(tweak).to_bytes(4, "big")
        )
        pad = bytes((-len(tweak) - b - 1) % 16)
        # Q = T || [0]^pad || [i] || [NUM(B)]^b: all but the last b bytes are shared by the
        # batch, so their CBC-MAC state is computed once per round here.
        rounds = tuple(self._mac_prefix(p_block + tweak + pad + bytes([i])) for i in range(_ROUNDS))
        return _Plan(u=u, v=v, b=b, d=4 * ((b + 3) // 4) + 4, rounds=rounds)

    def _mac_prefix(self, prefix: bytes) -> _Round:
        """Return the CBC-MAC state after the prefix's whole blocks, and the bytes left over."""
        full = len(prefix) // 16 * 16
        state = bytes(16)
        for start in range(0, full, 16):
            state = self._aes.encrypt(_xor(state, prefix[start : start + 16]))
        head = prefix[full:]
        last = _xor(head + bytes(16 - len(head)), state)
        return _Round(state=state, head=head, high=last[:8], low=last[8:])

    def _rounds(self, numerals: Numerals, plan: Any, *, decrypt: bool) -> Numerals:
        radix = self._radix
        u, v = plan.u, plan.v
        lengths = (u, v)
        a = pack(numerals[:, :u], radix)
        c = pack(numerals[:, u:], radix)
        prf = self._prf_u64 if radix**v < FAST_LIMIT else self._prf_exact
        for i in reversed(range(_ROUNDS)) if decrypt else range(_ROUNDS):
            m = lengths[i % 2]
            y = prf(plan.rounds[i], a if decrypt else c, plan.b, plan.d, m)
            if decrypt:
                a, c = sub_mod(c, y, radix, m), a
            else:
                a, c = c, add_mod(a, y, radix, m)
        out = np.empty_like(numerals)
        out[:, :u] = unpack(a, radix, u)
        out[:, u:] = unpack(c, radix, v)
        return out

    def _prf_u64(self, rnd: _Round, half: Ints, b: int, d: int, m: int) -> Ints:
        """Return y mod radix^m (steps 6.i-6.vi) when b <= 8, so d <= 12 and R is one block."""
        # The last MAC block is (head || NUM(B)) xor state; as two big-endian words the
        # first is constant and NUM(B) < 2^(8b) only touches the low bytes of the second.
        block = np.empty((half.shape[0], 2), dtype=">u8")
        block[:, 0] = int.from_bytes(rnd.high, "big")
        block[:, 1] = half ^ np.uint64(int.from_bytes(rnd.low, "big"))
        mac = ecb(self._aes, block.view(np.uint8)).view(">u8")
        high = mac[:, 0].astype(np.uint64)
        modulus = self._radix**m
        if d == 8:
            return mod_words([(high, 64)], modulus)
        low = mac[:, 1].astype(np.uint64) >> np.uint64(128 - 8 * d)
        return mod_words([(high, 64), (low, 8 * d - 64)], modulus)

    def _prf_exact(self, rnd: _Round, half: Ints, b: int, d: int, m: int) -> Ints:
        """Return y mod radix^m (steps 6.i-6.vi) for any b and d."""
        rows = half.shape[0]
        head = rnd.head
        tail = np.empty((rows, len(head) + b), dtype=np.uint8)
        tail[:, : len(head)] = np.frombuffer(head, dtype=np.uint8)
        tail[:, len(head) :] = to_be_bytes(half, b, self._radix)
        mac: NDArray[np.uint8] = np.frombuffer(rnd.state, dtype=np.uint8)
        for start in range(0, tail.shape[1], 16):
            mac = ecb(self._aes, tail[:, start : start + 16] ^ mac)
        s_bytes = mac[:, :d] if d <= 16 else _expand(self._aes, mac, d)
        return from_be_bytes_mod(s_bytes, self._radix, m)


def _expand(aes: Any, mac: NDArray[np.uint8], d: int) -> NDArray[np.uint8]:
    """Return S = R || CIPH(R ^ [1]^16) || ... truncated to d bytes (step 6.iii)."""
    count = (d + 15) // 16
    counters = np.frombuffer(
        b"".join(j.to_bytes(16, "big") for j in range(1, count)), dtype=np.uint8
    ).reshape(count - 1, 16)
    blocks = mac[:, None, :] ^ counters[None, :, :]
    extra = ecb(aes, blocks).reshape(mac.shape[0], -1)
    return np.concatenate([mac, extra], axis=1)[:, :d]
