"""Secure channel that terminates inside an attested enclave."""

from enclaves.channel._channel import RECORD_FORMAT_VERSION, Role, SecureChannel, accept, connect

__all__ = ["RECORD_FORMAT_VERSION", "Role", "SecureChannel", "accept", "connect"]
