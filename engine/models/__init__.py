"""Risk models trained on the data owner's side and scored on ciphertexts."""

from engine.models._linear import LinearRiskModel

__all__ = ["LinearRiskModel"]
