"""Embedded demo data: real credit records with deterministic synthetic personal details."""

from engine.datasets._german import DEMO_PII, german_credit, german_credit_with_pii

__all__ = ["DEMO_PII", "german_credit", "german_credit_with_pii"]
