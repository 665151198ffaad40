"""Precision and recall per kind on the labelled corpus (see corpus.py)."""

from __future__ import annotations

import json

from engine.discovery import scan
from tests.engine.discovery.corpus import Corpus, Spot, score

SUBTREES = ("logs", "tickets", "exports", "api")


def _spots(corpus: Corpus) -> tuple[list[Spot], str]:
    found: list[Spot] = []
    dumps = []
    for sub in SUBTREES:
        report = scan(corpus.root / sub)
        assert report.skipped == ()
        dumps.append(json.dumps(report.to_dict()) + repr(report))
        found.extend((f.source, f.kind.value, f.line, f.row, f.column, f.offset, f.length)
                     for f in report.findings)  # fmt: skip
    return found, "\n".join(dumps)


def test_precision_and_recall_per_kind(corpus: Corpus) -> None:
    found, _ = _spots(corpus)
    scores = score(corpus.labels, found)
    assert set(scores) == {"pan", "iban", "ssn", "email", "phone", "dob", "name"}
    for kind, sc in scores.items():
        assert sc.tp >= 100, kind
        assert sc.precision >= 0.97, (kind, sc)
        assert sc.recall >= 0.97, (kind, sc)


def test_no_raw_value_in_any_output(corpus: Corpus) -> None:
    _, dumped = _spots(corpus)
    leaked = [lab.kind for lab in corpus.labels if len(lab.value) >= 6 and lab.value in dumped]
    assert leaked == []


def test_tokenized_export_reports_nothing(corpus: Corpus) -> None:
    root = corpus.root / "tokenized"
    report = scan(root, tokenized_columns=corpus.tokenized[str(root)])
    assert report.findings == ()
    assert report.suppressed > 0
