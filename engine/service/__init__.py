"""The tokenization sidecar: an HTTP API with signed requests (adapter over keys/tokenize)."""

from engine.service._app import create_app
from engine.service._client import Client
from engine.service._openapi import openapi_document
from engine.service._server import BackgroundServer, serve
from engine.service._sidecar import Sidecar, SidecarOptions

__all__ = [
    "BackgroundServer",
    "Client",
    "Sidecar",
    "SidecarOptions",
    "create_app",
    "openapi_document",
    "serve",
]
