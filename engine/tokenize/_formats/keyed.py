"""Per-column key derivation, tweaks, cipher cache and the small-domain permutation."""

from __future__ import annotations

import hashlib
from typing import Any, Final

import numpy as np
from Crypto.Cipher import AES
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from numpy.typing import NDArray

from engine.keys import KeyMaterial
from engine.tokenize._ff1 import FF1
from engine.tokenize._ff3 import FF3_1
from engine.tokenize._formats.options import Kind, Scheme

__all__ = ["NIST_MIN_DOMAIN", "ColumnKeys", "derive_key", "hash_context"]

# NIST SP 800-38G Rev. 1, §5.2: radix^minlen >= 1,000,000.
NIST_MIN_DOMAIN: Final = 1_000_000
_LABEL: Final = b"finveil/tokenize/v1/"


def derive_key(secret: bytes, kind: Kind, purpose: str, length: int) -> bytes:
    """Return ``length`` bytes of HKDF-SHA256 output for one kind and purpose."""
    # SECURITY: one independent key per (kind, purpose): FPE, the permutation tables,
    # the whitening PRF and AES-SIV never share key bytes.
    info = _LABEL + kind.value.encode() + b"/" + purpose.encode()
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(secret)


def _ecb(aes: Any, blocks: NDArray[np.uint8]) -> NDArray[np.uint8]:
    flat = np.ascontiguousarray(blocks, dtype=np.uint8).reshape(-1)
    out = np.empty_like(flat)
    aes.encrypt(memoryview(flat), output=memoryview(out))  # type: ignore[arg-type]
    return out.reshape(blocks.shape)


class ColumnKeys:
    """The keys, tweaks and caches of one column of one kind.

    Args:
        key: The key material of the kind.
        kind: The kind of the column.
        scheme: FF1 or FF3-1.
        label: The tweak label (the column name by default).
    """

    __slots__ = (
        "_ciphers",
        "_fpe_key",
        "_prp_aes",
        "_prp_cache",
        "_seed",
        "_white_aes",
        "key",
        "kind",
        "scheme",
        "tweak_id",
    )

    def __init__(self, key: KeyMaterial, kind: Kind, scheme: Scheme, label: str) -> None:
        self.key = key
        self.kind = kind
        self.scheme = scheme
        secret = key.secret
        self._fpe_key = derive_key(secret, kind, "fpe/" + scheme.value, 32)
        self._prp_aes = AES.new(derive_key(secret, kind, "prp", 32), AES.MODE_ECB)
        self._white_aes = AES.new(derive_key(secret, kind, "whiten", 32), AES.MODE_ECB)
        # The tweak seed is public: it depends on the kind and the label only.
        self._seed = hashlib.sha256(
            b"finveil/tokenize/tweak/v1\x00" + kind.value.encode() + b"\x00" + label.encode()
        ).digest()
        self.tweak_id = "tw1:" + self._seed[:8].hex()
        self._ciphers: dict[int, FF1 | FF3_1] = {}
        self._prp_cache: dict[tuple[str, int], tuple[NDArray[np.int64], NDArray[np.int64]]] = {}

    def siv_key(self) -> bytes:
        """Return the 64-byte AES-SIV key of this kind."""
        return derive_key(self.key.secret, self.kind, "siv", 64)

    def associated_data(self) -> bytes:
        """Return the 32-byte public column label used as AES-SIV associated data."""
        return hashlib.sha256(self._seed + b"siv").digest()

    def tweak(self, part: str) -> bytes:
        """Return the cipher tweak of one part of the format (16 bytes FF1, 7 bytes FF3-1)."""
        digest = hashlib.sha256(self._seed + part.encode()).digest()
        return digest[:7] if self.scheme is Scheme.FF3_1 else digest[:16]

    def cipher(self, radix: int) -> FF1 | FF3_1:
        """Return the (cached) FPE cipher for ``radix``."""
        found = self._ciphers.get(radix)
        if found is None:
            cls = FF3_1 if self.scheme is Scheme.FF3_1 else FF1
            # Only the numeral API is used; radices above 36 need some alphabet.
            alphabet = None if radix <= 36 else "".join(map(chr, range(radix)))
            found = cls(self._fpe_key, radix=radix, alphabet=alphabet)
            self._ciphers[radix] = found
        return found

    def prp(self, part: str, size: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Return (forward, inverse) tables of the keyed permutation of [0, size).

        The domain is sorted by AES(key, tweak || i) into a keyed cycle, and each value maps
        to its successor on the cycle; computed once per (part, size).
        """
        cached = self._prp_cache.get((part, size))
        if cached is not None:
            return cached
        # The size is in the tweak: tables of two sizes are unrelated, not prefixes.
        label = f"prp/{part}/{size}".encode()
        tweak = hashlib.sha256(self._seed + label).digest()[:8]
        blocks = np.empty((size, 16), dtype=np.uint8)
        blocks[:, :8] = np.frombuffer(tweak, dtype=np.uint8)
        index = np.arange(size, dtype=">u8")
        blocks[:, 8:] = index.view(np.uint8).reshape(size, 8)
        prf = _ecb(self._prp_aes, blocks)[:, :8].copy().view(">u8").reshape(size)
        order = np.argsort(prf, kind="stable").astype(np.int64)
        # SECURITY: one cycle through the whole domain, so no value is its own token (a
        # random permutation of a small domain, such as dates, has fixed points: a birth
        # date would then appear in the output unchanged). Knowing that a token differs
        # from its value tells an observer nothing about either.
        forward = np.empty(size, dtype=np.int64)
        forward[order] = np.roll(order, -1)
        inverse = np.empty(size, dtype=np.int64)
        inverse[forward] = np.arange(size, dtype=np.int64)
        self._prp_cache[(part, size)] = (forward, inverse)
        return forward, inverse

    def offsets(self, part: str, context: NDArray[np.uint64], width: int) -> NDArray[np.int64]:
        """Return keyed per-row offsets (rows, width), each in [0, 65536).

        They bind the kept parts of a value (BIN, domain, country) into its token.
        """
        result: NDArray[np.int64] = self.offsets16(part, context, width).astype(np.int64)
        return result

    def offsets16(self, part: str, context: NDArray[np.uint64], width: int) -> NDArray[np.uint16]:
        """Return the offsets of ``offsets`` as a native uint16 array."""
        rows = context.shape[0]
        nblocks = max(1, (2 * width + 15) // 16)
        tweak = hashlib.sha256(self._seed + b"whiten/" + part.encode()).digest()[:7]
        blocks = np.empty((rows, nblocks, 16), dtype=np.uint8)
        blocks[:, :, :7] = np.frombuffer(tweak, dtype=np.uint8)
        blocks[:, :, 7] = np.arange(nblocks, dtype=np.uint8)[None, :]
        ctx = np.ascontiguousarray(context.astype(">u8")).view(np.uint8).reshape(rows, 8)
        blocks[:, :, 8:] = ctx[:, None, :]
        out = _ecb(self._white_aes, blocks).reshape(rows, nblocks * 16)
        # Byte pairs read as big-endian 16-bit integers.
        pairs = np.ascontiguousarray(out[:, : 2 * width]).view(">u2")
        result: NDArray[np.uint16] = pairs.astype(np.uint16)
        return result


def hash_context(values: NDArray[Any]) -> NDArray[np.uint64]:
    """Return a 64-bit hash of each string, computed once per distinct value."""
    uniques, inverse = np.unique(values.astype(str), return_inverse=True)
    hashed = np.fromiter(
        (
            int.from_bytes(hashlib.sha256(u.encode("utf-8", "surrogatepass")).digest()[:8])
            for u in uniques.tolist()
        ),
        dtype=np.uint64,
        count=uniques.shape[0],
    )
    result: NDArray[np.uint64] = hashed[inverse.reshape(-1)]
    return result
