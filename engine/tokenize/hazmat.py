"""Hazardous: the raw NIST SP 800-38G Rev. 1 ciphers FF1 and FF3-1, batched.

Use the recipes in ``engine.tokenize`` unless you choose keys, tweaks and alphabets yourself.
"""

from __future__ import annotations

from engine.tokenize._ff1 import FF1
from engine.tokenize._ff3 import FF3_1

__all__ = ["FF1", "FF3_1"]
