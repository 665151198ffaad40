"""Compliance: quarantine of rejected records, manifests and audit records."""

from engine.compliance._quarantine import decrypt_records, encrypt_records

__all__ = ["decrypt_records", "encrypt_records"]
