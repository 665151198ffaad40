"""``finveil run JOB.toml`` and ``finveil demo``: the batch job from the command line."""

from __future__ import annotations

import argparse
import contextlib
import sys
import tomllib
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.keys import KeyRing

if TYPE_CHECKING:
    from engine.jobs import JobResult

# engine.jobs (Ray, TenSEAL, scikit-learn) is imported inside the handlers, so that every
# other `finveil` command starts without paying for it.


def register(subparsers: Any) -> None:
    """Add the ``run`` and ``demo`` subcommands."""
    run = subparsers.add_parser("run", help="run a batch job described by a TOML job spec")
    run.add_argument("spec", type=Path, metavar="JOB.toml")
    _common(run)
    run.set_defaults(handler=_run)
    demo = subparsers.add_parser("demo", help="run the job on the embedded German credit data")
    _common(demo)
    demo.set_defaults(handler=_demo)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ray-address", help="existing Ray cluster (default: RAY_ADDRESS or local)"
    )
    parser.add_argument(
        "--keyring", type=Path, help="keyring file (default: ~/.finveil/keyring.json)"
    )
    parser.add_argument(
        "--out", type=Path, help="output directory (default: the spec's [output] dir)"
    )


def _open_keyring(path: Path | None) -> KeyRing:
    keyring, created = KeyRing.open_default(path)
    verb = "created" if created else "using"
    print(f"finveil: {verb} keyring {keyring.path}", file=sys.stderr)
    return keyring


def _progress(stage: str) -> None:
    print(f"finveil: {stage} ...", file=sys.stderr, flush=True)


def _stage_reporter() -> contextlib.AbstractContextManager[Callable[[str], None]]:
    """A tqdm bar on a terminal; the plain ``finveil: <stage> ...`` lines otherwise (CI, logs)."""
    if sys.stderr.isatty():
        from engine.progress import stage_progress

        return stage_progress(desc="finveil", file=sys.stderr)
    return contextlib.nullcontext(_progress)


def _run(args: argparse.Namespace) -> int:
    from engine.jobs import load_spec, run_job

    spec = load_spec(args.spec)
    keyring = _open_keyring(args.keyring)
    with _stage_reporter() as progress:
        result = run_job(
            spec,
            keyring=keyring,
            ray_address=args.ray_address,
            output_dir=args.out,
            progress=progress,
        )
    _print_summary(result)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from engine.datasets import german_credit_with_pii
    from engine.jobs import parse_spec, run_job

    text = resources.files("engine.datasets").joinpath("data/demo_job.toml").read_text()
    spec = parse_spec(tomllib.loads(text), base_dir=Path.cwd())
    keyring = _open_keyring(args.keyring)
    with _stage_reporter() as progress:
        result = run_job(
            spec,
            keyring=keyring,
            ray_address=args.ray_address,
            output_dir=args.out,
            frame=german_credit_with_pii(),
            progress=progress,
        )
    _print_summary(result)
    return 0


def _print_summary(result: JobResult) -> None:
    m = result.manifest
    model = m["model"]
    lines = [
        ("rows in", f"{m['rows']['in']:,}"),
        ("rows out (tokenized)", f"{m['rows']['out']:,}"),
        ("rows quarantined", f"{m['rows']['quarantined']:,}"),
        ("reconciled", "yes" if m["rows"]["reconciled"] else "NO"),
        ("rows scored encrypted", f"{model['n_test']:,}"),
        ("AUC plaintext", f"{model['auc_plaintext']:.4f}"),
        ("AUC encrypted (CKKS)", f"{model['auc_encrypted']:.4f}"),
        ("max |score diff|", f"{model['max_abs_score_diff']:.1e}"),
    ]
    lines += [(f"time {stage}", f"{seconds:.2f} s") for stage, seconds in m["timings_s"].items()]
    width = max(len(label) for label, _ in lines)
    print(f"FinVeil job {m['job']['name']} ({m['job']['id']})")
    for label, value in lines:
        print(f"  {label:<{width}}  {value}")
    report = result.output_dir / "report.txt"
    if report.is_file():
        print()
        print(report.read_text().rstrip())
        print()
    print(f"outputs in {result.output_dir}/:")
    outputs = ["tokenized.parquet", "scores.parquet", "quarantine.parquet", "report.json"]
    outputs += [n for n in ("report.txt", "roc.png", "precision_recall.png")
                if (result.output_dir / n).is_file()]  # fmt: skip
    for name in (*outputs, "manifest.json (signed)", "manifest.pub"):
        print(f"  {name}")
