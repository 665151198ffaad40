"""Hazardous: protocol-level SMPC primitives.

Misuse (reused dealer material, unbounded inputs, opening the wrong value) breaks privacy or
correctness. Prefer the recipes in ``engine.smpc``.
"""

from engine.smpc._attested import client_id, fetch_material, relay_party, wire_plan
from engine.smpc._dealer import (
    ANDS_PER_COMPARISON,
    Kind,
    PartyMaterial,
    Pool,
    Request,
    deal,
    expand,
)
from engine.smpc._identity import fingerprint
from engine.smpc._local import LocalNet, run_local
from engine.smpc._protocol import Net, Party
from engine.smpc._psi import exponentiate, hash_to_group, intersect, random_scalar
from engine.smpc._ring import MAX_ABS_BITS, prg
from engine.smpc._session import prepare_inputs
from engine.smpc._spec import Computation, DealerMode, DealerTrust, Feature
from engine.smpc._transport import Mesh, Node

__all__ = [
    "ANDS_PER_COMPARISON",
    "MAX_ABS_BITS",
    "Computation",
    "DealerMode",
    "DealerTrust",
    "Feature",
    "Kind",
    "LocalNet",
    "Mesh",
    "Net",
    "Node",
    "Party",
    "PartyMaterial",
    "Pool",
    "Request",
    "client_id",
    "deal",
    "expand",
    "exponentiate",
    "fetch_material",
    "fingerprint",
    "hash_to_group",
    "intersect",
    "prepare_inputs",
    "prg",
    "random_scalar",
    "relay_party",
    "run_local",
    "wire_plan",
]
