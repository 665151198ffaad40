"""Shadow-data discovery: find identifiers that escaped tokenization, anywhere."""

from engine.discovery._detectors import Detector, DetectorRegistry
from engine.discovery._finding import EntityKind, Finding, ScanReport, Skipped
from engine.discovery._mask import mask
from engine.discovery._scan import scan

__all__ = [
    "Detector",
    "DetectorRegistry",
    "EntityKind",
    "Finding",
    "ScanReport",
    "Skipped",
    "mask",
    "scan",
]
