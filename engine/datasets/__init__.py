"""Embedded demo data and a card-transaction simulator, with synthetic personal details."""

from engine.datasets._german import DEMO_PII, german_credit, german_credit_with_pii
from engine.datasets._transactions import (
    TRANSACTION_PII,
    SimulationSummary,
    simulate_transactions,
    write_transactions,
)

__all__ = [
    "DEMO_PII",
    "TRANSACTION_PII",
    "SimulationSummary",
    "german_credit",
    "german_credit_with_pii",
    "simulate_transactions",
    "write_transactions",
]
