"""Secure multi-party computation between partner banks: sharing, joint statistics, PSI.

Recipes live here; protocol-level primitives (Beaver products, comparison, truncation, the
dealer, links) are in :mod:`engine.smpc.hazmat`. See docs/smpc.md.
"""

from engine.smpc._identity import Identity, generate_identity
from engine.smpc._ring import FixedPoint, recombine, split
from engine.smpc._session import join_session, serve_dealer
from engine.smpc._spec import SessionSpec, parse_spec

__all__ = [
    "FixedPoint",
    "Identity",
    "SessionSpec",
    "generate_identity",
    "join_session",
    "parse_spec",
    "recombine",
    "serve_dealer",
    "split",
]
