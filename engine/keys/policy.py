"""Detokenization policy: roles, principals, requests, decisions and the enforcing gate."""

from engine.keys._gate import PolicyGate
from engine.keys._policy import AccessPolicy, Decision, DetokenizeRequest, Principal, Role, Usage

__all__ = [
    "AccessPolicy",
    "Decision",
    "DetokenizeRequest",
    "PolicyGate",
    "Principal",
    "Role",
    "Usage",
]
