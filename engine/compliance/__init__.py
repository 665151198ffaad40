"""Compliance: signed job manifests (in-toto in DSSE), their verification, and quarantine."""

from engine.compliance._dsse import build_statement, sign_envelope, verify_envelope
from engine.compliance._manifest import fingerprint_file, write_signed_manifest
from engine.compliance._quarantine import decrypt_records, encrypt_records
from engine.compliance._verify import verify_manifest

__all__ = [
    "build_statement",
    "decrypt_records",
    "encrypt_records",
    "fingerprint_file",
    "sign_envelope",
    "verify_envelope",
    "verify_manifest",
    "write_signed_manifest",
]
