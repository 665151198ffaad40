"""Scan results: findings (never holding a value), skipped inputs and the report."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

__all__ = ["EntityKind", "Finding", "ScanReport", "Skipped"]


class EntityKind(Enum):
    """The kinds of identifier the scanner looks for."""

    PAN = "pan"
    IBAN = "iban"
    SSN = "ssn"
    EMAIL = "email"
    PHONE = "phone"
    DOB = "dob"
    NAME = "name"

    @classmethod
    def parse_list(cls, text: str) -> frozenset[EntityKind]:
        """Parse ``"pan,iban"`` into kinds.

        Raises:
            ValueError: an unknown kind (the message lists the known ones).
        """
        out: set[EntityKind] = set()
        for part in text.split(","):
            name = part.strip().lower()
            if not name:
                continue
            try:
                out.add(cls(name))
            except ValueError:
                known = ", ".join(k.value for k in cls)
                raise ValueError(f"kinds: unknown kind {name!r} (known: {known})") from None
        return frozenset(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One identifier found in clear; it holds where and what kind, never the value.

    Args:
        kind: What was found.
        source: The file path, or ``"<text>"``, ``"<frame>"``, ``"<json>"`` for objects.
        line: 1-based line in a text file (``None`` for tables and JSON documents).
        row: 0-based data row of a table or line of a JSON-lines file.
        column: Table column, or JSON path such as ``$.customer.email``.
        offset: 0-based character offset of the value within its line or cell.
        length: Length of the value in characters.
        confidence: How sure the detector is, in (0, 1].
        preview: A masked rendering that never shows the value (see docs/discovery.md).
        detector: The detector class that found it.
    """

    kind: EntityKind
    source: str
    line: int | None = None
    row: int | None = None
    column: str | None = None
    offset: int = 0
    length: int = 0
    confidence: float = 1.0
    preview: str = ""
    detector: str = ""

    def __post_init__(self) -> None:
        if not 0.0 < self.confidence <= 1.0:
            raise ValueError("confidence: must lie in (0, 1]")

    @property
    def location(self) -> str:
        """Return a one-line human location such as ``a.csv row 3 column email``."""
        parts = [self.source]
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column {self.column}")
        parts.append(f"offset {self.offset}")
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (kind as its string value)."""
        return {
            "kind": self.kind.value,
            "source": self.source,
            "line": self.line,
            "row": self.row,
            "column": self.column,
            "offset": self.offset,
            "length": self.length,
            "confidence": round(self.confidence, 3),
            "preview": self.preview,
            "detector": self.detector,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Skipped:
    """An input that was not (fully) scanned, and why; ``reason`` never quotes content."""

    source: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        """Return a JSON-ready dict."""
        return {"source": self.source, "reason": self.reason}


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanReport:
    """Everything one scan produced.

    Args:
        findings: The identifiers found in clear.
        skipped: Inputs skipped or only partly scanned, each with a reason.
        notes: Non-fatal remarks (e.g. "not UTF-8, scanned as 8-bit text").
        bytes_scanned: Bytes of text handed to the detectors.
        files_scanned: Files opened and scanned.
        suppressed: Findings of format-valid kinds dropped because their column was
            declared tokenized (see ``tokenized_columns``).
    """

    findings: tuple[Finding, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    notes: tuple[Skipped, ...] = ()
    bytes_scanned: int = 0
    files_scanned: int = 0
    suppressed: int = 0
    counts: dict[str, int] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        counts = Counter(f.kind.value for f in self.findings)
        self.counts.clear()
        self.counts.update(sorted(counts.items()))

    @property
    def has_findings(self) -> bool:
        """True if anything was found."""
        return bool(self.findings)

    def of_kinds(self, kinds: frozenset[EntityKind]) -> tuple[Finding, ...]:
        """Return the findings whose kind is in ``kinds``."""
        return tuple(f for f in self.findings if f.kind in kinds)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "summary": {
                "findings": len(self.findings),
                "by_kind": dict(self.counts),
                "files_scanned": self.files_scanned,
                "bytes_scanned": self.bytes_scanned,
                "skipped": len(self.skipped),
                "suppressed_tokenized": self.suppressed,
            },
            "findings": [f.to_dict() for f in self.findings],
            "skipped": [s.to_dict() for s in self.skipped],
            "notes": [s.to_dict() for s in self.notes],
        }
