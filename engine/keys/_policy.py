"""Detokenization access policy: deny by default; roles grant kinds, purposes and limits."""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from engine.keys._envelope import canonical_json

__all__ = ["AccessPolicy", "Decision", "DetokenizeRequest", "Principal", "Role", "Usage"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_SOURCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,255}$")


def _check_name(value: object, what: str) -> None:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ConfigError(f"{what} must be 1-128 characters of [A-Za-z0-9._@-]")


def _check_count(value: object, what: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if type(value) is not int or value < 1:
        raise ConfigError(f"{what} must be a positive integer")


@dataclass(frozen=True, slots=True, kw_only=True)
class Role:
    """What holders of a role may detokenize, why, and how much.

    Args:
        name: Role name.
        kinds: Token kinds the role may detokenize (``"pan"``, ``"iban"``, ...).
        purposes: Purposes of use the role may state (``"fraud-investigation"``, ...).
        max_rows: Per-request row cap.
        rate_requests: Allowed requests per window (``None``: unlimited).
        rate_rows: Allowed rows per window, summed over requests (``None``: unlimited).
        window_s: Rate-limit window in seconds.
        approval_rows: Requests with more rows need a second approver (``None``: never).
        justification_min_chars: Minimum length of the required justification.
    """

    name: str
    kinds: frozenset[str]
    purposes: frozenset[str]
    max_rows: int
    rate_requests: int | None = None
    rate_rows: int | None = None
    window_s: int = 3600
    approval_rows: int | None = None
    justification_min_chars: int = 10

    def __post_init__(self) -> None:
        _check_name(self.name, "role name")
        if not self.kinds or not all(isinstance(k, str) and _KIND.match(k) for k in self.kinds):
            raise ConfigError(f"role {self.name!r}: kinds must be a non-empty list of kind names")
        if not self.purposes:
            raise ConfigError(f"role {self.name!r}: purposes must not be empty")
        for purpose in self.purposes:
            _check_name(purpose, f"role {self.name!r}: purpose")
        _check_count(self.max_rows, f"role {self.name!r}: max_rows")
        _check_count(self.rate_requests, f"role {self.name!r}: rate_requests", optional=True)
        _check_count(self.rate_rows, f"role {self.name!r}: rate_rows", optional=True)
        _check_count(self.window_s, f"role {self.name!r}: window_s")
        _check_count(self.approval_rows, f"role {self.name!r}: approval_rows", optional=True)
        if type(self.justification_min_chars) is not int or self.justification_min_chars < 1:
            raise ConfigError(f"role {self.name!r}: justification_min_chars must be >= 1")


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """A person or service that may be granted roles.

    Args:
        name: The authenticated principal name (from the adapter: OS user, mTLS identity).
        roles: Names of the roles granted.
        is_approver: Whether the principal may approve others' bulk requests.
    """

    name: str
    roles: frozenset[str]
    is_approver: bool = False

    def __post_init__(self) -> None:
        _check_name(self.name, "principal name")
        for role in self.roles:
            _check_name(role, f"principal {self.name!r}: role")


@dataclass(frozen=True, slots=True, kw_only=True)
class DetokenizeRequest:
    """One request to turn tokens of one kind back into values.

    Args:
        principal: Who asks (already authenticated by the adapter).
        kind: Token kind, e.g. ``"pan"`` (key id ``tokenize.<kind>``).
        rows: Number of tokens to detokenize.
        purpose: Stated purpose of use; must be one the role allows.
        justification: Free text (ticket, case); audited only as a keyed hash.
        dataset_id: The dataset the tokens come from, if known (audited as a keyed hash).
        key_version: The key version the tokens were made with, if known.
        source: Where the request comes from (host, client or IP id, from the adapter), if
            known; audited as a keyed hash and used by the anomaly detector.
    """

    principal: str
    kind: str
    rows: int
    purpose: str
    justification: str = field(default="", repr=False)
    dataset_id: str | None = None
    key_version: int | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.principal, str) or not _NAME.match(self.principal):
            raise ValueError("principal must be 1-128 characters of [A-Za-z0-9._@-]")
        if not isinstance(self.kind, str) or not _KIND.match(self.kind):
            raise ValueError("kind must be a lowercase kind name such as 'pan'")
        if type(self.rows) is not int or self.rows < 1:
            raise ValueError("rows must be a positive int")
        if not isinstance(self.purpose, str) or not _NAME.match(self.purpose):
            raise ValueError("purpose must be 1-128 characters of [A-Za-z0-9._@-]")
        if not isinstance(self.justification, str):
            raise ValueError("justification must be a string")
        if self.source is not None and (
            not isinstance(self.source, str) or not _SOURCE.match(self.source)
        ):
            raise ValueError("source must be 1-256 characters of [A-Za-z0-9._:@/+=-]")

    @property
    def key_id(self) -> str:
        """The keyring id of the key the tokens were made with."""
        return f"tokenize.{self.kind}"

    def fingerprint(self) -> str:
        """Return a SHA-256 (hex) over every field; approvals bind to it."""
        fields = {
            "principal": self.principal,
            "kind": self.kind,
            "rows": self.rows,
            "purpose": self.purpose,
            "justification": self.justification,
            "dataset_id": self.dataset_id,
            "key_version": self.key_version,
        }
        if self.source is not None:  # Absent from older fingerprints; keeps them stable.
            fields["source"] = self.source
        return hashlib.sha256(canonical_json(fields)).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    """A principal's allowed detokenization within a rate-limit window."""

    requests: int
    rows: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """The outcome of evaluating a request.

    Args:
        allowed: Whether the request may proceed.
        rule: The deciding rule: ``"allow"``, ``"unknown_principal"``, ``"kind_not_granted"``,
            ``"purpose_not_granted"``, ``"justification_required"``, ``"row_cap"``,
            ``"rate_requests"``, ``"rate_rows"``, ``"approval_required"``.
        reason: A sentence for the audit log and the error (no data values).
        role: The role that allowed it, or the closest role that denied it.
    """

    allowed: bool
    rule: str
    reason: str
    role: str | None = None


UsageLookup = Callable[[str, int], Usage]


class AccessPolicy:
    """Roles and principals; :meth:`evaluate` denies anything no role explicitly allows.

    Args:
        roles: The roles.
        principals: The principals.

    Raises:
        ConfigError: A principal names an unknown role, or names are duplicated.
    """

    __slots__ = ("_principals", "_roles")

    def __init__(self, *, roles: list[Role], principals: list[Principal]) -> None:
        self._roles = {r.name: r for r in roles}
        self._principals = {p.name: p for p in principals}
        if len(self._roles) != len(roles) or len(self._principals) != len(principals):
            raise ConfigError("policy: role and principal names must be unique")
        for p in principals:
            unknown = sorted(p.roles - set(self._roles))
            if unknown:
                raise ConfigError(f"policy: principal {p.name!r} has unknown role(s) {unknown}")

    def principal(self, name: str) -> Principal | None:
        """Return the principal called ``name``, if any."""
        return self._principals.get(name)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> AccessPolicy:
        """Build a policy from ``{"roles": {name: {...}}, "principals": {name: {...}}}``.

        Raises:
            ConfigError: Unknown or malformed fields.
        """
        for section in ("roles", "principals"):
            if not isinstance(data.get(section, {}), Mapping):
                raise ConfigError(f"policy is malformed ({section} must be a table)")
        try:
            roles = [_role(name, spec) for name, spec in dict(data.get("roles", {})).items()]
            principals = [
                Principal(
                    name=name,
                    roles=frozenset(_strings(spec, "roles", f"principal {name!r}")),
                    is_approver=_flag(spec, "approver", f"principal {name!r}"),
                )
                for name, spec in dict(data.get("principals", {})).items()
            ]
        except (TypeError, AttributeError) as exc:
            raise ConfigError(f"policy is malformed ({exc})") from None
        extra = sorted(set(data) - {"roles", "principals"})
        if extra:
            raise ConfigError(f"policy: unknown section(s) {extra}")
        return cls(roles=roles, principals=principals)

    @classmethod
    def load(cls, path: Path) -> AccessPolicy:
        """Read a policy from a TOML file (see :meth:`from_mapping`)."""
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read policy {path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"policy {path} is not valid TOML: {exc}") from None
        return cls.from_mapping(data)

    def evaluate(
        self, request: DetokenizeRequest, *, usage: UsageLookup, is_approved: bool
    ) -> Decision:
        """Decide ``request``; pure (no I/O, no clock).

        Args:
            request: The request.
            usage: ``(principal, window_s) -> Usage`` of allowed requests in the window.
            is_approved: Whether a valid second approval for exactly this request exists.

        Returns:
            The first role that allows the request, or the denial of the closest role.
        """
        who = self._principals.get(request.principal)
        if who is None:
            return Decision(
                allowed=False, rule="unknown_principal",
                reason=f"principal {request.principal!r} is not in the policy",
            )  # fmt: skip
        roles = [self._roles[name] for name in sorted(who.roles)]
        granting = [r for r in roles if request.kind in r.kinds]
        if not granting:
            return Decision(
                allowed=False, rule="kind_not_granted",
                reason=f"no role of {who.name!r} may detokenize kind {request.kind!r}",
            )  # fmt: skip
        if not any(request.purpose in r.purposes for r in granting):
            return Decision(
                allowed=False, rule="purpose_not_granted", role=granting[0].name,
                reason=f"no role of {who.name!r} may detokenize {request.kind!r} for the "
                "stated purpose",
            )  # fmt: skip
        denials = [
            _check_role(role, request, usage=usage, is_approved=is_approved)
            for role in granting
            if request.purpose in role.purposes
        ]
        return next((d for d in denials if d.allowed), denials[0])


def _check_role(
    role: Role, request: DetokenizeRequest, *, usage: UsageLookup, is_approved: bool
) -> Decision:
    def deny(rule: str, reason: str) -> Decision:
        return Decision(allowed=False, rule=rule, reason=f"role {role.name!r}: {reason}",
                        role=role.name)  # fmt: skip

    if len(request.justification.strip()) < role.justification_min_chars:
        return deny("justification_required",
                    f"a justification of at least {role.justification_min_chars} characters "
                    "is required")  # fmt: skip
    if request.rows > role.max_rows:
        return deny("row_cap", f"{request.rows} rows requested, at most {role.max_rows} allowed")
    used = usage(request.principal, role.window_s)
    if role.rate_requests is not None and used.requests + 1 > role.rate_requests:
        return deny("rate_requests",
                    f"{used.requests} requests in the last {role.window_s} s, at most "
                    f"{role.rate_requests} allowed")  # fmt: skip
    if role.rate_rows is not None and used.rows + request.rows > role.rate_rows:
        return deny("rate_rows",
                    f"{used.rows} rows in the last {role.window_s} s plus {request.rows} "
                    f"requested exceeds {role.rate_rows}")  # fmt: skip
    if role.approval_rows is not None and request.rows > role.approval_rows and not is_approved:
        return deny("approval_required",
                    f"{request.rows} rows exceed {role.approval_rows}: a second approver must "
                    "approve this exact request")  # fmt: skip
    return Decision(allowed=True, rule="allow", reason=f"allowed by role {role.name!r}",
                    role=role.name)  # fmt: skip


_ROLE_FIELDS = frozenset(
    {"kinds", "purposes", "max_rows", "rate_requests", "rate_rows", "window_s",
     "approval_rows", "justification_min_chars"}
)  # fmt: skip


def _role(name: str, spec: Mapping[str, Any]) -> Role:
    extra = sorted(set(spec) - _ROLE_FIELDS)
    if extra:
        raise ConfigError(f"policy: role {name!r} has unknown field(s) {extra}")
    if "max_rows" not in spec:
        raise ConfigError(f"policy: role {name!r} needs max_rows")
    return Role(
        name=name,
        kinds=frozenset(_strings(spec, "kinds", f"role {name!r}")),
        purposes=frozenset(_strings(spec, "purposes", f"role {name!r}")),
        max_rows=spec["max_rows"],
        rate_requests=spec.get("rate_requests"),
        rate_rows=spec.get("rate_rows"),
        window_s=spec.get("window_s", 3600),
        approval_rows=spec.get("approval_rows"),
        justification_min_chars=spec.get("justification_min_chars", 10),
    )


def _strings(spec: Mapping[str, Any], key: str, what: str) -> list[str]:
    value = spec.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"policy: {what}: {key} must be a list of strings")
    return value


def _flag(spec: Mapping[str, Any], key: str, what: str) -> bool:
    extra = sorted(set(spec) - {"roles", "approver"})
    if extra:
        raise ConfigError(f"policy: {what} has unknown field(s) {extra}")
    value = spec.get(key, False)
    if not isinstance(value, bool):
        raise ConfigError(f"policy: {what}: {key} must be true or false")
    return value
