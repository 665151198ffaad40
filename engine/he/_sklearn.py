"""The scikit-learn bridge: fitted linear models evaluated on encrypted frames."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from engine.errors import NotFittedError
from engine.he import _inputs
from engine.he._frame import EncryptedFrame
from engine.he._vector import EncryptedVector

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["EncryptedModel"]

ModelKind = Literal["logistic", "linear"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EncryptedModel:
    """A fitted linear model's plaintext weights, for scoring ``EncryptedFrame`` ciphertexts.

    Build it with :meth:`from_sklearn`. The recommended flow keeps every encrypted value
    small: the data owner fits ``Pipeline([StandardScaler(), LogisticRegression()])``, runs
    :meth:`preprocess` (the fitted standardization, in plaintext) and encrypts the result;
    workers run :meth:`decision_function` (one ct x pt multiply per ciphertext). Folding the
    scaler into the weights instead (``fold_scaler=True``: ``w' = w / sigma``,
    ``b' = b - sum w mu / sigma``) lets raw features be encrypted, but raw amounts such as an
    annual income of 1e5..1e6 exceed CKKS's encodable range (about 2^19 at scale 2^40), and
    ``EncryptedFrame.encrypt`` rejects them; it suits features already in range.

    The object holds only numbers (no keys, no ciphertexts), so it can be shipped to workers.

    Args:
        kind: ``"logistic"`` (LogisticRegression) or ``"linear"`` (LinearRegression).
        weights: One weight per feature, applied to preprocessed features.
        intercept: The intercept.
        feature_names: Feature names seen in ``fit``, if it was fitted on a DataFrame.
        mean: The standardization mean for :meth:`preprocess` (None: no centering).
        scale: The standardization scale for :meth:`preprocess` (None: no scaling).
    """

    kind: ModelKind
    weights: tuple[float, ...]
    intercept: float
    feature_names: tuple[str, ...] | None = None
    mean: tuple[float, ...] | None = None
    scale: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        n = len(self.weights)
        if n == 0:
            raise ValueError("weights must not be empty")
        for name in ("feature_names", "mean", "scale"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise ValueError(f"{name} has {len(value)} entries, expected {n}")

    @classmethod
    def from_sklearn(cls, estimator: Any, *, fold_scaler: bool = False) -> EncryptedModel:
        """Extract weights from a fitted LogisticRegression, LinearRegression or Pipeline.

        Args:
            estimator: ``LogisticRegression`` (binary), ``LinearRegression`` (one target), or
                a ``Pipeline`` of an optional ``StandardScaler`` followed by one of those.
            fold_scaler: Fold the scaler into the weights (raw features are encrypted)
                instead of keeping it for :meth:`preprocess`.

        Raises:
            NotFittedError: The estimator (or a pipeline step) is not fitted.
            TypeError: An unsupported estimator or pipeline step.
            ValueError: A multiclass or multi-output model.
        """
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        steps = [s for _, s in estimator.steps] if isinstance(estimator, Pipeline) else [estimator]
        scaler = steps[0] if len(steps) == 2 else None
        if len(steps) not in (1, 2) or (
            scaler is not None and not isinstance(scaler, StandardScaler)
        ):
            raise TypeError("supported pipelines: [StandardScaler, model] or [model]")
        kind, w, b = _linear_part(steps[-1])
        names = _feature_names(steps[0])
        mean = scale = None
        if scaler is not None:
            _check_fitted(scaler)
            mu = np.zeros(len(w)) if scaler.mean_ is None else np.asarray(scaler.mean_, float)
            sigma = np.ones(len(w)) if scaler.scale_ is None else np.asarray(scaler.scale_, float)
            if fold_scaler:
                w, b = w / sigma, b - float(np.sum(w * mu / sigma))
            else:
                mean, scale = tuple(float(v) for v in mu), tuple(float(v) for v in sigma)
        return cls(
            kind=kind,
            weights=tuple(float(v) for v in w),
            intercept=float(b),
            feature_names=names,
            mean=mean,
            scale=scale,
        )

    @property
    def n_features(self) -> int:
        """The number of input features."""
        return len(self.weights)

    def preprocess(self, x: np.ndarray | pd.DataFrame) -> np.ndarray:
        """Apply the fitted standardization in plaintext (owner side), before encryption.

        A DataFrame must contain the model's feature names (they are selected in order).

        Raises:
            ValueError: Missing columns or a wrong feature count.
        """
        if hasattr(x, "columns") and self.feature_names is not None:
            missing = [c for c in self.feature_names if c not in set(map(str, x.columns))]
            if missing:
                raise ValueError(f"X lacks the model's feature columns {missing[:5]}")
            x = x[list(self.feature_names)]
        values, _, _ = _inputs.as_matrix(x)
        if values.shape[1] != self.n_features:
            raise ValueError(
                f"the model expects {self.n_features} features, X has {values.shape[1]}"
            )
        if self.mean is not None:
            values = values - np.asarray(self.mean)
        if self.scale is not None:
            values = values / np.asarray(self.scale)
        return np.ascontiguousarray(values)

    def decision_function(self, frame: EncryptedFrame) -> EncryptedVector:
        """Encrypted margins (logistic) or predictions (linear): ``X @ w + b`` per record.

        Raises:
            ValueError: The frame's feature count (or names, if both are known) differ.
        """
        self._check_frame(frame)
        return frame.linear(np.asarray(self.weights), self.intercept)

    def predict_proba_poly(
        self,
        frame: EncryptedFrame,
        *,
        input_range: tuple[float, float] = (-8.0, 8.0),
        degree: int = 9,
    ) -> EncryptedVector:
        """Encrypted polynomial-sigmoid probabilities of the positive class.

        See ``EncryptedFrame.logistic`` for the approximation, its error and the range check.

        Raises:
            TypeError: The model is not a logistic regression.
            ValueError: The frame's features differ from the model's.
        """
        if self.kind != "logistic":
            raise TypeError("predict_proba_poly needs a LogisticRegression")
        self._check_frame(frame)
        return frame.logistic(
            np.asarray(self.weights), self.intercept, input_range=input_range, degree=degree
        )

    def _check_frame(self, frame: EncryptedFrame) -> None:
        if frame.n_features != self.n_features:
            raise ValueError(
                f"the model expects {self.n_features} features, the frame has {frame.n_features}"
            )
        if frame.has_column_names and self.feature_names is not None:
            for i, (got, want) in enumerate(zip(frame.columns, self.feature_names, strict=True)):
                if got != want:
                    raise ValueError(f"frame column {i} is {got!r}, the model expects {want!r}")


def _check_fitted(step: Any) -> None:
    from sklearn.exceptions import NotFittedError as SklearnNotFitted
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(step)
    except SklearnNotFitted as exc:
        raise NotFittedError(f"{type(step).__name__} is not fitted; call fit first") from exc


def _linear_part(model: Any) -> tuple[ModelKind, np.ndarray, float]:
    from sklearn.linear_model import LinearRegression, LogisticRegression

    if not isinstance(model, LogisticRegression | LinearRegression):
        raise TypeError(f"unsupported estimator {type(model).__name__}")
    _check_fitted(model)
    coef = np.asarray(model.coef_, dtype=np.float64)
    intercept = np.atleast_1d(np.asarray(model.intercept_, dtype=np.float64))
    if coef.ndim == 2 and coef.shape[0] != 1:
        raise ValueError("only binary classifiers and single-target regressions are supported")
    kind: ModelKind = "logistic" if isinstance(model, LogisticRegression) else "linear"
    return kind, coef.reshape(-1), float(intercept[0])


def _feature_names(first_step: Any) -> tuple[str, ...] | None:
    names = getattr(first_step, "feature_names_in_", None)
    return None if names is None else tuple(str(n) for n in names)
