"""Hazardous: parameter-level key wrapping primitives behind the keyring."""

from engine.keys._envelope import unwrap_data_key, wrap_aad, wrap_data_key

__all__ = ["unwrap_data_key", "wrap_aad", "wrap_data_key"]
