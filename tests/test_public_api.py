"""Pins every public ``__all__``: a change here is an API change and goes in CHANGELOG.md."""

import importlib

import pytest

PUBLIC_API = {
    "engine": [
        "__version__",
    ],
    "engine.errors": [
        "AttestationError",
        "ConfigError",
        "ContextMismatch",
        "DecryptionError",
        "DomainError",
        "EnclaveError",
        "FinVeilError",
        "HEError",
        "InputError",
        "IntegrityError",
        "KeyManagementError",
        "KeyNotFound",
        "KeyVersionMismatch",
        "KeyringLocked",
        "NotFittedError",
        "ParameterError",
        "PartyDropped",
        "PolicyDenied",
        "SMPCError",
        "ScaleExhausted",
        "SealingError",
        "SessionAborted",
        "ShareMismatch",
        "TokenizationError",
    ],
    "engine.keys": [
        "AccessPolicy",
        "AuditChainHead",
        "AuditLog",
        "DetokenizeRequest",
        "KeyInfo",
        "KeyMaterial",
        "KeyPurpose",
        "KeyRing",
        "KeyState",
        "KeyVersionInfo",
        "KeyringBackend",
        "PolicyGate",
        "check_groupable",
        "check_joinable",
    ],
    "engine.tokenize": [
        "ColumnProtection",
        "FF1",
        "FF3_1",
        "FormatOptions",
        "Kind",
        "Scheme",
        "TokenizedFrame",
        "detokenize_frame",
        "tokenize_frame",
    ],
    "engine.he": [
        "CKKSKeys",
        "CKKSParams",
        "EncryptedFrame",
        "EncryptedModel",
        "EncryptedVector",
        "PublicContext",
        "SigmoidPolynomial",
        "VectorKind",
    ],
    "engine.smpc": [
        "FixedPoint",
        "Identity",
        "SessionSpec",
        "generate_identity",
        "join_session",
        "parse_spec",
        "recombine",
        "serve_dealer",
        "split",
    ],
    "engine.models": [
        "LinearRiskModel",
    ],
    "engine.datasets": [
        "DEMO_PII",
        "german_credit",
        "german_credit_with_pii",
    ],
    "engine.compliance": [
        "decrypt_records",
        "encrypt_records",
    ],
    "engine.jobs": [
        "JobResult",
        "JobSpec",
        "ModelSpec",
        "Task",
        "load_spec",
        "parse_spec",
        "run_job",
    ],
    "enclaves.runtime": [
        "AttestedClient",
        "Enclave",
        "EnclaveContext",
        "EnclaveIdentity",
        "Request",
        "SimulatedEnclave",
        "measure_app",
        "sign_app",
    ],
    "enclaves.attestation": [
        "NonceRegistry",
        "Policy",
        "QuoteClaims",
        "SIMULATED_LABEL",
        "SignerRule",
        "TCBStatus",
        "Verdict",
        "verify_quote",
    ],
    "enclaves.platform": [
        "PlatformSecrets",
        "SimulatedPlatform",
    ],
    "enclaves.channel": [
        "RECORD_FORMAT_VERSION",
        "Role",
        "SecureChannel",
        "accept",
        "connect",
    ],
    "enclaves.sealing": [
        "SEALED_FORMAT_VERSION",
        "SealPolicy",
        "SealingKeys",
        "derive_sealing_keys",
        "seal",
        "unseal",
    ],
    "enclaves.keyrelease": [
        "KeyRelease",
        "RELEASE_ACTION",
        "ReceivedKey",
        "client_id_of",
        "client_ids",
        "receive_key",
        "release_key",
        "require_client",
        "unwrap_payload",
        "wrap_payload",
    ],
    "enclaves.apps": [
        "app_dir",
    ],
}


@pytest.mark.parametrize("module", sorted(PUBLIC_API))
def test_public_api_is_pinned(module: str) -> None:
    exported = importlib.import_module(module)
    assert sorted(exported.__all__) == PUBLIC_API[module]
    for name in exported.__all__:
        assert hasattr(exported, name), f"{module}.{name} is listed but missing"
