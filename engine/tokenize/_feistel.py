"""Shared front end of the FF1 and FF3-1 ciphers: argument checks, alphabets, batching."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Final

import numpy as np
from Crypto.Cipher import AES
from numpy.typing import NDArray

from engine.errors import DomainError
from engine.tokenize._numeral import min_length, numeral_dtype

__all__ = ["FeistelCipher", "ecb"]

DEFAULT_ALPHABET: Final = "0123456789abcdefghijklmnopqrstuvwxyz"
RADIX_MAX: Final = 1 << 16
# Rows per internal chunk: large enough to amortise numpy call overhead, small enough that
# the working set of one Feistel round stays in cache.
CHUNK_ROWS: Final = 1 << 15
# Distinct (tweak, length) pairs whose round constants are kept per cipher.
_PLAN_CACHE: Final = 256

Numerals = NDArray[np.unsignedinteger[Any]]


def ecb(aes: Any, blocks: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Encrypt every 16-byte block of ``blocks`` (shape (..., 16)) in one AES-ECB call."""
    flat = np.ascontiguousarray(blocks).reshape(-1)
    out = np.empty_like(flat)
    aes.encrypt(flat.data, output=out.data)
    return out.reshape(blocks.shape)


def new_aes(key: bytes) -> Any:
    """Return an AES-ECB object for ``key`` after checking its type and size."""
    if not isinstance(key, bytes | bytearray):
        raise TypeError("key must be bytes")
    if len(key) not in (16, 24, 32):
        raise DomainError("key: AES keys are 16, 24 or 32 bytes long")
    return AES.new(bytes(key), AES.MODE_ECB)


class _Alphabet:
    """Map characters to numerals and back, a whole batch at a time."""

    __slots__ = ("_codes", "_has_nul", "_invalid", "_is_ascii", "_offset", "_table")

    def __init__(self, chars: str) -> None:
        points = np.array([ord(c) for c in chars], dtype=np.uint32)
        radix = len(chars)
        self._is_ascii = bool(points.max() < 128)
        self._has_nul = bool((points == 0).any())
        # A run of consecutive ASCII code points ("0123456789") maps by one subtraction.
        contiguous = self._is_ascii and bool((points == points[0] + np.arange(radix)).all())
        self._offset = int(points[0]) if contiguous else None
        size = 256 if self._is_ascii else int(points.max()) + 1
        # Any value >= radix marks a character outside the alphabet.
        self._invalid = radix
        dtype = np.uint8 if radix < 256 else np.uint16 if radix < RADIX_MAX else np.uint32
        self._table: Numerals = np.full(size, self._invalid, dtype=dtype)
        self._table[points] = np.arange(radix)
        self._codes = points

    def encode(self, joined: str, rows: int, n: int) -> tuple[Numerals, NDArray[np.bool_] | None]:
        """Return the numerals of ``rows`` joined strings of length ``n``, and the bad rows.

        The second item is None when every character is in the alphabet.
        """
        numerals: Numerals
        if self._is_ascii and joined.isascii():
            points = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
            if self._offset is not None:
                # Characters below the run wrap to >= 128 >= radix, so they stay detectable.
                numerals = points - np.uint8(self._offset)
            else:
                numerals = self._table[points]
        else:
            wide = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype="<u4")
            inside = wide < self._table.shape[0]
            numerals = self._table[np.where(inside, wide, 0)]
            numerals[~inside] = self._invalid
        shaped = numerals.reshape(rows, n)
        if shaped.size == 0 or int(shaped.max()) < self._invalid:
            return shaped, None
        bad: NDArray[np.bool_] = np.asarray((shaped >= self._invalid).any(axis=1))
        return shaped, bad

    def decode(self, numerals: Numerals) -> list[str]:
        """Return one string per row of ``numerals``."""
        rows, n = numerals.shape
        if self._offset is not None:
            codes = np.add(numerals, self._offset, dtype=np.uint32)
        else:
            codes = np.take(self._codes, numerals)
        if not self._has_nul:
            # A fixed-width unicode view makes each row one str without a Python loop (it
            # would drop trailing NULs, hence the slicing route below for such alphabets).
            texts: list[str] = codes.view(f"<U{n}").reshape(rows).tolist()
            return texts
        text = codes.astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")
        return [text[i : i + n] for i in range(0, rows * n, n)]


class FeistelCipher(ABC):
    """Common checks and batching; subclasses implement the rounds on numeral arrays."""

    __slots__ = ("_aes", "_alphabet", "_alphabet_str", "_maxlen", "_minlen", "_plans", "_radix")

    _name: ClassVar[str] = "cipher"

    def __init__(self, key: bytes, radix: int = 10, alphabet: str | None = None) -> None:
        if not isinstance(radix, int) or isinstance(radix, bool):
            raise TypeError("radix must be an int")
        if not 2 <= radix <= RADIX_MAX:
            raise DomainError(f"radix: must lie in [2, {RADIX_MAX}]")
        if alphabet is None:
            if radix > len(DEFAULT_ALPHABET):
                raise DomainError("alphabet: radix above 36 needs an explicit alphabet")
            alphabet = DEFAULT_ALPHABET[:radix]
        elif not isinstance(alphabet, str):
            raise TypeError("alphabet must be a str or None")
        if len(alphabet) != radix:
            raise DomainError("alphabet: its length must equal the radix")
        if len(set(alphabet)) != radix:
            raise DomainError("alphabet: characters must be distinct")
        self._radix = radix
        self._alphabet_str = alphabet
        self._alphabet = _Alphabet(alphabet)
        self._minlen = min_length(radix)
        self._maxlen = self._max_length(radix)
        self._aes = self._make_aes(key)
        self._plans: dict[tuple[bytes, int], Any] = {}

    # Hooks for the subclasses.
    def _make_aes(self, key: bytes) -> Any:
        return new_aes(key)

    @staticmethod
    @abstractmethod
    def _max_length(radix: int) -> int:
        """Return the longest supported length for ``radix``."""

    @abstractmethod
    def _check_tweak(self, tweak: bytes) -> bytes:
        """Return the tweak as bytes, or raise if the mode does not accept it."""

    @abstractmethod
    def _make_plan(self, tweak: bytes, n: int) -> Any:
        """Return the round constants that depend only on (tweak, n)."""

    @abstractmethod
    def _rounds(self, numerals: Numerals, plan: Any, *, decrypt: bool) -> Numerals:
        """Run the Feistel rounds over one chunk of rows."""

    def _plan(self, tweak: bytes, n: int) -> Any:
        """Return the per-(tweak, length) round constants, memoised."""
        # SECURITY: the memo holds only values derived from the tweak and public parameters
        # (CBC-MAC states of P || T), never plaintext or ciphertext.
        key = (tweak, n)
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) >= _PLAN_CACHE:
                self._plans.clear()
            plan = self._plans[key] = self._make_plan(tweak, n)
        return plan

    # Properties.
    @property
    def radix(self) -> int:
        """The number of symbols in the alphabet."""
        return self._radix

    @property
    def alphabet(self) -> str:
        """The characters, numeral 0 first."""
        return self._alphabet_str

    @property
    def minlen(self) -> int:
        """The shortest supported value length (radix**minlen >= 1,000,000)."""
        return self._minlen

    @property
    def maxlen(self) -> int:
        """The longest supported value length."""
        return self._maxlen

    def __repr__(self) -> str:
        # SECURITY: never show key material.
        return f"{type(self).__name__}(radix={self._radix})"

    # Numeral-array API.
    def encrypt_numerals(self, numerals: NDArray[np.integer[Any]], tweak: bytes) -> NDArray[Any]:
        """Encrypt every row of a (batch, n) numeral array under ``tweak``.

        Args:
            numerals: Integer array of shape (batch, n), values in [0, radix).
            tweak: The tweak, shared by the whole batch.

        Returns:
            The ciphertext numerals, same shape; same dtype when it holds radix - 1,
            else the smallest unsigned dtype that does.

        Raises:
            DomainError: n outside [minlen, maxlen], a numeral outside [0, radix), bad tweak.
            TypeError: numerals is not a 2-D integer array.
        """
        return self._apply_numerals(numerals, tweak, decrypt=False)

    def decrypt_numerals(self, numerals: NDArray[np.integer[Any]], tweak: bytes) -> NDArray[Any]:
        """Decrypt every row of a (batch, n) numeral array under ``tweak``.

        Args:
            numerals: Integer array of shape (batch, n), values in [0, radix).
            tweak: The tweak used to encrypt.

        Returns:
            The plaintext numerals, same shape; same dtype when it holds radix - 1,
            else the smallest unsigned dtype that does.

        Raises:
            DomainError: n outside [minlen, maxlen], a numeral outside [0, radix), bad tweak.
            TypeError: numerals is not a 2-D integer array.
        """
        return self._apply_numerals(numerals, tweak, decrypt=True)

    # String API.
    def encrypt(self, values: Sequence[str] | NDArray[Any], tweak: bytes) -> list[str]:
        """Encrypt every string of ``values`` under ``tweak``; lengths may differ.

        Args:
            values: Strings over the alphabet, each of length in [minlen, maxlen] (a list,
                tuple or 1-D numpy array of str).
            tweak: The tweak, shared by the whole batch.

        Returns:
            The ciphertexts, in order, each of its plaintext's length and alphabet.

        Raises:
            DomainError: a length or character outside the domain, or a bad tweak; the
                message names the index in the batch, never the value.
            TypeError: values is not a sequence of str.
        """
        return self._apply_strings(values, tweak, decrypt=False)

    def decrypt(self, values: Sequence[str] | NDArray[Any], tweak: bytes) -> list[str]:
        """Decrypt every string of ``values`` under ``tweak`` (inverse of ``encrypt``).

        Args:
            values: Ciphertext strings over the alphabet.
            tweak: The tweak used to encrypt.

        Returns:
            The plaintexts, in order.

        Raises:
            DomainError: a length or character outside the domain, or a bad tweak.
            TypeError: values is not a sequence of str.
        """
        return self._apply_strings(values, tweak, decrypt=True)

    # Internals.
    def _check_length(self, n: int, where: str) -> None:
        if not self._minlen <= n <= self._maxlen:
            raise DomainError(
                f"{where}: {self._name} length must lie in [{self._minlen}, {self._maxlen}]"
            )

    def _apply_numerals(
        self, numerals: NDArray[np.integer[Any]], tweak: bytes, *, decrypt: bool
    ) -> NDArray[Any]:
        if not isinstance(numerals, np.ndarray) or numerals.ndim != 2:
            raise TypeError("numerals must be a 2-D numpy array")
        if numerals.dtype.kind not in "iu":
            raise TypeError("numerals must have an integer dtype")
        tweak = self._check_tweak(tweak)
        self._check_length(numerals.shape[1], "numerals")
        if numerals.size and (numerals.min() < 0 or numerals.max() >= self._radix):
            bad = ((numerals < 0) | (numerals >= self._radix)).any(axis=1)
            row = int(np.flatnonzero(bad)[0])
            raise DomainError(f"numerals[{row}]: numeral outside [0, {self._radix})")
        work = numerals.astype(numeral_dtype(self._radix), copy=False)
        out = self._chunked(work, tweak, decrypt=decrypt)
        # SECURITY: never narrow into a dtype that cannot hold every numeral (a uint8 input
        # for radix 1000 would silently wrap); keep the caller's dtype only when it can.
        if np.iinfo(numerals.dtype).max >= self._radix - 1:
            return out.astype(numerals.dtype, copy=False)
        return out

    def _chunked(self, numerals: Numerals, tweak: bytes, *, decrypt: bool) -> Numerals:
        rows, n = numerals.shape
        plan = self._plan(tweak, n)
        if rows <= CHUNK_ROWS:
            return self._rounds(numerals, plan, decrypt=decrypt)
        out = np.empty_like(numerals)
        for start in range(0, rows, CHUNK_ROWS):
            part = numerals[start : start + CHUNK_ROWS]
            out[start : start + CHUNK_ROWS] = self._rounds(part, plan, decrypt=decrypt)
        return out

    def _apply_strings(
        self, values: Sequence[str] | NDArray[Any], tweak: bytes, *, decrypt: bool
    ) -> list[str]:
        if isinstance(values, np.ndarray) and values.ndim == 1:
            values = values.tolist()
        if isinstance(values, str | bytes) or not isinstance(values, Sequence):
            raise TypeError("values must be a sequence of str (not a single str)")
        try:
            joined = "".join(values)
        except TypeError:
            row = next(i for i, value in enumerate(values) if not isinstance(value, str))
            raise TypeError(f"values[{row}] must be a str") from None
        tweak = self._check_tweak(tweak)
        if len(values) == 0:
            return []
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
        if lengths.min() == lengths.max():
            groups = [(int(lengths[0]), np.arange(len(values)))]
        else:
            groups = [(int(n), np.flatnonzero(lengths == n)) for n in np.unique(lengths)]
        # Validate every group before encrypting any of them.
        encoded = []
        for n, index in groups:
            self._check_length(n, f"values[{int(index[0])}]")
            if len(groups) > 1:
                joined = "".join([values[i] for i in index.tolist()])
            numerals, bad = self._alphabet.encode(joined, index.shape[0], n)
            if bad is not None:
                row = int(index[np.flatnonzero(bad)[0]])
                raise DomainError(f"values[{row}]: character outside the {self._name} alphabet")
            encoded.append(numerals)
        if len(groups) == 1:
            return self._alphabet.decode(self._chunked(encoded[0], tweak, decrypt=decrypt))
        result: list[str] = [""] * len(values)
        for (_, index), numerals in zip(groups, encoded, strict=True):
            texts = self._alphabet.decode(self._chunked(numerals, tweak, decrypt=decrypt))
            for i, text in zip(index.tolist(), texts, strict=True):
                result[i] = text
        return result
