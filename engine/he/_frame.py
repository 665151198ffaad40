"""EncryptedFrame: column-packed CKKS ciphertexts of a numeric matrix, and its evaluations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, NoReturn

import numpy as np

from engine.errors import IntegrityError, ParameterError, ScaleExhausted
from engine.he import _evaluate, _inputs, _wire
from engine.he._context import PublicContext
from engine.he._sigmoid import SigmoidPolynomial
from engine.he._vector import EncryptedVector, VectorKind, check_context, check_lengths

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["EncryptedFrame"]

Packing = Literal["auto", "real", "complex"]


class EncryptedFrame:
    """A numeric matrix encrypted column by column: one ciphertext per feature per chunk.

    Each chunk holds up to ``slot_count`` records (4,096 for ``CKKSParams.DEFAULT``); a
    ciphertext holds one feature of every record in the chunk (``packing="real"``) or two
    features as the real and imaginary parts of each slot (``packing="complex"``, half the
    ciphertexts: half the encryption time and bytes). A linear model is then one
    ciphertext x plaintext multiply per ciphertext and one add, with no rotations.

    ``packing="auto"`` (default) packs complex unless the context can evaluate polynomials
    (has relinearization keys), where ``logistic`` needs real packing.

    CKKS is approximate: decrypted values carry an absolute error of about 1e-8 at scale 2^40
    (``CKKSParams.expected_error`` is a conservative bound per level).
    """

    __slots__ = ("_bounds", "_columns", "_context", "_cts", "_lengths", "_named", "_packing")

    def __init__(
        self,
        *,
        context: PublicContext,
        columns: tuple[str, ...],
        named: bool,
        packing: str,
        lengths: tuple[int, ...],
        cts: tuple[tuple[Any, ...], ...],
        bounds: tuple[float, ...],
    ) -> None:
        # Private: use EncryptedFrame.encrypt or EncryptedFrame.from_bytes.
        self._context = context
        self._columns = columns
        self._named = named
        self._packing = packing
        self._lengths = lengths
        self._cts = cts
        self._bounds = bounds

    @classmethod
    def encrypt(
        cls,
        x: np.ndarray | pd.DataFrame,
        public_context: PublicContext,
        *,
        nan: _inputs.NaNPolicy = "reject",
        packing: Packing = "auto",
    ) -> EncryptedFrame:
        """Encrypt a 2-D numeric array or DataFrame (records x features) column by column.

        Args:
            x: The plaintext features; DataFrame column names are kept.
            public_context: The context to encrypt under (no secret key needed).
            nan: ``"reject"`` (default), or per-column fill values (a sequence in column order
                or a mapping column -> value) fitted by the owner, e.g. training medians.
                Infinities are always rejected.
            packing: ``"auto"``, ``"real"`` or ``"complex"`` (see the class docstring).

        Returns:
            The encrypted frame.

        Raises:
            InputError: Non-numeric columns, NaN (under ``"reject"``) or infinities; the
                message names the column and row.
            ParameterError: A column exceeds the encodable range ``value_limit`` (names the
                column and the limit).
            ValueError: X is not 2-D, or fill values do not match the columns.
        """
        values, columns, named = _inputs.as_matrix(x)
        values = _inputs.fill_missing(values, columns, nan)
        chosen = _choose_packing(packing, public_context)
        bounds = _inputs.column_bounds(
            values, columns, limit=public_context.value_limit, is_complex=chosen == "complex"
        )
        backend = public_context._backend
        slots = public_context.slot_count
        lengths = tuple(min(slots, len(values) - s) for s in range(0, len(values), slots))
        chunks = []
        for start, n in zip(range(0, len(values), slots), lengths, strict=True):
            block = values[start : start + n]
            chunks.append(tuple(backend.encrypt(v) for v in _evaluate.split_columns(block, chosen)))
        return cls(
            context=public_context,
            columns=columns,
            named=named,
            packing=chosen,
            lengths=lengths,
            cts=tuple(chunks),
            bounds=bounds,
        )

    @property
    def count(self) -> int:
        """The number of records (public metadata)."""
        return sum(self._lengths)

    @property
    def n_features(self) -> int:
        """The number of feature columns."""
        return len(self._columns)

    @property
    def columns(self) -> tuple[str, ...]:
        """Column names (``x0, x1, ...`` when encrypted from a numpy array)."""
        return self._columns

    @property
    def has_column_names(self) -> bool:
        """Whether the names came from a DataFrame (and so can be checked against a model)."""
        return self._named

    @property
    def packing(self) -> str:
        """``"real"`` or ``"complex"``."""
        return self._packing

    @property
    def chunk_lengths(self) -> tuple[int, ...]:
        """Records per chunk (each at most the slot count)."""
        return self._lengths

    @property
    def fingerprint(self) -> str:
        """The fingerprint (hex) of the context the frame was encrypted under."""
        return self._context.fingerprint

    def __len__(self) -> int:
        return self.count

    def linear(self, weights: Any, intercept: float = 0.0) -> EncryptedVector:
        """Encrypted linear scores ``X @ weights + intercept``, one per record.

        One ciphertext x plaintext multiply per ciphertext, one add, one rescale per chunk;
        no rotations, no relinearization, one level.

        Raises:
            ValueError: ``weights`` has the wrong length (names expected and actual).
            ParameterError: ``|intercept| + sum_j |w_j| * bound_j`` could exceed the limit.
            ScaleExhausted: The context has no level for the multiply.
        """
        w = _inputs.weight_vector(weights, self.n_features)
        b = _inputs.check_finite(intercept, "intercept")
        self._require_levels(1, "a linear score")
        bound = self._score_bound(w, b)
        cts = self._linear_cts(w, b)
        return self._vector(VectorKind.SCORE, tuple((ct,) for ct in cts), bound=bound)

    def logistic(
        self,
        weights: Any,
        intercept: float = 0.0,
        *,
        input_range: tuple[float, float] = (-8.0, 8.0),
        degree: int = 9,
    ) -> EncryptedVector:
        """Encrypted polynomial-sigmoid probabilities of the linear margin, one per record.

        Uses ``SigmoidPolynomial(degree, input_range)`` (max error 0.0123 for degree 9 on
        [-8, 8]; see its docstring). The result also carries the margin (scaled by 1/R), so
        the owner's ``CKKSKeys.decrypt`` detects margins outside ``input_range``, where the
        polynomial is meaningless, and raises (or recomputes them exactly, on request).
        Needs ``degree // 2 + 2`` levels (6 for degree 9, as in ``CKKSParams.LOGISTIC``),
        relinearization keys and real packing.

        Raises:
            ScaleExhausted: The context has fewer levels than the polynomial needs.
            ParameterError: Complex packing, no relinearization keys, or range overflow.
            ValueError: Wrong weight count, a bad degree or range.
        """
        w = _inputs.weight_vector(weights, self.n_features)
        b = _inputs.check_finite(intercept, "intercept")
        poly = SigmoidPolynomial(degree=degree, input_range=input_range)
        self._require_levels(poly.levels, f"a degree-{degree} polynomial sigmoid")
        if self._packing != "real":
            raise ParameterError(
                "logistic needs a frame encrypted with packing='real' (complex packing mixes "
                "two features per slot); CKKSParams.LOGISTIC contexts pack real by default"
            )
        if not self._context.has_relin_keys:
            raise ParameterError("logistic needs a public context with relinearization keys")
        r = poly.radius
        self._score_bound(w / r, b / r)
        coef = poly.coefficients
        backend = self._context._backend
        us = self._linear_cts(w / r, b / r)
        ts = self._linear_cts(w * (coef[-1] / r), b * coef[-1] / r)
        chunks = tuple(
            (_evaluate.sigmoid(backend, u, t, coef), u) for u, t in zip(us, ts, strict=True)
        )
        return self._vector(VectorKind.PROBABILITY, chunks, bound=1.0, radius=r)

    def column_sums(self) -> EncryptedVector:
        """Encrypted per-column sums over all records (ciphertext additions only, no level).

        Raises:
            ParameterError: A per-slot partial sum could exceed the encodable limit.
        """
        bound = self._sum_bound()
        return self._vector(VectorKind.COLUMN_SUMS, self._sum_cts(), bound=bound)

    def column_means(self) -> EncryptedVector:
        """Encrypted per-column means: the sums times the public 1/count (one level).

        Raises:
            ValueError: The frame is empty.
            ParameterError: A partial sum could exceed the encodable limit.
            ScaleExhausted: The context has no level for the multiply.
        """
        if self.count == 0:
            raise ValueError("the frame is empty: no mean")
        self._require_levels(1, "a column mean")
        bound = self._sum_bound() / self.count
        backend = self._context._backend
        sums = self._sum_cts()[0]
        inv = backend.encode_constant(1.0 / self.count, like=sums[0], scale=backend.scale)
        means = tuple(backend.rescale(backend.multiply_plain(ct, inv)) for ct in sums)
        return self._vector(VectorKind.COLUMN_MEANS, (means,), bound=bound)

    def _require_levels(self, needed: int, what: str) -> None:
        have = self._context._backend.first_level
        if have < needed:
            raise ScaleExhausted(
                f"{what} needs {needed} level(s); context {self._context.params.name!r} has "
                f"{have} (its modulus chain is exhausted)"
            )

    def _score_bound(self, w: np.ndarray, b: float) -> float:
        weights = _evaluate.group_weights(w, self._packing)
        bounds = _evaluate.group_bounds(self._bounds, self._packing)
        bound = abs(b) + sum(abs(c) * m for c, m in zip(weights, bounds, strict=True))
        if bound > self._context.value_limit:
            raise ParameterError(
                "the score bound |intercept| + sum |w_j| * max|x_j| exceeds the encodable limit "
                f"{self._context.value_limit:,.0f}: standardize the features or scale the model"
            )
        return bound

    def _linear_cts(self, w: np.ndarray, b: float) -> list[Any]:
        weights = _evaluate.group_weights(w, self._packing)
        return _evaluate.linear(self._context._backend, self._cts, weights, b)

    def _sum_bound(self) -> float:
        n_chunks = len(self._cts)
        limit = self._context.value_limit
        bounds = _evaluate.group_bounds(self._bounds, self._packing)
        for g, m in enumerate(bounds):
            if m * n_chunks > limit:
                name = self._columns[2 * g if self._packing == "complex" else g]
                raise ParameterError(
                    f"column sums of {name!r} could exceed the encodable limit {limit:,.0f}; "
                    "sum smaller batches and add the EncryptedVectors"
                )
        return max((m * n_chunks for m in bounds), default=0.0)

    def _sum_cts(self) -> tuple[tuple[Any, ...], ...]:
        return _evaluate.sums(self._context._backend, self._cts)

    def _vector(
        self,
        kind: VectorKind,
        cts: tuple[tuple[Any, ...], ...],
        *,
        bound: float,
        radius: float = 1.0,
    ) -> EncryptedVector:
        per_record = kind in (VectorKind.SCORE, VectorKind.PROBABILITY)
        return EncryptedVector(
            context=self._context,
            kind=kind,
            cts=cts,
            lengths=self._lengths if per_record else (),
            bound=bound,
            packing=self._packing,
            n_features=self.n_features,
            count=self.count,
            radius=radius,
        )

    def to_bytes(self) -> bytes:
        """Serialize: format version byte, context fingerprint, JSON header, SEAL ciphertexts.

        The header holds the column names, packing, chunk lengths and per-column bounds
        (powers of two); no plaintext value.
        """
        backend = self._context._backend
        header = {
            "columns": list(self._columns),
            "named": self._named,
            "packing": self._packing,
            "lengths": list(self._lengths),
            "bounds": list(self._bounds),
        }
        parts = tuple(backend.save(ct) for chunk in self._cts for ct in chunk)
        message = _wire.Message(
            kind=_wire.Kind.FRAME, fingerprint=self._context._fp, header=header, parts=parts
        )
        return _wire.pack(message)

    @classmethod
    def from_bytes(cls, data: bytes, public_context: PublicContext) -> EncryptedFrame:
        """Load a frame written by :meth:`to_bytes` under ``public_context``.

        Raises:
            ContextMismatch: The frame was encrypted under another context.
            ParameterError: A chunk is longer than the slot count or a bound exceeds the limit.
            IntegrityError: Malformed or truncated data.
        """
        message = _wire.unpack(data, expected=_wire.Kind.FRAME)
        check_context(message.fingerprint, public_context, "frame")
        h = message.header
        columns = tuple(_wire.get_list(h, "columns", str))
        bounds = tuple(float(v) for v in _wire.get_list(h, "bounds", (int, float)))
        lengths = tuple(_wire.get_list(h, "lengths", int))
        packing = _wire.get_str(h, "packing")
        named = h.get("named")
        if packing not in ("real", "complex") or not isinstance(named, bool) or not columns:
            raise IntegrityError("the frame payload header is malformed")
        if len(bounds) != len(columns) or any(
            not 0 <= v <= public_context.value_limit for v in bounds
        ):
            raise ParameterError(
                f"the frame's bounds exceed the encodable limit {public_context.value_limit:,.0f}"
            )
        check_lengths(lengths, public_context)
        width = (len(columns) + 1) // 2 if packing == "complex" else len(columns)
        if width * len(lengths) != len(message.parts):
            raise IntegrityError("the frame payload has the wrong number of ciphertexts")
        backend = public_context._backend
        cts = [backend.load(p) for p in message.parts]
        chunks = tuple(tuple(cts[i * width : (i + 1) * width]) for i in range(len(lengths)))
        return cls(
            context=public_context,
            columns=columns,
            named=named,
            packing=packing,
            lengths=lengths,
            cts=chunks,
            bounds=bounds,
        )

    def _decrypt(self, backend: Any) -> np.ndarray:
        # Owner side: the full (records x features) matrix.
        out = np.empty((self.count, self.n_features))
        is_complex = self._packing == "complex"
        start = 0
        for chunk, n in zip(self._cts, self._lengths, strict=True):
            for g, ct in enumerate(chunk):
                slots = backend.decrypt(ct, complex_slots=is_complex)[:n]
                if is_complex:
                    out[start : start + n, 2 * g] = slots.real
                    if 2 * g + 1 < self.n_features:
                        out[start : start + n, 2 * g + 1] = slots.imag
                else:
                    out[start : start + n, g] = slots
            start += n
        return out

    def __reduce__(self) -> NoReturn:
        raise TypeError("EncryptedFrame does not pickle; ship EncryptedFrame.to_bytes()")

    def __repr__(self) -> str:
        return (
            f"EncryptedFrame(count={self.count}, n_features={self.n_features}, "
            f"packing={self._packing!r}, fingerprint={self.fingerprint!r})"
        )


def _choose_packing(packing: str, context: PublicContext) -> str:
    if packing == "auto":
        return "real" if context.has_relin_keys else "complex"
    if packing not in ("real", "complex"):
        raise ValueError("packing must be 'auto', 'real' or 'complex'")
    return packing
