"""CKKS parameter sets: validation against the HE Standard and the vetted presets."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import ClassVar

from engine.errors import ParameterError

__all__ = ["SECURITY_128_MAX_LOG_Q", "CKKSParams"]

# Homomorphic Encryption Standard (Albrecht et al., 2018), Table 1: the largest total
# coefficient modulus log2(Q) that keeps 128-bit classical security for a uniform ternary
# secret, per ring dimension N. SEAL enforces the same table.
SECURITY_128_MAX_LOG_Q: dict[int, int] = {
    1024: 27,
    2048: 54,
    4096: 109,
    8192: 218,
    16384: 438,
    32768: 881,
}

# SEAL accepts primes of 20 to 60 bits.
_MIN_PRIME_BITS = 20
_MAX_PRIME_BITS = 60
# The decrypted value must leave room below the first prime: keep at least this many bits of
# integer part, and a 1/64 margin because the real primes and the scale after a rescale differ
# from their nominal powers of two by up to about 1e-6 (relative).
_MIN_INTEGER_BITS = 4
_RANGE_MARGIN = 1.0 - 1.0 / 64.0
# Heuristic bound on the error after encryption, one ct x pt multiply and one rescale: the
# rescale rounding dominates, about sqrt(N * |s| / 12) with a ternary secret of weight ~2N/3,
# times a tail factor. 2^(log2 N + 1) / scale is conservative by ~2x on N=8192 and N=16384.
_NOISE_EXTRA_BITS = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class CKKSParams:
    """A CKKS parameter set: ring dimension, modulus chain and scale.

    The chain is ``(first, middle..., special)``: the first prime holds the decrypted value (its
    bits above ``scale_bits`` are the integer range), each middle prime is one rescale (one
    level of multiplicative depth, so it should equal ``scale_bits``), the last prime is the
    special key-switching prime.

    Presets:
        ``CKKSParams.DEFAULT`` ("linear-8192"): N=8192, chain (60, 40, 60), scale 2^40.
        log Q = 160 <= 218, so 128-bit secure (HE Standard, Table 1). Depth 1: exactly one
        ciphertext x plaintext multiply, then adds: linear scores, column sums and means.
        4,096 slots (8,192 values per ciphertext with two features per complex slot).
        Values up to about 2^19 = 524,288 in magnitude; absolute error about 1e-8 after a
        linear score of standardized features. An unused level would cost ~35% speed.
        ``CKKSParams.LOGISTIC`` ("logistic-16384"): N=16384, chain (60, 40 x 6, 60), scale 2^40.
        log Q = 360 <= 438, 128-bit secure. Depth 6: a linear margin and an odd polynomial
        sigmoid of degree up to 9 (``SigmoidPolynomial``). 8,192 slots. Same range (2^19)
        and error (about 1e-8 per level) as DEFAULT; needs relinearization keys.

    Args:
        name: A short label for reports and manifests.
        poly_modulus_degree: The ring dimension N, a power of two from 1024 to 32768.
        coeff_mod_bit_sizes: Bit sizes of the modulus chain, at least two primes.
        scale_bits: log2 of the encoding scale.
        atol: The absolute error per decrypted value (unit weights) the parameters must reach.

    Raises:
        ParameterError: The set is not 128-bit secure, has an invalid chain, leaves no integer
            range, or its scale is too small for ``atol``.
    """

    DEFAULT: ClassVar[CKKSParams]
    LOGISTIC: ClassVar[CKKSParams]

    name: str
    poly_modulus_degree: int
    coeff_mod_bit_sizes: tuple[int, ...]
    scale_bits: int
    atol: float = 1e-6

    def __post_init__(self) -> None:
        n = self.poly_modulus_degree
        if n not in SECURITY_128_MAX_LOG_Q:
            raise ParameterError(
                f"poly_modulus_degree must be one of {sorted(SECURITY_128_MAX_LOG_Q)}, got {n}"
            )
        sizes = self.coeff_mod_bit_sizes
        if not isinstance(sizes, tuple) or len(sizes) < 2:
            raise ParameterError("coeff_mod_bit_sizes must be a tuple of at least two bit sizes")
        if any(not _MIN_PRIME_BITS <= b <= _MAX_PRIME_BITS for b in sizes):
            raise ParameterError(
                f"coeff_mod_bit_sizes entries must be {_MIN_PRIME_BITS} to {_MAX_PRIME_BITS} bits"
            )
        bound = SECURITY_128_MAX_LOG_Q[n]
        if self.log_q > bound:
            raise ParameterError(
                f"log Q = {self.log_q} exceeds {bound}, the 128-bit security bound for "
                f"N={n} (HE Standard, Table 1)"
            )
        if any(b != self.scale_bits for b in sizes[1:-1]):
            raise ParameterError(
                "every middle prime must have scale_bits bits so a rescale keeps the scale"
            )
        if sizes[-1] < max(sizes[:-1]):
            raise ParameterError("the special (last) prime must be at least as large as the others")
        if sizes[0] - self.scale_bits < _MIN_INTEGER_BITS:
            raise ParameterError(
                f"the first prime must exceed scale_bits by at least {_MIN_INTEGER_BITS} bits"
            )
        if not self.atol > 0:
            raise ParameterError("atol must be positive")
        if self.expected_error > self.atol:
            raise ParameterError(
                f"scale 2^{self.scale_bits} gives an absolute error of about "
                f"{self.expected_error:.1e}, above atol {self.atol:.1e}: raise scale_bits"
            )

    @property
    def log_q(self) -> int:
        """The total bit size of the modulus chain."""
        return sum(self.coeff_mod_bit_sizes)

    @property
    def depth(self) -> int:
        """The number of rescales (ciphertext x plaintext or ciphertext multiplies in a row)."""
        return len(self.coeff_mod_bit_sizes) - 2

    @property
    def slot_count(self) -> int:
        """The number of slots (records) per ciphertext, N/2."""
        return self.poly_modulus_degree // 2

    @property
    def value_limit(self) -> float:
        """The largest magnitude a decrypted value may reach without wrapping around."""
        return float(2.0 ** (self.coeff_mod_bit_sizes[0] - self.scale_bits - 1) * _RANGE_MARGIN)

    @property
    def expected_error(self) -> float:
        """A conservative estimate of the absolute error per value after one level."""
        bits = math.log2(self.poly_modulus_degree) + _NOISE_EXTRA_BITS - self.scale_bits
        return float(2.0**bits)

    @property
    def security_bits(self) -> int:
        """The classical security level the parameters are validated for."""
        return 128

    def to_json(self) -> str:
        """Return the canonical JSON form (sorted keys), used in fingerprints and headers."""
        return json.dumps(
            {
                "name": self.name,
                "poly_modulus_degree": self.poly_modulus_degree,
                "coeff_mod_bit_sizes": list(self.coeff_mod_bit_sizes),
                "scale_bits": self.scale_bits,
                "atol": self.atol,
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> CKKSParams:
        """Parse the form written by :meth:`to_json`.

        Raises:
            ParameterError: The text is not a valid parameter set.
        """
        try:
            raw = json.loads(text)
            return cls(
                name=str(raw["name"]),
                poly_modulus_degree=int(raw["poly_modulus_degree"]),
                coeff_mod_bit_sizes=tuple(int(b) for b in raw["coeff_mod_bit_sizes"]),
                scale_bits=int(raw["scale_bits"]),
                atol=float(raw["atol"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ParameterError):
                raise
            raise ParameterError("malformed CKKS parameter header") from exc


CKKSParams.DEFAULT = CKKSParams(
    name="linear-8192", poly_modulus_degree=8192, coeff_mod_bit_sizes=(60, 40, 60), scale_bits=40
)
CKKSParams.LOGISTIC = CKKSParams(
    name="logistic-16384",
    poly_modulus_degree=16384,
    coeff_mod_bit_sizes=(60, 40, 40, 40, 40, 40, 40, 60),
    scale_bits=40,
)
