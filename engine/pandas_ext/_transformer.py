"""``TokenizeTransformer``: format-preserving tokenization as a scikit-learn pipeline step."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from engine.errors import NotFittedError, TokenizationError
from engine.keys import KeyRing
from engine.pandas_ext._keys import key_id, kinds_of, open_keyring, token_keys
from engine.tokenize import FormatOptions, Kind, tokenize_frame

OnQuarantine = Literal["raise", "drop"]


class TokenizeTransformer(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Tokenize the PII columns of a DataFrame inside a scikit-learn ``Pipeline``.

    ``fit`` checks the columns and pins, per kind, the key version that is primary at fit
    time (``key_versions_``), so the rows a fitted pipeline scores later are tokenized
    under the same key as its training rows, even after a rotation. Only key ids and
    versions are stored on the estimator, never key bytes: key material is fetched from
    the keyring at each ``transform``. ``clone`` shares the keyring; pickling (``joblib``)
    is refused while ``keyring`` is set, and allowed with ``keyring=None`` (the loaded
    pipeline opens the local keyring, ``KeyRing.open_default()``).

    Rows whose PII fails its format's validation cannot be tokenized. With
    ``on_quarantine="raise"`` (default) ``transform`` raises ``TokenizationError`` with the
    row count per column (never a value), because silently dropping rows would misalign
    the rows from ``y`` inside a Pipeline. With ``"drop"`` those rows are removed, and
    ``quarantine_`` (row, column, reason) and ``n_quarantined_`` describe the last
    ``transform``; use it only where no ``y`` travels with ``X`` (scoring, export).

    Args:
        pii: Column name -> kind (a ``Kind`` or its value, e.g. ``"ssn"``).
        keyring: Where the keys come from; None opens the local default keyring.
        options: One ``FormatOptions`` for every column, or column name -> options.
        on_quarantine: ``"raise"`` or ``"drop"`` (see above).

    Example:
        >>> from sklearn.pipeline import make_pipeline
        >>> step = TokenizeTransformer({"ssn": "ssn"})
        >>> pipe = make_pipeline(step)  # fit(X, y) opens the keyring, then tokenizes
        >>> step.key_ids()
        {<Kind.SSN: 'ssn'>: 'tokenize.ssn'}
    """

    def __init__(
        self,
        pii: Mapping[str, Kind | str],
        *,
        keyring: KeyRing | None = None,
        options: FormatOptions | Mapping[str, FormatOptions] | None = None,
        on_quarantine: OnQuarantine = "raise",
    ) -> None:
        self.pii = pii
        self.keyring = keyring
        self.options = options
        self.on_quarantine = on_quarantine

    def fit(self, X: pd.DataFrame, y: Any = None) -> Self:  # noqa: N803 (scikit-learn names)
        """Check the PII columns and pin each kind's current key version; return self.

        Raises:
            TypeError: X is not a DataFrame.
            ValueError: A PII column is missing, an unknown kind or ``on_quarantine``.
        """
        frame = _as_frame(X)
        if self.on_quarantine not in ("raise", "drop"):
            raise ValueError("on_quarantine must be 'raise' or 'drop'")
        kinds = kinds_of(self.pii)
        missing = [c for c in self.pii if c not in frame.columns]
        if missing:
            raise ValueError(f"pii columns not in X: {missing}")
        keys = token_keys(open_keyring(self.keyring), self.pii)
        self.key_versions_: dict[Kind, int] = {k: keys[k].version for k in kinds}
        self.feature_names_in_ = np.asarray([str(c) for c in frame.columns], dtype=object)
        self.n_features_in_ = len(frame.columns)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        """Return X with its PII columns tokenized under the pinned key versions.

        Raises:
            NotFittedError: Called before ``fit``.
            TokenizationError: Rows failed validation and ``on_quarantine="raise"``.
            KeyNotFound: A pinned key version no longer exists.
        """
        if not hasattr(self, "key_versions_"):
            raise NotFittedError("TokenizeTransformer: call fit before transform")
        frame = _as_frame(X)
        keys = token_keys(open_keyring(self.keyring), self.pii, versions=self.key_versions_)
        out = tokenize_frame(frame, self.pii, keys, options=self.options)
        self.quarantine_ = out.quarantine
        self.n_quarantined_ = int(out.quarantine["row"].nunique()) if len(out.quarantine) else 0
        if self.n_quarantined_ and self.on_quarantine == "raise":
            per_column = out.quarantine.groupby("column").size()
            counts = ", ".join(f"{c!r}: {int(n)}" for c, n in per_column.items())
            # SECURITY: counts and column names only, never a value.
            raise TokenizationError(
                f"{self.n_quarantined_} of {len(frame)} rows failed validation ({counts}); "
                "fix them or use on_quarantine='drop'"
            )
        return out.frame

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Return the output column names (the input's: tokens keep their column)."""
        if not hasattr(self, "feature_names_in_"):
            raise NotFittedError("TokenizeTransformer: call fit first")
        return np.asarray(self.feature_names_in_, dtype=object)

    def __sklearn_clone__(self) -> TokenizeTransformer:
        """Return an unfitted copy that shares this keyring (never a copy of its keys)."""
        return TokenizeTransformer(
            self.pii, keyring=self.keyring, options=self.options,
            on_quarantine=self.on_quarantine,
        )  # fmt: skip

    def __getstate__(self) -> dict[str, Any]:
        # SECURITY: a KeyRing holds the unwrapped root of every key; a saved pipeline must
        # never carry it. Save with keyring=None, which reopens the local keyring on use.
        if self.keyring is not None:
            raise TypeError(
                "TokenizeTransformer with a keyring cannot be pickled (it would write key "
                "material); set keyring=None to use the local keyring after loading"
            )
        state: dict[str, Any] = dict(vars(self))
        return state

    def key_ids(self) -> dict[Kind, str]:
        """Return kind -> keyring id of the tokenization key this transformer uses."""
        return {kind: key_id(kind) for kind in kinds_of(self.pii)}


def _as_frame(x: Any) -> pd.DataFrame:
    if not isinstance(x, pd.DataFrame):
        raise TypeError("X must be a pandas DataFrame with the PII columns by name")
    return x
