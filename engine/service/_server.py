"""Run the sidecar on uvicorn, in the foreground or in a background thread (tests, benchmarks)."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn
from starlette.applications import Starlette

from engine.errors import FinVeilError

__all__ = ["BackgroundServer", "serve"]


def _config(app: Starlette, *, host: str, port: int) -> uvicorn.Config:
    # SECURITY: uvicorn's access log is off: it would log any path a client sends (a value
    # put in a URL included); the app logs its own line per API request instead.
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="off",
        server_header=False,
    )


def serve(app: Starlette, *, host: str = "127.0.0.1", port: int = 8787) -> None:
    """Serve ``app`` on ``host:port`` until interrupted (SIGINT/SIGTERM)."""
    uvicorn.Server(_config(app, host=host, port=port)).run()


class BackgroundServer:
    """``app`` on uvicorn in a daemon thread, on a free loopback port.

    Args:
        app: The ASGI app.
        host: The address to bind (loopback by default).
        startup_timeout_s: How long :meth:`start` waits for the server to listen.

    Example: ``with BackgroundServer(app) as server: Client(server.url, ...)``.
    """

    def __init__(
        self, app: Starlette, *, host: str = "127.0.0.1", startup_timeout_s: float = 10.0
    ) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, 0))
        self.host, self.port = self._sock.getsockname()[:2]
        self.url = f"http://{self.host}:{self.port}"
        self._server = uvicorn.Server(_config(app, host=host, port=self.port))
        self._thread = threading.Thread(target=self._run, name="finveil-sidecar", daemon=True)
        self._timeout_s = startup_timeout_s

    def _run(self) -> None:
        self._server.run(sockets=[self._sock])

    def start(self) -> BackgroundServer:
        """Start the server and wait (bounded) until it accepts connections.

        Raises:
            FinVeilError: It did not start within ``startup_timeout_s``.
        """
        self._thread.start()
        deadline = time.monotonic() + self._timeout_s
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                self.stop()
                raise FinVeilError("the sidecar did not start in time")
            time.sleep(0.01)
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask the server to exit and wait for its thread."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        self._sock.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
