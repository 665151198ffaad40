"""Model evaluation report: fraud and credit on raw identifiers, on tokens and encrypted.

Usage::

    python benchmarks/bench_models.py [--rows 100000] [--seed 1] [--k 10]
                                      [--out benchmarks/results/models]

Runs :func:`engine.models.evaluate` on the German credit data, the Lending Club loans
(``tests/data/loans_pii.csv.gz``, every personal-detail column tokenized) and ``--rows``
simulated transactions (every identifier tokenized), prints the tables with timings, and
writes ``<out>/<dataset>/report.json`` plus ROC and precision-recall PNGs when matplotlib (the
``report`` extra) is installed.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from engine.datasets import DEMO_PII, german_credit, simulate_transactions
from engine.models import EvaluationReport, evaluate

LOANS = Path(__file__).resolve().parents[1] / "tests" / "data" / "loans_pii.csv.gz"
# Application-time attributes only: balance, payments and loan_status describe the outcome.
LOAN_NUMERIC = (
    "emp_length",
    "annual_income",
    "debt_to_income",
    "delinq_2y",
    "months_since_last_delinq",
    "inquiries_last_12m",
    "total_credit_lines",
    "open_credit_lines",
    "total_credit_limit",
    "total_credit_utilized",
    "num_historical_failed_to_pay",
    "accounts_opened_24m",
    "loan_amount",
    "term",
    "interest_rate",
    "installment",
    "months_since_90d_late",
    "account_never_delinq_percent",
    "num_cc_carrying_balance",
    "total_debit_limit",
)
LOAN_CATEGORICAL = ("grade", "homeownership", "verified_income", "loan_purpose", "application_type")


def _german(seed: int) -> EvaluationReport:
    df = german_credit()
    numeric = [c for c in df.columns if df[c].dtype.kind in "iu"]
    categorical = [c for c in df.columns if c not in numeric and c != "creditability"]
    return evaluate(
        df,
        task="credit",
        dataset="german_credit",
        label="creditability",
        positive="bad",
        numeric=numeric,
        categorical=categorical,
        seed=seed,
    )


def _loans(seed: int) -> EvaluationReport:
    df = pd.read_csv(LOANS, dtype=dict.fromkeys(DEMO_PII, "str"))
    return evaluate(
        df,
        task="credit",
        dataset="loans",
        label="delinquent",
        numeric=LOAN_NUMERIC,
        categorical=LOAN_CATEGORICAL,
        pii=DEMO_PII,
        seed=seed,
    )


def _fraud(rows: int, seed: int, k: int) -> EvaluationReport:
    df = simulate_transactions(rows, seed=seed)
    return evaluate(
        df,
        task="fraud",
        dataset=f"simulated_{rows}",
        k=k,
        extra_numeric=("distance_km",),
        seed=seed,
    )


def main() -> None:
    """Run the three evaluations and write their reports."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--k", type=int, default=10, help="cards reviewed per day")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/models"))
    args = parser.parse_args()
    runs: tuple[tuple[str, Callable[[], EvaluationReport]], ...] = (
        ("german_credit", lambda: _german(args.seed)),
        ("loans", lambda: _loans(args.seed)),
        (f"simulated_{args.rows}", lambda: _fraud(args.rows, args.seed, args.k)),
    )
    for name, run in runs:
        start = time.perf_counter()
        report = run()
        elapsed = time.perf_counter() - start
        written = report.save(args.out / name)
        print(report.to_table())
        print(f"info: {dict(report.info)}")
        print(f"{elapsed:.1f} s; wrote {', '.join(str(p) for p in written)}\n")


if __name__ == "__main__":
    main()
