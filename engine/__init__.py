"""FinVeil: privacy-preserving analytics for financial data."""

from importlib import metadata

try:
    __version__ = metadata.version("finveil")
except metadata.PackageNotFoundError:  # Running from a source tree without an install.
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
