"""A logistic-regression risk model whose scoring step is a linear map on standardized features."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from engine.errors import InputError, NotFittedError


class LinearRiskModel:
    """Logistic regression over numeric and one-hot features, split for encrypted scoring.

    The data owner fits the model and runs :meth:`preprocess` (imputation, one-hot encoding,
    standardization) in plaintext; the result is what gets encrypted. The margin is then
    ``X @ weights_ + intercept_``: one plaintext-scalar multiply and one add per feature, which
    CKKS evaluates without rotations. Standardization also keeps every encrypted value far
    inside CKKS's encodable range.

    Args:
        numeric: Numeric feature columns.
        categorical: Columns one-hot encoded with the categories seen in training.
        class_weight: Passed to scikit-learn; ``"balanced"`` suits rare events.
        max_iter: Solver iterations.
    """

    def __init__(
        self,
        *,
        numeric: Sequence[str],
        categorical: Sequence[str] = (),
        class_weight: str | None = "balanced",
        max_iter: int = 2000,
    ) -> None:
        self.numeric = tuple(numeric)
        self.categorical = tuple(categorical)
        self.class_weight = class_weight
        self.max_iter = max_iter

    def _design(self, frame: pd.DataFrame) -> pd.DataFrame:
        columns = [frame[list(self.numeric)].astype("float64")]
        for name in self.categorical:
            values = frame[name].astype("string")
            for category in self.categories_[name]:
                dummy = (values == category).fillna(False).astype("float64")
                columns.append(dummy.rename(f"{name}={category}").to_frame())
        return pd.concat(columns, axis=1)

    def fit(self, frame: pd.DataFrame, y: np.ndarray) -> LinearRiskModel:
        """Fit imputation, scaling and the logistic regression on the training rows."""
        if len(frame) == 0:
            raise InputError("no training rows")
        if len(np.unique(y)) < 2:
            raise InputError("the training split holds only one label value")
        self.categories_ = {
            name: sorted(frame[name].dropna().astype(str).unique().tolist())
            for name in self.categorical
        }
        design = self._design(frame)
        self.features_ = tuple(design.columns)
        self.imputer_ = SimpleImputer(strategy="median", keep_empty_features=True)
        self.scaler_ = StandardScaler()
        standardized = self.scaler_.fit_transform(self.imputer_.fit_transform(design))
        regression = LogisticRegression(class_weight=self.class_weight, max_iter=self.max_iter)
        regression.fit(standardized, y)
        self.weights_ = regression.coef_[0].astype("float64")
        self.intercept_ = float(regression.intercept_[0])
        self.regression_ = regression
        return self

    def preprocess(self, frame: pd.DataFrame) -> np.ndarray:
        """Return the standardized design matrix (the plaintext that gets encrypted)."""
        if not hasattr(self, "scaler_"):
            raise NotFittedError("LinearRiskModel.preprocess called before fit")
        design = self._design(frame)
        return np.asarray(self.scaler_.transform(self.imputer_.transform(design)), dtype="float64")

    def decision_function(self, frame: pd.DataFrame) -> np.ndarray:
        """Return plaintext margins, the reference the encrypted scores are checked against."""
        return np.asarray(self.regression_.decision_function(self.preprocess(frame)))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Return plaintext probabilities of the event (scikit-learn's own computation)."""
        return np.asarray(self.regression_.predict_proba(self.preprocess(frame))[:, 1])
