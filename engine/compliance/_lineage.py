"""Lineage across job manifests, and OpenLineage run events pointing at a manifest."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine import __version__
from engine.compliance._dsse import PREDICATE_TYPE, PublicKeyLike
from engine.compliance._manifest import MANIFEST_FILE
from engine.compliance._verify import ManifestReport, verify_manifest
from engine.errors import IntegrityError

__all__ = ["LineageEdge", "ScanResult", "lineage_edges", "openlineage_event", "scan_jobs"]

OPENLINEAGE_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
_VERSION_FACET = (
    "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json"
    "#/$defs/DatasetVersionDatasetFacet"
)
_MANIFEST_FACET = "https://finveil.dev/spec/facets/1-0-0/ManifestFacet.json#/$defs/ManifestFacet"
_PRODUCER = f"https://finveil.dev/finveil/{__version__}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanResult:
    """The manifests found under a directory.

    Args:
        jobs: Manifests that verified, oldest job first.
        failures: ``(manifest path, reason)`` of those that did not; never trusted.
    """

    jobs: tuple[ManifestReport, ...]
    failures: tuple[tuple[Path, str], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class LineageEdge:
    """One link between two jobs.

    Args:
        producer: Job id that wrote (or also read) the dataset.
        consumer: Job id that read it.
        dataset: The dataset's name in the consumer's inputs.
        via: ``"sha256"`` (the consumer read the producer's output, by digest) or
            ``"fingerprint"`` (both read the same input, by keyed fingerprint).
    """

    producer: str
    consumer: str
    dataset: str
    via: str


def _manifests(root: Path, max_depth: int) -> list[Path]:
    found: list[Path] = []
    level = [root]
    for _ in range(max_depth + 1):
        found += [d / MANIFEST_FILE for d in level if (d / MANIFEST_FILE).is_file()]
        # Hidden directories (.git, .venv) never hold job outputs; skip them.
        level = [
            c
            for d in level
            for c in _children(d)
            if c.is_dir() and not c.is_symlink() and not c.name.startswith(".")
        ]
    return sorted(found)


def _children(directory: Path) -> list[Path]:
    try:
        return sorted(directory.iterdir())
    except OSError:  # Missing or unreadable: nothing to report there.
        return []


def scan_jobs(
    root: Path, *, public_key: PublicKeyLike | None = None, max_depth: int = 3
) -> ScanResult:
    """Verify every ``manifest.json`` under ``root``, at most ``max_depth`` levels down.

    Args:
        root: A directory of job directories.
        public_key: Pin every manifest to this signer; default: each one's ``manifest.pub``.
        max_depth: How many directory levels below ``root`` to search.
    """
    jobs: list[ManifestReport] = []
    failures: list[tuple[Path, str]] = []
    for path in _manifests(Path(root), max_depth):
        try:
            jobs.append(verify_manifest(path, public_key=public_key))
        except IntegrityError as exc:
            failures.append((path, str(exc)))
    jobs.sort(key=lambda r: (str(r.predicate["job"].get("started_at", "")), str(r.path)))
    return ScanResult(jobs=tuple(jobs), failures=tuple(failures))


def _fingerprint_key(item: Mapping[str, Any]) -> tuple[str, int, str] | None:
    fp = item.get("fingerprint")
    if not isinstance(fp, Mapping):
        return None
    return (str(fp.get("key_id")), int(fp.get("key_version") or 0), str(fp.get("value")))


def lineage_edges(jobs: Sequence[ManifestReport]) -> list[LineageEdge]:
    """Link jobs: outputs read as inputs (by SHA-256) and shared inputs (by fingerprint)."""
    producers: dict[str, str] = {}
    for job in jobs:
        for digest in job.subjects.values():
            producers.setdefault(digest, str(job.predicate["job"]["id"]))
    edges: list[LineageEdge] = []
    first_reader: dict[tuple[str, int, str], str] = {}
    for job in jobs:
        job_id = str(job.predicate["job"]["id"])
        for item in job.predicate.get("inputs", []):
            name = str(item.get("name"))
            digest = item.get("sha256")
            if isinstance(digest, str) and producers.get(digest, job_id) != job_id:
                edges.append(LineageEdge(producer=producers[digest], consumer=job_id,
                                         dataset=name, via="sha256"))  # fmt: skip
            fp = _fingerprint_key(item)
            if fp is None:
                continue
            if fp in first_reader and first_reader[fp] != job_id:
                edges.append(LineageEdge(producer=first_reader[fp], consumer=job_id,
                                         dataset=name, via="fingerprint"))  # fmt: skip
            first_reader.setdefault(fp, job_id)
    return edges


def _run_id(job_id: str) -> str:
    try:
        return str(uuid.UUID(job_id))
    except ValueError:
        # OpenLineage requires a UUID; a non-UUID job id maps to a stable UUIDv5.
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://finveil.dev/job/{job_id}"))


def _facets(report: ManifestReport, version: str | None) -> dict[str, Any]:
    facets: dict[str, Any] = {
        "finveil_manifest": {
            "_producer": _PRODUCER,
            "_schemaURL": _MANIFEST_FACET,
            "manifestSha256": report.manifest_sha256,
            "manifestUri": report.path.resolve().as_uri(),
            "predicateType": PREDICATE_TYPE,
            "signerKeyId": report.keyid,
        }
    }
    if version is not None:
        facets["version"] = {
            "_producer": _PRODUCER,
            "_schemaURL": _VERSION_FACET,
            "datasetVersion": version,
        }
    return facets


def openlineage_event(report: ManifestReport, *, namespace: str = "finveil") -> dict[str, Any]:
    """Return the OpenLineage COMPLETE RunEvent of a verified job manifest.

    Datasets are files (namespace ``file``); each dataset and the run carry a
    ``finveil_manifest`` facet naming the manifest by its SHA-256, and a ``version`` facet
    (the output's SHA-256, or the input's keyed fingerprint).
    """
    job = report.predicate["job"]
    inputs = []
    for item in report.predicate.get("inputs", []):
        fp = item.get("fingerprint")
        version = item.get("sha256") or (fp.get("value") if isinstance(fp, Mapping) else None)
        inputs.append(
            {"namespace": "file", "name": str(item["name"]), "facets": _facets(report, version)}
        )
    out_dir = report.subject_dir.resolve()
    outputs = [
        {"namespace": "file", "name": str(out_dir / name), "facets": _facets(report, digest)}
        for name, digest in sorted(report.subjects.items())
    ]
    return {
        "eventType": "COMPLETE",
        "eventTime": str(job.get("finished_at") or job["started_at"]),
        "run": {"runId": _run_id(str(job["id"])), "facets": _facets(report, None)},
        "job": {"namespace": namespace, "name": str(job["name"]), "facets": {}},
        "inputs": inputs,
        "outputs": outputs,
        "producer": _PRODUCER,
        "schemaURL": OPENLINEAGE_SCHEMA,
    }
