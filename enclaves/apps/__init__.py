"""Enclave apps shipped with FinVeil; each is a directory with ``enclave.toml`` and code.

An app's directory is measured as a whole (see :func:`enclaves.runtime.measure_app`) and
imported inside the enclave as the package ``enclave_app``, never from disk.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["app_dir"]

_APPS = ("dealer", "decide", "detokenize", "echo")


def app_dir(name: str) -> Path:
    """Return the directory of the shipped app ``name`` (e.g. ``"echo"``).

    Raises:
        ValueError: If no such app is shipped.
    """
    if name not in _APPS:
        raise ValueError(f"unknown enclave app {name!r}; shipped: {', '.join(_APPS)}")
    return Path(__file__).resolve().parent / name
