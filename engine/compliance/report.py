"""Auditor's reports, lineage across jobs and OpenLineage events from verified manifests."""

from engine.compliance._dsse import public_key_pem
from engine.compliance._lineage import (
    LineageEdge,
    ScanResult,
    lineage_edges,
    openlineage_event,
    scan_jobs,
)
from engine.compliance._report import render_html, render_text
from engine.compliance._verify import ManifestReport

__all__ = [
    "LineageEdge",
    "ManifestReport",
    "ScanResult",
    "lineage_edges",
    "openlineage_event",
    "public_key_pem",
    "render_html",
    "render_text",
    "scan_jobs",
]
