"""Risk models trained on the data owner's side and scored on ciphertexts."""

from engine.models._fraud_features import compute_fraud_features
from engine.models._linear import LinearRiskModel

__all__ = ["LinearRiskModel", "compute_fraud_features"]
