"""The ``df.finveil`` DataFrame accessor: tokenize, detokenize and CKKS-encrypt a frame."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import pandas as pd

from engine.he import EncryptedFrame, PublicContext
from engine.keys import KeyRing
from engine.pandas_ext._keys import open_keyring, token_keys
from engine.tokenize import (
    ColumnProtection,
    FormatOptions,
    Kind,
    TokenizedFrame,
    detokenize_frame,
    tokenize_frame,
)

Options = FormatOptions | Mapping[str, FormatOptions] | None


class FinVeilAccessor:
    """FinVeil operations on a DataFrame: ``df.finveil`` after ``import engine.pandas_ext``.

    Keys come from ``keyring`` (default: the local keyring, ``KeyRing.open_default()``) under
    the same ids ``finveil run`` uses (``tokenize.<kind>``), so tokens made in a notebook
    join with tokens made by a batch job on the same keyring. Every key release is recorded
    in the keyring's audit log.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    def tokenize(
        self,
        pii: Mapping[str, Kind | str],
        *,
        keyring: KeyRing | None = None,
        options: Options = None,
    ) -> TokenizedFrame:
        """Tokenize the PII columns with the primary key of each kind (created on first use).

        Args:
            pii: Column name -> kind (a ``Kind`` or its value, e.g. ``"pan"``).
            keyring: Where the keys come from; None opens the local default keyring.
            options: One ``FormatOptions`` for every column, or column name -> options.

        Returns:
            The tokenized rows, the quarantine (rows that failed validation, with column and
            reason, never the value) and per-column protection (key id and version).

        Raises:
            ConfigError: An unknown column or kind, or bad options.
        """
        keys = token_keys(open_keyring(keyring), pii)
        return tokenize_frame(self._frame, pii, keys, options=options)

    def detokenize(
        self,
        pii: Mapping[str, Kind | str],
        *,
        keyring: KeyRing | None = None,
        options: Options = None,
        protection: Mapping[str, ColumnProtection] | None = None,
    ) -> pd.DataFrame:
        """Invert ``tokenize`` exactly: the data owner's path back to the raw values.

        Args:
            pii: The same column -> kind mapping as at tokenization.
            keyring: Where the keys come from; None opens the local default keyring.
            options: The same options as at tokenization.
            protection: ``TokenizedFrame.protection`` of the tokenization; pins each kind
                to the key version that made the tokens (needed after a rotation). Without
                it, the primary version is used.

        Returns:
            A copy of the frame with the PII columns restored.

        Raises:
            TokenizationError: A value is not a token of its column (message names the
                column and row, never the value).
            KeyNotFound: A pinned key version does not exist.
        """
        versions = None
        if protection is not None:
            versions = {Kind(p.kind): p.key_version for p in protection.values()}
        keys = token_keys(open_keyring(keyring), pii, versions=versions)
        return detokenize_frame(self._frame, pii, keys, options=options)

    def encrypt(
        self,
        public_context: PublicContext,
        columns: Sequence[Hashable] | None = None,
    ) -> EncryptedFrame:
        """CKKS-encrypt numeric columns, column-packed, under a public context.

        Args:
            public_context: ``CKKSKeys.public_context()``; no secret key is needed.
            columns: The columns to encrypt, in this order; None takes every numeric
                (non-boolean) column in frame order.

        Returns:
            The encrypted frame (column names kept).

        Raises:
            ValueError: No columns to encrypt, or a named column is missing.
            InputError: A non-numeric column, NaN or infinity (names column and row).
        """
        chosen: list[Hashable]
        if columns is None:
            chosen = [
                c
                for c in self._frame.columns
                if pd.api.types.is_numeric_dtype(self._frame[c])
                and not pd.api.types.is_bool_dtype(self._frame[c])
            ]
        else:
            chosen = list(columns)
            missing = [c for c in chosen if c not in self._frame.columns]
            if missing:
                raise ValueError(f"columns not in the frame: {missing}")
        if not chosen:
            raise ValueError("columns: no numeric columns to encrypt")
        return EncryptedFrame.encrypt(self._frame[chosen], public_context)
