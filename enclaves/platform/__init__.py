"""The simulated platform: per-installation root CA, attestation key, sealing secret, TCB."""

from enclaves.platform._platform import SimulatedPlatform
from enclaves.platform._secrets import PlatformSecrets

__all__ = ["PlatformSecrets", "SimulatedPlatform"]
