"""Attestation policy: which enclaves, on which platforms, in which state, are trusted."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from enclaves.attestation._claims import TCBStatus
from engine.errors import ConfigError

_ZERO = bytes(32)


@dataclass(frozen=True, slots=True, kw_only=True)
class SignerRule:
    """Trust every enclave of one signer and product from a minimum SVN on.

    Args:
        signer_id: SHA-256 of the signer's Ed25519 public key (32 bytes).
        product_id: The product id the enclave must carry.
        min_svn: The lowest accepted security version number.
    """

    signer_id: bytes
    product_id: int
    min_svn: int = 0

    def __post_init__(self) -> None:
        if len(self.signer_id) != 32 or self.signer_id == _ZERO:
            raise ConfigError("signer rule: signer_id must be a non-zero 32-byte hash")
        if not 0 <= self.product_id <= 0xFFFF or not 0 <= self.min_svn <= 0xFFFF:
            raise ConfigError("signer rule: product_id and min_svn must be in 0..65535")


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """What a verifier accepts. The default policy accepts nothing.

    An enclave is accepted when its measurement is in ``measurements`` or a rule in
    ``signers`` matches it, and every other condition holds.

    Args:
        measurements: Allowed measurements (32 bytes each).
        signers: Allowed signer + product + minimum SVN rules.
        allow_debug: Accept debug enclaves (development only; their memory is readable).
        accepted_tcb: Accepted platform TCB states; ``REVOKED`` can never be accepted.
        allow_simulated: Accept simulated platforms (tests and demos only).
        max_age_s: Maximum quote age in seconds.
    """

    measurements: frozenset[bytes] = frozenset()
    signers: tuple[SignerRule, ...] = ()
    allow_debug: bool = False
    accepted_tcb: frozenset[TCBStatus] = frozenset({TCBStatus.UP_TO_DATE})
    allow_simulated: bool = False
    max_age_s: float = 300.0

    def __post_init__(self) -> None:
        for measurement in self.measurements:
            if len(measurement) != 32:
                raise ConfigError("policy: every measurement must be 32 bytes")
            if measurement == _ZERO:
                raise ConfigError("policy: the all-zero measurement can never be allowed")
        if TCBStatus.REVOKED in self.accepted_tcb:
            raise ConfigError("policy: a revoked TCB can never be accepted")
        if not 0 < self.max_age_s <= 86_400:
            raise ConfigError("policy: max_age_s must be in (0, 86400]")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Policy:
        """Build a policy from a parsed TOML or JSON document (hex strings for hashes).

        Args:
            data: Keys ``measurements``, ``signers`` (list of tables with ``signer_id``,
                ``product_id``, ``min_svn``), ``allow_debug``, ``accepted_tcb``,
                ``allow_simulated``, ``max_age_s``; all optional.

        Returns:
            The policy.

        Raises:
            ConfigError: If a key is unknown or a value is invalid.
        """
        known = {"measurements", "signers", "allow_debug", "accepted_tcb", "allow_simulated"}
        unknown = set(data) - known - {"max_age_s"}
        if unknown:
            raise ConfigError(f"policy: unknown keys {sorted(unknown)}")
        try:
            return cls(
                measurements=frozenset(_hex(m) for m in data.get("measurements", [])),
                signers=tuple(
                    SignerRule(
                        signer_id=_hex(rule["signer_id"]),
                        product_id=int(rule["product_id"]),
                        min_svn=int(rule.get("min_svn", 0)),
                    )
                    for rule in data.get("signers", [])
                ),
                allow_debug=_bool(data, "allow_debug"),
                accepted_tcb=frozenset(
                    TCBStatus(s) for s in data.get("accepted_tcb", [TCBStatus.UP_TO_DATE.value])
                ),
                allow_simulated=_bool(data, "allow_simulated"),
                max_age_s=float(data.get("max_age_s", 300.0)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"policy: invalid value ({type(exc).__name__})") from exc


def _hex(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ConfigError("policy: hashes must be hex strings")
    return bytes.fromhex(value)


def _bool(data: Mapping[str, Any], name: str) -> bool:
    value = data.get(name, False)
    if not isinstance(value, bool):
        raise ConfigError(f"policy: {name} must be true or false")
    return value
