"""Fixed-point encoding in Z_2^64, additive sharing and the AES-CTR share PRG."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import numpy as np
from Crypto.Cipher import AES

from engine.errors import InputError, ShareMismatch

RING_BITS = 64
#: Encoded magnitudes must stay below 2^62 so that a difference of two in-range values
#: never wraps the signed range of Z_2^64 (comparison and truncation need this headroom).
MAX_ABS_BITS = 62
_MASK = (1 << RING_BITS) - 1

U64 = np.dtype("<u8")


@dataclass(frozen=True, slots=True, kw_only=True)
class FixedPoint:
    """A fixed-point encoding of reals into the ring Z_2^64 (two's complement).

    ``x`` is encoded as ``round(x * scale) mod 2^64`` with ``scale = 2**frac_bits``, or
    ``scale = 10**decimals`` when ``decimals`` is set (money in exact minor units: no
    rescaling, no rounding beyond the stated decimals). The representable range is
    ``|x| * scale < 2**bound_bits`` (at most 2^62); encoding anything outside it, or a
    non-finite value, raises before any share exists. The rounding tolerance of one value
    is ``0.5 / scale``.

    Attributes:
        frac_bits: Fractional bits of the binary encoding (ignored when ``decimals`` is set).
        decimals: Decimal places of an exact decimal encoding (e.g. 2 for cents), or None.
        bound_bits: Encoded values must satisfy ``|round(x * scale)| < 2**bound_bits``.
    """

    frac_bits: int = 16
    decimals: int | None = None
    bound_bits: int = MAX_ABS_BITS

    def __post_init__(self) -> None:
        if not 0 <= self.frac_bits <= 40:
            raise ValueError("frac_bits must be in [0, 40]")
        if self.decimals is not None and not 0 <= self.decimals <= 12:
            raise ValueError("decimals must be in [0, 12]")
        if not 1 <= self.bound_bits <= MAX_ABS_BITS:
            raise ValueError(f"bound_bits must be in [1, {MAX_ABS_BITS}]")

    @property
    def scale(self) -> int:
        """The integer scale factor (2**frac_bits or 10**decimals)."""
        return 10**self.decimals if self.decimals is not None else 1 << self.frac_bits

    @property
    def max_abs(self) -> float:
        """The largest magnitude that can be encoded (exclusive)."""
        return float(2**self.bound_bits) / self.scale

    def encode(self, values: np.ndarray, *, field_name: str = "value") -> np.ndarray:
        """Encode reals as ring elements (uint64), raising on any value out of range.

        Raises:
            InputError: If a value is not finite or ``|x| >= max_abs``; the message names
                ``field_name`` and the row number, never the value.
        """
        x = np.asarray(values, dtype=np.float64).ravel()
        scaled = np.rint(x * self.scale)
        bad = ~np.isfinite(scaled) | (np.abs(scaled) >= float(2**self.bound_bits))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"{field_name}: row {row} is missing or outside the fixed-point range "
                f"(|x| < {self.max_abs:.6g} at scale {self.scale})"
            )
        return scaled.astype(np.int64).view(U64)

    def decode(self, elements: np.ndarray, *, scale_power: int = 1) -> np.ndarray:
        """Decode ring elements (two's complement) to float64; ``scale_power=2`` after a product."""
        signed = np.asarray(elements, dtype=U64).view(np.int64)
        return signed.astype(np.float64) / float(self.scale) ** scale_power


def prg(seed: bytes, label: str, count: int) -> np.ndarray:
    """Expand ``seed`` into ``count`` uniform uint64 words under ``label`` (AES-128-CTR).

    SECURITY: shares are masked only by this PRG; it is AES-CTR keyed by
    HMAC-SHA256(seed, label), never numpy's PCG64. Distinct labels give independent streams.
    """
    if len(seed) < 16:
        raise ValueError("seed must have at least 16 bytes")
    key = hmac.new(seed, label.encode(), hashlib.sha256).digest()[:16]
    cipher = AES.new(key, AES.MODE_CTR, nonce=b"", initial_value=0)
    return np.frombuffer(cipher.encrypt(bytes(8 * count)), dtype=U64).copy()


def random_words(count: int) -> np.ndarray:
    """Return ``count`` uniform uint64 words from a fresh ``secrets`` seed."""
    return prg(secrets.token_bytes(32), "fresh", count)


def split(values: np.ndarray, n_parties: int) -> list[np.ndarray]:
    """Split ring elements into ``n_parties`` additive shares (they sum to ``values`` mod 2^64).

    Any ``n_parties - 1`` shares are uniformly random and independent of ``values``.

    >>> shares = split(np.array([5, 7], dtype=np.uint64), 3)
    >>> recombine(shares).tolist()
    [5, 7]
    """
    if n_parties < 2:
        raise ValueError("n_parties must be at least 2")
    x = np.asarray(values, dtype=U64).ravel()
    shares = [random_words(x.size) for _ in range(n_parties - 1)]
    last = x.copy()
    for s in shares:
        last -= s
    return [*shares, last]


def recombine(shares: list[np.ndarray]) -> np.ndarray:
    """Add additive shares back together (mod 2^64).

    Raises:
        ShareMismatch: If there are no shares or their lengths differ.
    """
    if not shares:
        raise ShareMismatch("no shares to recombine")
    size = np.asarray(shares[0]).size
    if any(np.asarray(s).size != size for s in shares):
        raise ShareMismatch("shares have different lengths")
    total = np.zeros(size, dtype=U64)
    for s in shares:
        total += np.asarray(s, dtype=U64).ravel()
    return total


def to_words(data: bytes, count: int) -> np.ndarray:
    """Parse exactly ``count`` little-endian uint64 words, raising ShareMismatch otherwise."""
    if len(data) != 8 * count:
        raise ShareMismatch(f"expected {count} ring elements, got {len(data)} bytes")
    return np.frombuffer(data, dtype=U64).copy()
