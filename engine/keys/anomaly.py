"""Anomaly detection on key use, and a labelled usage simulator to measure it."""

from engine.keys._anomaly import AnomalyDetector
from engine.keys._anomaly_types import AnomalyOptions, Level, Signal, Verdict
from engine.keys._usage_sim import AttackKind, Simulation, simulate_usage

__all__ = [
    "AnomalyDetector",
    "AnomalyOptions",
    "AttackKind",
    "Level",
    "Signal",
    "Simulation",
    "Verdict",
    "simulate_usage",
]
