"""FF3-1 format-preserving encryption (NIST SP 800-38G Rev. 1, §6.2), batched."""

from __future__ import annotations

from typing import Any, Final

import numpy as np

from engine.errors import DomainError
from engine.tokenize._feistel import FeistelCipher, Numerals, ecb, new_aes
from engine.tokenize._numeral import (
    FAST_LIMIT,
    Ints,
    add_mod,
    from_be_bytes_mod,
    ilog_floor,
    mod_words,
    pack,
    sub_mod,
    to_be_bytes,
    unpack,
)

__all__ = ["FF3_1"]

_ROUNDS: Final = 8
_TWEAK_BYTES: Final = 7


class FF3_1(FeistelCipher):  # noqa: N801 - the name of the NIST mode.
    """Hazardous: the raw FF3-1 cipher of NIST SP 800-38G Rev. 1 over a batch.

    Each of the 8 Feistel rounds of a whole batch is one AES-ECB call.

    Args:
        key: AES key, 16, 24 or 32 bytes (byte-reversed internally, per the spec).
        radix: Alphabet size, in [2, 2^16].
        alphabet: The characters, numeral 0 first; defaults to the first ``radix``
            characters of ``0-9a-z`` (radix above 36 needs one).

    Raises:
        DomainError: key size, radix or alphabet outside the domain.
        TypeError: an argument of the wrong type.
    """

    __slots__ = ()
    _name = "FF3-1"

    def _make_aes(self, key: bytes) -> Any:
        if not isinstance(key, bytes | bytearray):
            raise TypeError("key must be bytes")
        # NIST SP 800-38G Rev. 1, Algorithm 9: CIPH is keyed with REVB(K).
        return new_aes(bytes(key)[::-1])

    @staticmethod
    def _max_length(radix: int) -> int:
        # NIST SP 800-38G Rev. 1, §5.2: maxlen <= 2 * floor(log_radix(2^96)).
        return 2 * ilog_floor(radix, 1 << 96)

    def _check_tweak(self, tweak: bytes) -> bytes:
        if not isinstance(tweak, bytes | bytearray):
            raise TypeError("tweak must be bytes")
        if len(tweak) != _TWEAK_BYTES:
            raise DomainError("tweak: FF3-1 tweaks are exactly 7 bytes (56 bits)")
        return bytes(tweak)

    def _make_plan(self, tweak: bytes, n: int) -> tuple[bytes, ...]:
        # Algorithm 9, step 3: T_L = T[0..27] || 0^4, T_R = T[32..55] || T[28..31] || 0^4.
        t_left = tweak[:3] + bytes([tweak[3] & 0xF0])
        t_right = tweak[4:7] + bytes([(tweak[3] & 0x0F) << 4])
        # REVB(W xor [i]^4) for each round: the last 4 bytes of the reversed AES input P.
        return tuple(
            (int.from_bytes(t_right if i % 2 == 0 else t_left, "big") ^ i).to_bytes(4, "little")
            for i in range(_ROUNDS)
        )

    def _rounds(self, numerals: Numerals, plan: Any, *, decrypt: bool) -> Numerals:
        n = numerals.shape[1]
        radix = self._radix
        u = (n + 1) // 2
        v = n - u
        lengths = (u, v)
        # The halves are kept as NUM_radix(REV(.)), so REV is applied only here and at the end.
        a = pack(numerals[:, u - 1 :: -1], radix)
        c = pack(numerals[:, : u - 1 : -1], radix)
        prf = self._prf_u64 if radix**u < FAST_LIMIT else self._prf_exact
        for i in reversed(range(_ROUNDS)) if decrypt else range(_ROUNDS):
            m = lengths[i % 2]
            y = prf(plan[i], a if decrypt else c, m)
            if decrypt:
                a, c = sub_mod(c, y, radix, m), a
            else:
                a, c = c, add_mod(a, y, radix, m)
        out = np.empty_like(numerals)
        out[:, :u] = unpack(a, radix, u)[:, ::-1]
        out[:, u:] = unpack(c, radix, v)[:, ::-1]
        return out

    def _prf_u64(self, word: bytes, half: Ints, m: int) -> Ints:
        """Return y mod radix^m (steps 4.ii-4.v) when the half fits in a uint64."""
        # REVB(P) is the half as 12 little-endian bytes (the top 4 are zero here) followed
        # by REVB(W xor [i]^4): as two little-endian words, (half, constant).
        block = np.empty((half.shape[0], 2), dtype="<u8")
        block[:, 0] = half
        block[:, 1] = int.from_bytes(bytes(4) + word, "little")
        out = ecb(self._aes, block.view(np.uint8)).view("<u8")
        # y = NUM(REVB(output)): the output read as one little-endian 128-bit integer.
        high = out[:, 1].astype(np.uint64)
        low = out[:, 0].astype(np.uint64)
        return mod_words([(high, 64), (low, 64)], self._radix**m)

    def _prf_exact(self, word: bytes, half: Ints, m: int) -> Ints:
        """Return y mod radix^m (steps 4.ii-4.v) for any half below 2^96."""
        block = np.empty((half.shape[0], 16), dtype=np.uint8)
        block[:, :12] = to_be_bytes(half, 12, self._radix)[:, ::-1]
        block[:, 12:] = np.frombuffer(word, dtype=np.uint8)
        return from_be_bytes_mod(ecb(self._aes, block)[:, ::-1], self._radix, m)
