"""Risk models trained on the data owner's side and scored on ciphertexts."""

from engine.models._evaluate import evaluate
from engine.models._fraud import FraudModel, split_by_time
from engine.models._fraud_features import Aggregate, compute_fraud_features, window_aggregates
from engine.models._linear import LinearRiskModel
from engine.models._metrics import card_precision_at_k, ks_statistic
from engine.models._report import EvaluationReport
from engine.models._scorecard import Scorecard

__all__ = [
    "Aggregate",
    "EvaluationReport",
    "FraudModel",
    "LinearRiskModel",
    "Scorecard",
    "card_precision_at_k",
    "compute_fraud_features",
    "evaluate",
    "ks_statistic",
    "split_by_time",
    "window_aggregates",
]
