"""The public CKKS context that workers hold: encrypt and evaluate, never decrypt."""

from __future__ import annotations

import hmac
from typing import Any, NoReturn

from engine.errors import HEError, IntegrityError
from engine.he import _tenseal, _wire
from engine.he._params import CKKSParams

__all__ = ["PublicContext", "needs_relin_keys"]


def needs_relin_keys(params: CKKSParams) -> bool:
    """Whether the public context of ``params`` carries relinearization keys.

    Only parameter sets deep enough for a polynomial (depth >= 2) multiply ciphertexts by
    ciphertexts; linear scores, sums and means need neither relinearization nor Galois keys.
    """
    return params.depth >= 2


class PublicContext:
    """The public half of a CKKS key pair, shipped to workers as bytes.

    It holds the public key (and relinearization keys for polynomial presets), never a secret
    key and never Galois keys. Every ciphertext made under it is tagged with its
    ``fingerprint`` (truncated SHA-256 of the parameters and the serialized context), so mixing
    contexts raises ``ContextMismatch`` instead of decrypting to garbage.

    Build one with ``CKKSKeys.public_context()`` or ``PublicContext.from_bytes(data)``.
    """

    __slots__ = ("_backend", "_blob", "_ctx", "_fp", "_params")

    def __init__(self, *, params: CKKSParams, blob: bytes, ctx: Any, fp: bytes) -> None:
        # Private: use CKKSKeys.public_context() or PublicContext.from_bytes().
        self._params = params
        self._blob = blob
        self._ctx = ctx
        self._fp = fp
        self._backend = _tenseal.Backend(ctx, params)

    @classmethod
    def _load(
        cls, params: CKKSParams, blob: bytes, *, expected: bytes | None = None
    ) -> PublicContext:
        fp = _wire.fingerprint(params.to_json(), blob)
        if expected is not None and not hmac.compare_digest(fp, expected):
            raise IntegrityError("the public context does not match its fingerprint")
        ctx = _tenseal.load_context(blob)
        # SECURITY: a worker-side context never holds a secret key, whatever the bytes say.
        if _tenseal.has_secret_key(ctx):
            raise IntegrityError("the public context bytes carry a secret key; refusing them")
        if _tenseal.has_galois_keys(ctx):
            raise IntegrityError("the public context bytes carry Galois keys; none are needed")
        if _tenseal.context_shape(ctx) != (params.poly_modulus_degree, params.coeff_mod_bit_sizes):
            raise IntegrityError("the public context does not match its CKKS parameters")
        return cls(params=params, blob=blob, ctx=ctx, fp=fp)

    @classmethod
    def from_bytes(cls, data: bytes) -> PublicContext:
        """Load a public context written by :meth:`to_bytes`.

        Raises:
            IntegrityError: Malformed bytes, a fingerprint mismatch, or a context that carries
                a secret key.
            ParameterError: The embedded parameters are invalid.
        """
        message = _wire.unpack(data, expected=_wire.Kind.PUBLIC_CONTEXT)
        if len(message.parts) != 1:
            raise IntegrityError("the public context payload is malformed")
        params = CKKSParams.from_json(_wire.get_str(message.header, "params"))
        return cls._load(params, message.parts[0], expected=message.fingerprint)

    def to_bytes(self) -> bytes:
        """Serialize: format version byte, fingerprint, parameters, TenSEAL public context."""
        header = {"params": self._params.to_json()}
        message = _wire.Message(
            kind=_wire.Kind.PUBLIC_CONTEXT, fingerprint=self._fp, header=header, parts=(self._blob,)
        )
        return _wire.pack(message)

    @property
    def params(self) -> CKKSParams:
        """The CKKS parameter set."""
        return self._params

    @property
    def slot_count(self) -> int:
        """Records per ciphertext (N/2): the natural chunk size for workers."""
        return self._params.slot_count

    @property
    def value_limit(self) -> float:
        """The largest magnitude any encrypted value or result may reach."""
        return self._params.value_limit

    @property
    def fingerprint(self) -> str:
        """The context fingerprint (hex) that tags every ciphertext payload."""
        return self._fp.hex()

    @property
    def has_secret_key(self) -> bool:
        """Whether the underlying context holds a secret key (always False; checked on load)."""
        return _tenseal.has_secret_key(self._ctx)

    @property
    def has_relin_keys(self) -> bool:
        """Whether ciphertext x ciphertext multiplication (the polynomial sigmoid) is possible."""
        return _tenseal.has_relin_keys(self._ctx)

    @property
    def has_galois_keys(self) -> bool:
        """Whether rotations are possible (always False: no FinVeil operation rotates)."""
        return _tenseal.has_galois_keys(self._ctx)

    def describe(self) -> dict[str, Any]:
        """Return a JSON-ready summary for manifests and job metrics (no key material)."""
        p = self._params
        return {
            "scheme": "CKKS",
            "preset": p.name,
            "poly_modulus_degree": p.poly_modulus_degree,
            "coeff_mod_bit_sizes": list(p.coeff_mod_bit_sizes),
            "log_q": p.log_q,
            "scale_bits": p.scale_bits,
            "depth": p.depth,
            "slot_count": p.slot_count,
            "security_bits": p.security_bits,
            "value_limit": p.value_limit,
            "fingerprint": self.fingerprint,
            "has_relin_keys": self.has_relin_keys,
            "has_galois_keys": self.has_galois_keys,
            "has_secret_key": self.has_secret_key,
        }

    def decrypt(self, encrypted: object) -> NoReturn:
        """Refuse: a public context has no secret key.

        Raises:
            HEError: Always; decrypt with the owner's ``CKKSKeys``.
        """
        raise HEError(
            "a PublicContext holds no secret key and cannot decrypt; "
            "only the data owner's CKKSKeys can"
        )

    def __reduce__(self) -> NoReturn:
        raise TypeError("PublicContext does not pickle; ship PublicContext.to_bytes() instead")

    def __repr__(self) -> str:
        return f"PublicContext(preset={self._params.name!r}, fingerprint={self.fingerprint!r})"
