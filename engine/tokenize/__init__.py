"""Vaultless format-preserving tokenization: FF1/FF3-1 ciphers, PII formats, table tokenizer."""

from engine.tokenize._ff1 import FF1
from engine.tokenize._ff3 import FF3_1
from engine.tokenize._formats.options import ColumnProtection, FormatOptions, Kind, Scheme
from engine.tokenize._frame import TokenizedFrame, detokenize_frame, tokenize_frame

__all__ = [
    "FF1",
    "FF3_1",
    "ColumnProtection",
    "FormatOptions",
    "Kind",
    "Scheme",
    "TokenizedFrame",
    "detokenize_frame",
    "tokenize_frame",
]
