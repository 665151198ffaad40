"""The evaluation report: a metrics table, its JSON form, and ROC / precision-recall plots."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import precision_recall_curve, roc_curve

from engine.errors import ConfigError

_MISSING_PLOTS = "plotting needs matplotlib, which is not installed: pip install 'finveil[report]'"


@dataclass(frozen=True, slots=True, kw_only=True)
class EvaluationReport:
    """Metrics of each model and variant (raw identifiers, tokens, encrypted inference).

    Args:
        task: ``"fraud"`` or ``"credit"``.
        dataset: A name for the data.
        rows: One mapping per (model, variant): ``model``, ``variant`` and the metrics.
        info: Sizes and settings (rows, quarantined rows, split, ``k``, ...).
        curves: Per ``"model/variant"``: the test labels and scores, for the plots.
    """

    task: str
    dataset: str
    rows: tuple[Mapping[str, Any], ...]
    info: Mapping[str, Any]
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]] = field(repr=False)

    def metric(self, model: str, variant: str, name: str) -> float:
        """Return one metric, e.g. ``metric("logistic", "tokens", "auc_roc")``.

        Raises:
            KeyError: no such row or metric.
        """
        for row in self.rows:
            if row["model"] == model and row["variant"] == variant:
                return float(row[name])
        raise KeyError(f"no row for model {model!r}, variant {variant!r}")

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready report (without the curves)."""
        return {
            "task": self.task,
            "dataset": self.dataset,
            "info": dict(self.info),
            "rows": [dict(r) for r in self.rows],
        }

    def to_table(self) -> str:
        """Return the metrics as a fixed-width text table."""
        metrics: list[str] = []
        for row in self.rows:
            metrics.extend(k for k in row if k not in ("model", "variant", *metrics))
        header = ["model", "variant", *metrics]
        cells = [header]
        for row in self.rows:
            cells.append([_cell(row.get(k)) for k in header])
        widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells
        ]
        title = f"{self.task} / {self.dataset}"
        return "\n".join([title, *lines])

    def save(self, out_dir: str | Path) -> tuple[Path, ...]:
        """Write ``report.json``, and the ROC and precision-recall PNGs if matplotlib is there.

        Returns:
            The paths written.
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        path = out / "report.json"
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n")
        try:
            return (path, *self.plot(out))
        except ConfigError:
            return (path,)

    def plot(self, out_dir: str | Path) -> tuple[Path, Path]:
        """Write ``roc.png`` and ``precision_recall.png`` with one curve per model/variant.

        Raises:
            ConfigError: matplotlib is not installed (the ``report`` extra).
        """
        try:
            import matplotlib as mpl

            mpl.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as exc:
            raise ConfigError(_MISSING_PLOTS) from exc
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = (out / "roc.png", out / "precision_recall.png")
        for path, curve in zip(paths, (_roc, _pr), strict=True):
            fig, ax = plt.subplots(figsize=(6, 5))
            try:
                xlabel, ylabel = curve(ax, self.curves)
                ax.set_xlabel(xlabel)
                ax.set_ylabel(ylabel)
                ax.set_title(f"{self.task} / {self.dataset}")
                ax.legend(loc="best", fontsize="small")
                fig.tight_layout()
                fig.savefig(path, dpi=120)
            finally:
                plt.close(fig)
        return paths


def _roc(ax: Any, curves: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> tuple[str, str]:
    for name, (y, s) in curves.items():
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, label=name, **_style(name))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    return "false positive rate", "true positive rate"


def _pr(ax: Any, curves: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> tuple[str, str]:
    for name, (y, s) in curves.items():
        precision, recall, _ = precision_recall_curve(y, s)
        ax.plot(recall, precision, label=name, **_style(name))
    return "recall", "precision"


# Variants of one model usually coincide: dashes of different lengths keep each visible.
_LINES = {"raw": "-", "tokens": (0, (5, 3)), "encrypted": (0, (1, 2))}


def _style(name: str) -> dict[str, Any]:
    variant = name.rsplit("/", 1)[-1]
    return {
        "linewidth": 1.4 if variant == "encrypted" else 1,
        "linestyle": _LINES.get(variant, "-"),
    }


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e-3 and value != 0 else f"{value:.4f}"
    return "" if value is None else str(value)
