"""The host side of the simulated runtime: start, talk to and stop an enclave process."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import weakref
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import enclaves
from enclaves.platform import SimulatedPlatform
from enclaves.runtime._manifest import EnclaveIdentity, read_app, verify_app
from enclaves.runtime._wire import ChannelClosed, recv_frame, send_frame
from engine import errors
from engine.errors import EnclaveError

# Errors an enclave may report by name; anything else becomes EnclaveError.
_ERRORS: dict[str, type[errors.FinVeilError]] = {
    name: getattr(errors, name)
    for name in (
        "AttestationError",
        "ConfigError",
        "DecryptionError",
        "IntegrityError",
        "KeyManagementError",
        "PolicyDenied",
        "SealingError",
    )
}
_ROOT = str(Path(enclaves.__file__).resolve().parent.parent)
_BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv[2]); from enclaves.runtime._worker import main; main()"
)


def _reap(process: subprocess.Popen[bytes], sock: socket.socket) -> None:
    sock.close()
    if process.poll() is None:
        process.kill()
        process.wait()


class SimulatedEnclave:
    """An enclave app running in a separate Python process on a :class:`SimulatedPlatform`.

    The process is started with ``python -I`` and gets only a socket; every message is a
    length-prefixed CBOR frame. Use :meth:`load`; the object is a context manager.
    """

    def __init__(self) -> None:
        raise TypeError("use SimulatedEnclave.load(app_dir, platform=...)")

    @classmethod
    def load(
        cls,
        app_dir: Path,
        *,
        platform: SimulatedPlatform,
        is_debug: bool = False,
        timeout_s: float = 10.0,
        start_timeout_s: float = 30.0,
    ) -> Self:
        """Measure (re-hashing every file), verify the signature, and start the app.

        Args:
            app_dir: The app directory (manifest, code, ``enclave.sig``).
            platform: The simulated platform that attests and derives sealing keys.
            is_debug: Load in debug mode: outside the measurement, refused by default
                policies, and the enclave's stderr is shown.
            timeout_s: Longest wait for one reply; then the process is killed.
            start_timeout_s: Longest wait for the app to start.

        Returns:
            The running enclave.

        Raises:
            EnclaveError: If the app is invalid, fails to start, crashes or times out.
            IntegrityError: If the app is unsigned or its signature does not match.
        """
        image = read_app(Path(app_dir))
        identity = verify_app(image, Path(app_dir))
        keys = platform.sealing_keys(
            measurement=identity.measurement,
            signer_id=identity.signer_id,
            product_id=identity.product_id,
            svn=identity.svn,
            is_debug=is_debug,
        )
        self = cls.__new__(cls)
        self._init(identity=identity, platform=platform, is_debug=is_debug, timeout_s=timeout_s)
        load = {
            "op": "load",
            "entry": image.entry,
            "config": image.config,
            "files": dict(image.files),
            "identity": {
                "measurement": identity.measurement,
                "signer_id": identity.signer_id,
                "product_id": identity.product_id,
                "svn": identity.svn,
            },
            "sealing": {
                "measurement": keys.measurement,
                "signer_id": keys.signer_id,
                "product_id": keys.product_id,
                "svn": keys.svn,
                "is_debug": keys.is_debug,
                "measurement_key": keys.measurement_key,
                "signer_chain_key": keys.signer_chain_key,
            },
        }
        try:
            self._request(load, timeout_s=start_timeout_s)
        except BaseException:
            self.close()
            raise
        return self

    def _init(
        self,
        *,
        identity: EnclaveIdentity,
        platform: SimulatedPlatform,
        is_debug: bool,
        timeout_s: float,
    ) -> None:
        self._identity = identity
        self._platform = platform
        self._is_debug = is_debug
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        host, child = socket.socketpair()
        try:
            self._process = subprocess.Popen(  # noqa: S603 (fixed argv, our own interpreter)
                [sys.executable, "-I", "-c", _BOOTSTRAP, str(child.fileno()), _ROOT],
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                # SECURITY: a production enclave's tracebacks could show secrets; drop them.
                stderr=None if is_debug else subprocess.DEVNULL,
                close_fds=True,
            )
        finally:
            child.close()
        self._sock: socket.socket | None = host
        # An enclave that is never closed is still stopped when this object is collected.
        self._finalizer = weakref.finalize(self, _reap, self._process, host)

    @property
    def measurement(self) -> bytes:
        """The 32-byte measurement of the loaded app."""
        return self._identity.measurement

    @property
    def identity(self) -> EnclaveIdentity:
        """Measurement, signer id, product id and SVN."""
        return self._identity

    @property
    def is_debug(self) -> bool:
        """Whether the enclave was loaded in debug mode."""
        return self._is_debug

    @property
    def pid(self) -> int:
        """The enclave process id (for diagnostics and tests)."""
        return self._process.pid

    def call(self, method: str, args: Any = None) -> Any:
        """Send a plain request to the app and return its reply.

        Args:
            method: The app operation.
            args: CBOR-encodable arguments (never secrets: use a secure channel).

        Returns:
            The app's result.

        Raises:
            EnclaveError: If the enclave crashed, timed out, or the app failed (FinVeil
                errors raised by the app keep their class, e.g. ``SealingError``).
        """
        return self._request({"op": "call", "method": method, "args": args})["result"]

    def attest(self, nonce: bytes) -> bytes:
        """Return a quote binding a fresh enclave X25519 key to the verifier's ``nonce``.

        Raises:
            ValueError: If the nonce is not 16 to 64 bytes.
            EnclaveError: If the enclave fails.
        """
        if not 16 <= len(nonce) <= 64:
            raise ValueError("nonce must be 16 to 64 bytes")
        public_key = self._request({"op": "attest"})["public_key"]
        return self._platform.issue_quote(
            measurement=self._identity.measurement,
            signer_id=self._identity.signer_id,
            product_id=self._identity.product_id,
            svn=self._identity.svn,
            is_debug=self._is_debug,
            nonce=nonce,
            public_key=public_key,
        )

    def open_channel(self, quote: bytes, hello: bytes) -> bytes:
        """Have the enclave accept the client's channel ``hello`` for ``quote``.

        Returns:
            The session id to pass to :meth:`send_secure`.
        """
        reply = self._request({"op": "open_channel", "quote": quote, "hello": hello})
        session: bytes = reply["session"]
        return session

    def send_secure(self, session: bytes, record: bytes) -> bytes:
        """Relay an encrypted record to the enclave and return its encrypted reply."""
        reply: bytes = self._request({"op": "secure", "session": session, "record": record})[
            "record"
        ]
        return reply

    def close(self) -> None:
        """Ask the enclave to stop, then make sure it has; idempotent."""
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.settimeout(1.0)
                send_frame(sock, {"op": "shutdown"})
            except OSError:
                pass
            sock.close()
        if self._process.poll() is None:
            try:
                self._process.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _request(
        self, message: dict[str, Any], *, timeout_s: float | None = None
    ) -> dict[str, Any]:
        op = message["op"]
        wait_s = self._timeout_s if timeout_s is None else timeout_s
        with self._lock:
            sock = self._sock
            if sock is None:
                raise EnclaveError("enclave is closed")
            try:
                sock.settimeout(wait_s)
                send_frame(sock, message)
                reply = recv_frame(sock)
            except TimeoutError:
                self._kill()
                raise EnclaveError(
                    f"enclave did not answer {op!r} within {wait_s:g} s; it was stopped"
                ) from None
            except (ChannelClosed, OSError):
                code = self._kill()
                raise EnclaveError(f"enclave process exited (code {code}) during {op!r}") from None
        if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
            raise EnclaveError(f"enclave sent a malformed reply to {op!r}")
        if not reply["ok"]:
            kind = _ERRORS.get(str(reply.get("error")), EnclaveError)
            raise kind(f"enclave {op!r} failed: {reply.get('message')}")
        return reply

    def _kill(self) -> int | None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
        if self._process.poll() is None:
            try:
                self._process.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        return self._process.returncode
