"""Encrypted results: per-record scores and probabilities, per-column sums and means."""

from __future__ import annotations

import enum
import hmac
from collections.abc import Sequence
from typing import Any, NoReturn

import numpy as np

from engine.errors import ContextMismatch, IntegrityError, ParameterError
from engine.he import _wire
from engine.he._context import PublicContext

__all__ = ["EncryptedVector", "VectorKind", "check_context"]


class VectorKind(enum.Enum):
    """What an ``EncryptedVector`` holds once decrypted."""

    SCORE = "score"
    PROBABILITY = "probability"
    COLUMN_SUMS = "column_sums"
    COLUMN_MEANS = "column_means"


_PER_RECORD = (VectorKind.SCORE, VectorKind.PROBABILITY)
_WIDTH = {VectorKind.SCORE: 1, VectorKind.PROBABILITY: 2}


def check_context(fp: bytes, context: PublicContext, what: str) -> None:
    """Raise ContextMismatch unless ``fp`` is the fingerprint of ``context``."""
    if not hmac.compare_digest(fp, context._fp):
        raise ContextMismatch(
            f"the {what} was made under CKKS context {fp.hex()}, not {context.fingerprint}"
        )


class EncryptedVector:
    """An encrypted result of ``EncryptedFrame``: decrypt it with ``CKKSKeys.decrypt``.

    Kinds: ``SCORE`` (one value per record: linear scores or margins), ``PROBABILITY`` (one
    polynomial-sigmoid probability per record; it also carries the scaled margin so the owner
    can check the sigmoid's input range), ``COLUMN_SUMS`` and ``COLUMN_MEANS`` (one value per
    feature; the ciphertexts hold per-slot partial sums that decryption folds, so no rotation
    and no Galois key is needed, and the decrypting owner also sees those partial sums).

    Scores and column sums under the same context add (``a + b``): scores of the same records,
    sums of different batches. Serialize with :meth:`to_bytes` (format version byte and context
    fingerprint first); TenSEAL objects do not pickle and this class refuses to.
    """

    __slots__ = (
        "_bound",
        "_context",
        "_count",
        "_cts",
        "_kind",
        "_lengths",
        "_n_features",
        "_packing",
        "_radius",
    )

    def __init__(
        self,
        *,
        context: PublicContext,
        kind: VectorKind,
        cts: tuple[tuple[Any, ...], ...],
        lengths: tuple[int, ...],
        bound: float,
        packing: str,
        n_features: int = 0,
        count: int = 0,
        radius: float = 1.0,
    ) -> None:
        # Private: vectors come from EncryptedFrame methods or from_bytes.
        self._context = context
        self._kind = kind
        self._cts = cts
        self._lengths = lengths
        self._bound = bound
        self._packing = packing
        self._n_features = n_features
        self._count = count if kind not in _PER_RECORD else sum(lengths)
        self._radius = radius

    @property
    def kind(self) -> VectorKind:
        """What the vector holds."""
        return self._kind

    @property
    def count(self) -> int:
        """The number of records behind the vector (public metadata, not encrypted)."""
        return self._count

    @property
    def fingerprint(self) -> str:
        """The fingerprint (hex) of the context the vector was made under."""
        return self._context.fingerprint

    def __len__(self) -> int:
        return self._count if self._kind in _PER_RECORD else self._n_features

    def margins(self) -> EncryptedVector:
        """Return the linear margins carried by a ``PROBABILITY`` vector, as a ``SCORE``.

        Raises:
            ValueError: The vector is not a probability vector.
        """
        if self._kind is not VectorKind.PROBABILITY:
            raise ValueError("only a PROBABILITY vector carries margins")
        return EncryptedVector(
            context=self._context,
            kind=VectorKind.SCORE,
            cts=tuple((chunk[1],) for chunk in self._cts),
            lengths=self._lengths,
            bound=self._bound,
            packing=self._packing,
            radius=self._radius,
        )

    def __add__(self, other: object) -> EncryptedVector:
        if not isinstance(other, EncryptedVector):
            return NotImplemented
        check_context(other._context._fp, self._context, "vector being added")
        if self._kind is not other._kind or self._kind not in (
            VectorKind.SCORE,
            VectorKind.COLUMN_SUMS,
        ):
            raise ValueError("only SCORE + SCORE and COLUMN_SUMS + COLUMN_SUMS vectors add")
        shape = (self._lengths, self._n_features, self._packing, self._radius)
        if shape != (other._lengths, other._n_features, other._packing, other._radius):
            raise ValueError("the vectors have different lengths, chunking or packing")
        bound = self._bound + other._bound
        if bound > self._context.value_limit:
            raise ParameterError(
                f"the sum could exceed the encodable limit {self._context.value_limit:,.0f}"
            )
        if not self._cts or not other._cts:
            cts = self._cts or other._cts
        else:
            backend = self._context._backend
            cts = tuple(
                tuple(_add(backend, a, b) for a, b in zip(ca, cb, strict=True))
                for ca, cb in zip(self._cts, other._cts, strict=True)
            )
        return self._with(cts=cts, bound=bound, count=self._count + other._count)

    def _with(
        self, *, cts: tuple[tuple[Any, ...], ...], bound: float, count: int
    ) -> EncryptedVector:
        return EncryptedVector(
            context=self._context,
            kind=self._kind,
            cts=cts,
            lengths=self._lengths,
            bound=bound,
            packing=self._packing,
            n_features=self._n_features,
            count=count,
            radius=self._radius,
        )

    def to_bytes(self) -> bytes:
        """Serialize: format version byte, context fingerprint, JSON header, SEAL ciphertexts."""
        backend = self._context._backend
        header = {
            "kind": self._kind.value,
            "lengths": list(self._lengths),
            "bound": self._bound,
            "packing": self._packing,
            "n_features": self._n_features,
            "count": self._count,
            "radius": self._radius,
            "width": len(self._cts[0]) if self._cts else 0,
        }
        parts = tuple(backend.save(ct) for chunk in self._cts for ct in chunk)
        return _wire.pack(
            _wire.Message(
                kind=_wire.Kind.VECTOR, fingerprint=self._context._fp, header=header, parts=parts
            )
        )

    @classmethod
    def from_bytes(cls, data: bytes, public_context: PublicContext) -> EncryptedVector:
        """Load a vector written by :meth:`to_bytes` under ``public_context``.

        Raises:
            ContextMismatch: The vector was made under another context.
            ParameterError: A chunk is longer than the slot count, or a bound exceeds the limit.
            IntegrityError: Malformed or truncated data.
        """
        message = _wire.unpack(data, expected=_wire.Kind.VECTOR)
        check_context(message.fingerprint, public_context, "vector")
        h = message.header
        try:
            kind = VectorKind(_wire.get_str(h, "kind"))
        except ValueError as exc:
            raise IntegrityError("the vector payload has an unknown kind") from exc
        lengths = tuple(_wire.get_list(h, "lengths", int))
        check_lengths(lengths, public_context)
        width = _wire.get_int(h, "width")
        bound = _wire.get_float(h, "bound")
        if not 0 <= bound <= public_context.value_limit:
            raise ParameterError(
                f"the vector's bound exceeds the encodable limit {public_context.value_limit:,.0f}"
            )
        n_chunks = len(lengths) if kind in _PER_RECORD else min(1, len(message.parts))
        if kind in _PER_RECORD and width != _WIDTH[kind]:
            raise IntegrityError("the vector payload has the wrong number of ciphertexts")
        if width * n_chunks != len(message.parts):
            raise IntegrityError("the vector payload has the wrong number of ciphertexts")
        packing = _packing(h)
        n_features = _wire.get_int(h, "n_features")
        groups = (n_features + 1) // 2 if packing == "complex" else n_features
        if kind not in _PER_RECORD and message.parts and width != groups:
            raise IntegrityError("the vector payload has the wrong number of ciphertexts")
        backend = public_context._backend
        cts = [backend.load(part) for part in message.parts]
        return cls(
            context=public_context,
            kind=kind,
            cts=tuple(tuple(cts[i * width : (i + 1) * width]) for i in range(n_chunks)),
            lengths=lengths,
            bound=bound,
            packing=packing,
            n_features=n_features,
            count=_wire.get_int(h, "count"),
            radius=_wire.get_float(h, "radius"),
        )

    def _decrypt(self, backend: Any) -> tuple[np.ndarray, np.ndarray | None]:
        # Owner side: returns the values and, for probabilities, the margins.
        if self._kind in _PER_RECORD:
            first = [backend.decrypt(c[0], complex_slots=False)[:n] for c, n in self._parts()]
            values = np.concatenate(first) if first else np.empty(0)
            if self._kind is VectorKind.SCORE:
                return values * self._radius, None
            second = [backend.decrypt(c[1], complex_slots=False)[:n] for c, n in self._parts()]
            margins = np.concatenate(second) if second else np.empty(0)
            return values, margins * self._radius
        out = np.zeros(self._n_features)
        if self._cts:
            is_complex = self._packing == "complex"
            for g, ct in enumerate(self._cts[0]):
                total = complex(backend.decrypt(ct, complex_slots=is_complex).sum())
                if is_complex:
                    out[2 * g] = total.real
                    if 2 * g + 1 < self._n_features:
                        out[2 * g + 1] = total.imag
                else:
                    out[g] = total.real
        return out, None

    def _parts(self) -> zip[tuple[tuple[Any, ...], int]]:
        return zip(self._cts, self._lengths, strict=True)

    def __reduce__(self) -> NoReturn:
        raise TypeError("EncryptedVector does not pickle; ship EncryptedVector.to_bytes()")

    def __repr__(self) -> str:
        return (
            f"EncryptedVector(kind={self._kind.value!r}, length={len(self)}, "
            f"fingerprint={self.fingerprint!r})"
        )


def check_lengths(lengths: Sequence[int], context: PublicContext) -> None:
    """Raise ParameterError if a chunk length is not within 1..slot_count."""
    for n in lengths:
        if not 1 <= n <= context.slot_count:
            raise ParameterError(
                f"a chunk of {n} values does not fit one ciphertext: "
                f"1 to {context.slot_count} values (the slot count)"
            )


def _packing(header: dict[str, Any]) -> str:
    packing = _wire.get_str(header, "packing")
    if packing not in ("real", "complex"):
        raise IntegrityError("the payload has an unknown packing")
    return packing


def _add(backend: Any, a: Any, b: Any) -> Any:
    a, b = backend.align(a, b)
    if a.scale != b.scale:
        raise ParameterError("the vectors' ciphertexts have different scales and cannot add")
    return backend.add_many([a, b])
