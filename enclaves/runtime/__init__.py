"""Enclave runtime: the ``Enclave`` protocol, the process-based simulator, app tooling."""

from enclaves.runtime._client import AttestedClient
from enclaves.runtime._context import EnclaveContext, Request
from enclaves.runtime._host import SimulatedEnclave
from enclaves.runtime._manifest import EnclaveIdentity, measure_app, sign_app
from enclaves.runtime._protocol import Enclave

__all__ = [
    "AttestedClient",
    "Enclave",
    "EnclaveContext",
    "EnclaveIdentity",
    "Request",
    "SimulatedEnclave",
    "measure_app",
    "sign_app",
]
