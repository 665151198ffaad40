"""The data owner's CKKS keys: generation, the public split, decryption, serialization."""

from __future__ import annotations

import hmac
from typing import Any, Literal, NoReturn

import numpy as np

from engine.errors import IntegrityError, ParameterError
from engine.he import _tenseal, _wire
from engine.he._context import PublicContext, needs_relin_keys
from engine.he._frame import EncryptedFrame
from engine.he._params import CKKSParams
from engine.he._vector import EncryptedVector, VectorKind, check_context

__all__ = ["CKKSKeys"]

OutOfRange = Literal["raise", "exact"]


class CKKSKeys:
    """The owner's CKKS key pair: the only object that can decrypt.

    ``public_context()`` is what workers get (as bytes): the public key, plus relinearization
    keys only for presets deep enough for the polynomial sigmoid; never the secret key and
    never Galois keys.

    Example:
        >>> import numpy as np
        >>> keys = CKKSKeys.generate()
        >>> public = PublicContext.from_bytes(keys.public_context().to_bytes())  # worker
        >>> frame = EncryptedFrame.encrypt(np.array([[1.0, 2.0], [3.0, 4.0]]), public)
        >>> blob = frame.linear([0.5, -1.0], intercept=2.0).to_bytes()
        >>> np.round(keys.decrypt(blob), 6).tolist()  # owner
        [0.5, -0.5]
    """

    __slots__ = ("_backend", "_ctx", "_params", "_public")

    def __init__(self, *, params: CKKSParams, ctx: Any, public: PublicContext) -> None:
        # Private: use CKKSKeys.generate() or CKKSKeys.from_bytes().
        self._params = params
        self._ctx = ctx
        self._public = public
        self._backend = _tenseal.Backend(ctx, params)

    @classmethod
    def generate(cls, preset: CKKSParams = CKKSParams.DEFAULT) -> CKKSKeys:
        """Generate a fresh key pair for ``preset`` (owner side).

        Raises:
            ParameterError: SEAL rejects the parameters.
        """
        ctx = _tenseal.create_context(preset)
        blob = _tenseal.serialize_context(
            ctx, secret_key=False, relin_keys=needs_relin_keys(preset)
        )
        return cls(params=preset, ctx=ctx, public=PublicContext._load(preset, blob))

    @property
    def params(self) -> CKKSParams:
        """The CKKS parameter set."""
        return self._params

    @property
    def fingerprint(self) -> str:
        """The fingerprint (hex) of the public context."""
        return self._public.fingerprint

    def public_context(self) -> PublicContext:
        """Return the public context for workers (no secret key, no Galois keys)."""
        return self._public

    def decrypt(
        self,
        encrypted: EncryptedVector | EncryptedFrame | bytes,
        *,
        on_out_of_range: OutOfRange = "raise",
    ) -> np.ndarray:
        """Decrypt a vector, a frame, or the bytes of either.

        Per-record vectors decrypt to one float per record (chunks concatenated); column sums
        and means to one float per feature; a frame to a (records x features) matrix. CKKS
        is approximate: expect an absolute error of about 1e-8 at scale 2^40.

        For ``PROBABILITY`` vectors the margins are decrypted too and checked against the
        sigmoid's input range: ``on_out_of_range="raise"`` raises, ``"exact"`` replaces those
        records' probabilities by the exact sigmoid of their decrypted margins.

        Raises:
            ContextMismatch: The payload was made under another context.
            ParameterError: Margins outside the sigmoid input range (with ``"raise"``).
            IntegrityError: Malformed bytes.
        """
        item = self._parse(encrypted) if isinstance(encrypted, bytes | bytearray) else encrypted
        check_context(item._context._fp, self._public, type(item).__name__)
        if isinstance(item, EncryptedFrame):
            return item._decrypt(self._backend)
        values, margins = item._decrypt(self._backend)
        if item.kind is not VectorKind.PROBABILITY or margins is None:
            return values
        outside = np.flatnonzero(np.abs(margins) > item._radius)
        if outside.size == 0:
            return values
        if on_out_of_range == "exact":
            values = values.copy()
            values[outside] = 1.0 / (1.0 + np.exp(-margins[outside]))
            return values
        raise ParameterError(
            f"{outside.size} of {len(margins)} margins fall outside the sigmoid input range "
            f"(-{item._radius:g}, {item._radius:g}), first at record {outside[0]}: widen "
            "input_range or decrypt with on_out_of_range='exact'"
        )

    def _parse(self, data: bytes | bytearray) -> EncryptedVector | EncryptedFrame:
        kind = data[5] if len(data) > 5 else -1
        if kind == _wire.Kind.FRAME:
            return EncryptedFrame.from_bytes(bytes(data), self._public)
        return EncryptedVector.from_bytes(bytes(data), self._public)

    def to_bytes(self) -> bytes:
        """Serialize the key pair, secret key included.

        SECURITY: the result holds the secret key in the clear; wrap it with the keyring
        (envelope encryption) before it touches a disk, and never send it to a worker.
        """
        secret = _tenseal.serialize_context(
            self._ctx, secret_key=True, relin_keys=needs_relin_keys(self._params)
        )
        message = _wire.Message(
            kind=_wire.Kind.SECRET_KEYS,
            fingerprint=self._public._fp,
            header={"params": self._params.to_json()},
            parts=(self._public._blob, secret),
        )
        return _wire.pack(message)

    @classmethod
    def from_bytes(cls, data: bytes) -> CKKSKeys:
        """Load a key pair written by :meth:`to_bytes`.

        Raises:
            IntegrityError: Malformed bytes, or the secret and public parts do not belong
                together.
        """
        message = _wire.unpack(data, expected=_wire.Kind.SECRET_KEYS)
        if len(message.parts) != 2:
            raise IntegrityError("the CKKS key payload is malformed")
        params = CKKSParams.from_json(_wire.get_str(message.header, "params"))
        public = PublicContext._load(params, message.parts[0], expected=message.fingerprint)
        ctx = _tenseal.load_context(message.parts[1])
        if not _tenseal.has_secret_key(ctx):
            raise IntegrityError("the CKKS key payload holds no secret key")
        # Compare the public keys alone: relinearization keys do not re-serialize to the same
        # bytes after a load, so the LOGISTIC preset's full contexts never compare equal.
        derived = _tenseal.serialize_context(ctx, secret_key=False, relin_keys=False)
        embedded = _tenseal.serialize_context(
            _tenseal.load_context(public._blob), secret_key=False, relin_keys=False
        )
        if not hmac.compare_digest(derived, embedded):
            raise IntegrityError("the secret key does not belong to the embedded public context")
        ctx.global_scale = float(2**params.scale_bits)
        return cls(params=params, ctx=ctx, public=public)

    def __reduce__(self) -> NoReturn:
        # SECURITY: keys never travel by pickle (Ray would ship them to workers silently).
        raise TypeError("CKKSKeys must not be pickled; send keys.public_context().to_bytes()")

    def __repr__(self) -> str:
        return f"CKKSKeys(preset={self._params.name!r}, fingerprint={self.fingerprint!r})"
