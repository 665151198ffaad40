"""The TenSEAL seam: the only module that imports tenseal; everything else sees opaque objects."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import tenseal as ts
import tenseal.sealapi as seal

from engine.errors import DecryptionError, HEError, IntegrityError, ParameterError, ScaleExhausted
from engine.he._params import CKKSParams

__all__ = ["Backend", "create_context", "load_context", "serialize_context"]

# SECURITY: SEAL draws key and encryption randomness from the operating system
# (std::random_device seeding its Blake2xb PRNG); Python's `secrets` is not involved.
# TenSEAL's thread pool is pinned to one thread: parallelism comes from processes.
_THREADS = 1


def create_context(params: CKKSParams) -> Any:
    """Generate a fresh secret-key context for ``params`` (owner side)."""
    try:
        ctx = ts.context(
            ts.SCHEME_TYPE.CKKS,
            poly_modulus_degree=params.poly_modulus_degree,
            coeff_mod_bit_sizes=list(params.coeff_mod_bit_sizes),
            n_threads=_THREADS,
        )
    except ValueError as exc:
        raise ParameterError("SEAL rejected the CKKS parameters") from exc
    ctx.global_scale = float(2**params.scale_bits)
    return ctx


def serialize_context(ctx: Any, *, secret_key: bool, relin_keys: bool) -> bytes:
    """Serialize ``ctx``; never with Galois keys, which no FinVeil operation needs."""
    data: bytes = ctx.serialize(
        save_public_key=True,
        save_secret_key=secret_key,
        save_galois_keys=False,
        save_relin_keys=relin_keys,
    )
    return data


def load_context(data: bytes) -> Any:
    """Load a serialized TenSEAL context; raise IntegrityError on malformed bytes."""
    try:
        return ts.context_from(data, n_threads=_THREADS)
    except (ValueError, RuntimeError, TypeError) as exc:
        raise IntegrityError("the CKKS context bytes are malformed") from exc


def context_shape(ctx: Any) -> tuple[int, tuple[int, ...]]:
    """Return the ring dimension and the bit sizes of the key-level modulus chain."""
    parms = ctx.seal_context().data.key_context_data().parms()
    sizes = tuple(int(m.bit_count()) for m in parms.coeff_modulus())
    return int(parms.poly_modulus_degree()), sizes


def has_secret_key(ctx: Any) -> bool:
    """Whether ``ctx`` holds a secret key."""
    return bool(ctx.has_secret_key())


def has_relin_keys(ctx: Any) -> bool:
    """Whether ``ctx`` holds relinearization keys."""
    return bool(ctx.has_relin_keys())


def has_galois_keys(ctx: Any) -> bool:
    """Whether ``ctx`` holds Galois (rotation) keys."""
    return bool(ctx.has_galois_keys())


@contextlib.contextmanager
def _memfile() -> Iterator[tuple[int, str]]:
    # SEAL's Python bindings save and load only through a path. An anonymous in-memory file
    # (memfd, Linux) gives one without touching a disk; it holds ciphertexts only, never keys.
    fd = os.memfd_create("finveil-he", os.MFD_CLOEXEC)
    try:
        yield fd, f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)


class Backend:
    """CKKS evaluation over one context: encode, encrypt, evaluate, (de)serialize, decrypt.

    Ciphertexts and plaintexts are opaque SEAL objects that never leave the ``engine.he``
    package. Decryption is available only when the context holds a secret key.
    """

    __slots__ = ("_decryptor", "_encoder", "_encryptor", "_evaluator", "_relin", "_seal", "scale")

    def __init__(self, ctx: Any, params: CKKSParams) -> None:
        self._seal = ctx.seal_context().data
        self._encoder = seal.CKKSEncoder(self._seal)
        self._evaluator = seal.Evaluator(self._seal)
        self._encryptor = seal.Encryptor(self._seal, ctx.public_key().data)
        self._relin = ctx.relin_keys().data if ctx.has_relin_keys() else None
        self._decryptor = (
            seal.Decryptor(self._seal, ctx.secret_key().data) if ctx.has_secret_key() else None
        )
        self.scale = float(2**params.scale_bits)

    @property
    def slot_count(self) -> int:
        """The number of slots per ciphertext."""
        return int(self._encoder.slot_count())

    @property
    def first_level(self) -> int:
        """The chain index of fresh ciphertexts: the number of rescales available."""
        return int(self._seal.first_context_data().chain_index())

    @property
    def can_decrypt(self) -> bool:
        """Whether this backend holds a secret key."""
        return self._decryptor is not None

    def encrypt(self, values: np.ndarray) -> Any:
        """Encrypt up to ``slot_count`` real or complex values at the first level."""
        if values.ndim != 1 or len(values) > self.slot_count:
            raise ParameterError(
                f"a ciphertext holds at most {self.slot_count} values (the slot count)"
            )
        plain = seal.Plaintext()
        self._encoder.encode(values.tolist(), self.scale, plain)
        ct = seal.Ciphertext(self._seal)
        self._encryptor.encrypt(plain, ct)
        return ct

    def level(self, ct: Any) -> int:
        """The chain index of ``ct``: the rescales it has left."""
        return int(self._seal.get_context_data(ct.parms_id()).chain_index())

    def encode_constant(self, value: complex, *, like: Any, scale: float | None = None) -> Any:
        """Encode ``value`` in every slot at the level of ``like`` (and its scale by default)."""
        plain = seal.Plaintext()
        constant = float(value.real) if value.imag == 0 else complex(value)
        self._encoder.encode(
            constant, like.parms_id(), like.scale if scale is None else scale, plain
        )
        return plain

    def multiply_plain(self, ct: Any, plain: Any) -> Any:
        """Multiply by an encoded constant without rescaling (the scale multiplies)."""
        out = seal.Ciphertext()
        self._evaluator.multiply_plain(ct, plain, out)
        return out

    def add_many(self, cts: Sequence[Any]) -> Any:
        """Add ciphertexts at the same level and scale."""
        out = seal.Ciphertext()
        if len(cts) == 1:
            return cts[0]
        self._evaluator.add_many(list(cts), out)
        return out

    def add_constant(self, ct: Any, value: float) -> Any:
        """Add ``value`` to every slot, encoded at exactly the ciphertext's scale."""
        if value == 0:
            return ct
        out = seal.Ciphertext()
        self._evaluator.add_plain(ct, self.encode_constant(value, like=ct), out)
        return out

    def rescale(self, ct: Any) -> Any:
        """Drop one prime, dividing the scale by it; ScaleExhausted at the last level."""
        if self.level(ct) < 1:
            raise ScaleExhausted("the ciphertext is at the last level: no rescale is left")
        out = seal.Ciphertext()
        self._evaluator.rescale_to_next(ct, out)
        return out

    def multiply(self, a: Any, b: Any) -> Any:
        """Multiply two ciphertexts, relinearize and rescale (one level)."""
        if self._relin is None:
            raise ParameterError("ciphertext multiplication needs a context with relin keys")
        a, b = self.align(a, b)
        out = seal.Ciphertext()
        self._evaluator.multiply(a, b, out)
        self._evaluator.relinearize_inplace(out, self._relin)
        return self.rescale(out)

    def align(self, a: Any, b: Any) -> tuple[Any, Any]:
        """Mod-switch the higher of two ciphertexts down to the other's level."""
        la, lb = self.level(a), self.level(b)
        if la == lb:
            return a, b
        high, low = (a, b) if la > lb else (b, a)
        switched = seal.Ciphertext()
        self._evaluator.mod_switch_to(high, low.parms_id(), switched)
        return (switched, low) if la > lb else (low, switched)

    def save(self, ct: Any) -> bytes:
        """Serialize one ciphertext (SEAL format, compressed)."""
        with _memfile() as (fd, path):
            ct.save(path)
            return os.pread(fd, os.fstat(fd).st_size, 0)

    def load(self, data: bytes) -> Any:
        """Load one ciphertext and check it is valid for this context."""
        ct = seal.Ciphertext()
        with _memfile() as (fd, path):
            os.pwrite(fd, data, 0)
            try:
                ct.load(self._seal, path)
            except (ValueError, RuntimeError, TypeError) as exc:
                raise IntegrityError("a ciphertext is malformed or not for this context") from exc
        if ct.size() != 2 or not ct.is_ntt_form():
            raise IntegrityError("a ciphertext has an unexpected shape")
        return ct

    def decrypt(self, ct: Any, *, complex_slots: bool) -> np.ndarray:
        """Decrypt and decode all slots (complex128 or float64)."""
        if self._decryptor is None:
            raise HEError("this context holds no secret key and cannot decrypt")
        plain = seal.Plaintext()
        try:
            self._decryptor.decrypt(ct, plain)
        except (ValueError, RuntimeError) as exc:
            raise DecryptionError("the ciphertext does not decrypt under this key") from exc
        if complex_slots:
            return np.asarray(self._encoder.decode_complex(plain), dtype=np.complex128)
        return np.asarray(self._encoder.decode_double(plain), dtype=np.float64)
