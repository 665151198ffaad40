"""The detokenize app in a real enclave process: released keys, measured policy, own audit."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from enclaves.apps import app_dir
from enclaves.apps.detokenize.app import _clients
from enclaves.attestation import NonceRegistry, Policy
from enclaves.keyrelease import client_id_of, release_key
from enclaves.platform import SimulatedPlatform
from enclaves.runtime import AttestedClient, SimulatedEnclave, sign_app
from engine.errors import ConfigError, IntegrityError, PolicyDenied
from engine.keys import AccessPolicy, AuditLog, DetokenizeRequest, KeyMaterial, KeyPurpose, KeyRing
from engine.keys.policy import Usage
from engine.tokenize import Kind, tokenize_frame
from tests.enclaves.apps.conftest import hex_ids
from tests.enclaves.conftest import copy_app
from tests.enclaves.keyrelease.conftest import make_keyring
from tests.enclaves.keyrelease.test_release import WatchingHost

AUDIT_KEY = "audit.detokenize"
PANS = ["4111111111111111", "5500005555555559", "4012888888881881"]
EMAILS = ["alice@example.com", "bob@bank.org", "carol@d.net"]
PII = {"card": "pan", "mail": "email"}
POLICY = """
[config.policy.roles.fraud]
kinds = ["pan"]
purposes = ["fraud-investigation"]
max_rows = 3
rate_requests = 4
approval_rows = 2

[config.policy.principals.analyst]
roles = ["fraud"]

[config.policy.principals.lead]
roles = ["fraud"]
approver = true
"""


class People:
    """The keyring and the app's clients, each with an Ed25519 identity."""

    def __init__(self) -> None:
        self.keyring = Ed25519PrivateKey.generate()
        self.analyst = Ed25519PrivateKey.generate()
        self.lead = Ed25519PrivateKey.generate()
        self.stranger = Ed25519PrivateKey.generate()


class Setup:
    """A running detokenize enclave, the keyring that fed it, and a tokenized frame."""

    def __init__(
        self, enclave: SimulatedEnclave, platform: SimulatedPlatform, ring: KeyRing, log: Path
    ) -> None:
        self.enclave = enclave
        self.platform = platform
        self.ring = ring
        self.log = log
        self.before_audit: tuple[str, Any] | None = None
        self.policy = Policy(measurements=frozenset({enclave.measurement}), allow_simulated=True)
        keys = {
            Kind.PAN: ring.ensure("tokenize.pan", KeyPurpose.TOKENIZE),
            Kind.EMAIL: ring.ensure("tokenize.email", KeyPurpose.TOKENIZE),
        }
        self.audit_key: KeyMaterial = ring.ensure(AUDIT_KEY, KeyPurpose.AUDIT)
        frame = pd.DataFrame({"card": PANS, "mail": EMAILS})
        self.tokens = tokenize_frame(frame, PII, keys).frame

    def release(self, key_id: str, identity: Ed25519PrivateKey, **extra: Any) -> None:
        release_key(
            self.ring, key_id, enclave=self.enclave, policy=self.policy,
            roots=[self.platform.root_certificate], nonces=NonceRegistry(),
            client_key=identity, extra=extra or None,
        )  # fmt: skip

    def client(self, key: Ed25519PrivateKey | None, host: Any = None) -> AttestedClient:
        return AttestedClient.connect(
            host or self.enclave, policy=self.policy, roots=[self.platform.root_certificate],
            nonces=NonceRegistry(), client_key=key,
        )  # fmt: skip

    def ask(self, client: AttestedClient, rows: int = 2, **changes: Any) -> Any:
        args = {
            "columns": {"card": self.tokens["card"].tolist()[:rows]},
            "pii": {"card": "pan"},
            "purpose": "fraud-investigation",
            "justification": "case FR-1234: chargeback dispute",
            **changes,
        }
        return client.call("detokenize", args)

    def entries(self) -> list[dict[str, Any]]:
        return AuditLog.read(self.log, self.audit_key)


@pytest.fixture(scope="module")
def people() -> People:
    return People()


@pytest.fixture(scope="module")
def app(
    tmp_path_factory: pytest.TempPathFactory, people: People, signer_key: Ed25519PrivateKey
) -> Path:
    path = copy_app(
        app_dir("detokenize"), tmp_path_factory.mktemp("detok") / "app",
        trusted_clients=hex_ids(people.keyring), max_rows="3",
    )  # fmt: skip
    manifest = (path / "enclave.toml").read_text()
    head = manifest[: manifest.index("[config.clients]")]
    clients = "\n".join(
        f"{name} = {json.dumps(client_id_of(getattr(people, name)).hex())}"
        for name in ("analyst", "lead")
    )
    (path / "enclave.toml").write_text(f"{head}[config.clients]\n{clients}\n{POLICY}")
    sign_app(path, signer_key)
    return path


@pytest.fixture(scope="module")
def running(
    tmp_path_factory: pytest.TempPathFactory,
    app: Path,
    platform: SimulatedPlatform,
    people: People,
) -> Iterator[Setup]:
    directory = tmp_path_factory.mktemp("running")
    ring = make_keyring(directory / "keys")
    with SimulatedEnclave.load(app, platform=platform) as enclave:
        setup = Setup(enclave, platform, ring, directory / "unused.jsonl")
        setup.release("tokenize.pan", people.keyring)
        setup.release("tokenize.email", people.keyring)
        # Before the audit key arrives nothing may be detokenized (checked in a test below).
        try:
            setup.ask(setup.client(people.analyst))
        except PolicyDenied as exc:
            setup.before_audit = (str(exc), enclave.call("info"))
        yield setup


@pytest.fixture
def setup(running: Setup, people: People, tmp_path: Path) -> Setup:
    # A fresh audit log per test: the keyring re-releases the audit key with a new path,
    # which also starts a fresh rate-limit history (only a trusted keyring client can).
    running.log = tmp_path / "enclave-audit.jsonl"
    running.release(AUDIT_KEY, people.keyring, audit_path=str(running.log))
    return running


def test_authorized_principal_gets_values_only_inside_its_channel(
    setup: Setup, people: People
) -> None:
    host = WatchingHost(setup.enclave)
    reply = setup.ask(setup.client(people.analyst, host=host), rows=2)
    assert reply == {"columns": {"card": PANS[:2]}, "rows": 2}
    for blob in host.seen:
        assert not any(pan.encode() in blob for pan in PANS)
    [entry] = [e for e in setup.entries() if e["action"] == "detokenize"]
    assert (entry["who"], entry["decision"], entry["rows"]) == ("analyst", "allow", 2)
    assert (entry["key_id"], entry["key_version"]) == ("tokenize.pan", 1)
    head = setup.enclave.call("audit_head")
    assert head["entries"] == len(setup.entries())
    assert head["digest"] == AuditLog.verify(setup.log, setup.ring.get(AUDIT_KEY, 1)).digest
    text = setup.log.read_text()
    for value in (*PANS, *setup.tokens["card"], "chargeback"):
        assert value not in text


def test_kind_not_granted_is_denied_and_audited(setup: Setup, people: People) -> None:
    client = setup.client(people.analyst)
    with pytest.raises(PolicyDenied, match="kind_not_granted"):
        setup.ask(client, columns={"mail": setup.tokens["mail"].tolist()[:1]},
                  pii={"mail": "email"})  # fmt: skip
    assert setup.entries()[-1]["decision"] == "deny"


def test_unlisted_and_anonymous_clients_are_refused_and_audited(
    setup: Setup, people: People
) -> None:
    with pytest.raises(PolicyDenied, match="listed in the enclave config"):
        setup.ask(setup.client(people.stranger))
    with pytest.raises(PolicyDenied, match="listed in the enclave config"):
        setup.ask(setup.client(None))
    with pytest.raises(PolicyDenied, match="attested secure channel"):
        setup.enclave.call("detokenize", {})
    assert [e["who"] for e in setup.entries() if e["decision"] == "deny"] == ["unauthenticated"] * 3


def test_a_keyring_key_from_an_untrusted_client_is_refused(setup: Setup, people: People) -> None:
    with pytest.raises(PolicyDenied, match="listed in the enclave config"):
        setup.release("tokenize.pan", people.analyst)


def test_bulk_request_needs_an_approval_by_another_principal(setup: Setup, people: People) -> None:
    analyst = setup.client(people.analyst)
    with pytest.raises(PolicyDenied, match="approval_required"):
        setup.ask(analyst, rows=3)
    request = {
        "principal": "analyst", "kind": "pan", "rows": 3, "purpose": "fraud-investigation",
        "justification": "case FR-1234: chargeback dispute", "key_version": 1,
    }  # fmt: skip
    with pytest.raises(PolicyDenied, match="not_an_approver"):
        analyst.call("approve", {"request": request})
    setup.client(people.lead).call("approve", {"request": request})
    assert setup.ask(analyst, rows=3)["columns"]["card"] == PANS
    with pytest.raises(PolicyDenied, match="row"):
        setup.ask(analyst, rows=4, columns={"card": [*setup.tokens["card"], "x"]})


def test_rate_limit_holds_inside_the_enclave(setup: Setup, people: People) -> None:
    analyst = setup.client(people.analyst)
    for _ in range(4):
        setup.ask(analyst, rows=1)
    with pytest.raises(PolicyDenied, match="rate_requests"):
        setup.ask(analyst, rows=1)


def test_truncated_or_deleted_audit_log_fails_closed(setup: Setup, people: People) -> None:
    analyst = setup.client(people.analyst)
    setup.ask(analyst, rows=1)
    setup.ask(analyst, rows=1)
    lines = setup.log.read_bytes().splitlines(keepends=True)
    setup.log.write_bytes(b"".join(lines[:-1]))  # The host drops the last decision.
    with pytest.raises(IntegrityError, match="anchored head"):
        setup.ask(analyst, rows=1)
    setup.log.unlink()
    with pytest.raises(IntegrityError):
        setup.ask(analyst, rows=1)


def test_malformed_requests_are_config_errors(setup: Setup, people: People) -> None:
    analyst = setup.client(people.analyst)
    with pytest.raises(ConfigError, match="equal-length"):
        setup.ask(analyst, columns={"card": "not a list"})
    with pytest.raises(ConfigError, match="unknown kind"):
        setup.ask(analyst, pii={"card": "blood-type"})
    with pytest.raises(ConfigError, match="unknown fields"):
        setup.ask(analyst, options={"card": {"colour": "red"}})


def test_nothing_is_allowed_before_the_audit_key_arrives(running: Setup) -> None:
    assert running.before_audit is not None
    message, info = running.before_audit
    assert "no audit key" in message
    assert info == {"kinds": {"email": [1], "pan": [1]}, "has_audit": False, "audit_entries": None}


def test_the_shipped_manifest_parses_and_denies_everything_by_default() -> None:
    config = tomllib.loads((app_dir("detokenize") / "enclave.toml").read_text())["config"]
    assert config["trusted_clients"] == []
    assert _clients(config) == {}
    policy = AccessPolicy.from_mapping(config["policy"])
    request = DetokenizeRequest(principal="anyone", kind="pan", rows=1, purpose="audit")
    decision = policy.evaluate(
        request, usage=lambda *_: Usage(requests=0, rows=0), is_approved=False
    )
    assert (decision.allowed, decision.rule) == (False, "unknown_principal")
