"""The scan pipeline for adapters (CLI, Ray): settings, located scans, reports, remediation."""

from engine.discovery._files import FileScan, iter_files, scan_file
from engine.discovery._fix import TOKEN_KINDS, FixAction, remediate
from engine.discovery._scan import report_of, scan_located, settings_for
from engine.discovery._sources import ScanSettings

__all__ = [
    "TOKEN_KINDS",
    "FileScan",
    "FixAction",
    "ScanSettings",
    "iter_files",
    "remediate",
    "report_of",
    "scan_file",
    "scan_located",
    "settings_for",
]
