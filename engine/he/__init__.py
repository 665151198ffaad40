"""CKKS encrypted analytics: key split, column-packed frames, encrypted scoring and aggregates."""

from engine.he._context import PublicContext
from engine.he._frame import EncryptedFrame
from engine.he._keys import CKKSKeys
from engine.he._params import CKKSParams
from engine.he._sigmoid import SigmoidPolynomial
from engine.he._sklearn import EncryptedModel
from engine.he._vector import EncryptedVector, VectorKind

__all__ = [
    "CKKSKeys",
    "CKKSParams",
    "EncryptedFrame",
    "EncryptedModel",
    "EncryptedVector",
    "PublicContext",
    "SigmoidPolynomial",
    "VectorKind",
]
