"""Keyring storage backends: the protocol and the local file backend."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from engine.errors import KeyManagementError

__all__ = ["FileBackend", "KeyringBackend"]


class KeyringBackend(Protocol):
    """Storage for one serialized keyring document, with exclusive read-modify-write.

    The document is opaque bytes to the backend (it is authenticated by the keyring). A
    backend must make ``update`` atomic with respect to other writers: the transform sees
    the latest stored bytes, and what it returns replaces them entirely or not at all.

    Implementations: :class:`FileBackend` (local file, ``fcntl`` lock, atomic replace). A
    Vault or cloud backend stores the document in a KV store with check-and-set (Vault KV v2
    ``cas``, DynamoDB conditional writes, GCS generation preconditions), retrying ``update``
    on a lost race, and pairs with a KMS root source that wraps keys remotely.
    """

    @property
    def location(self) -> str:
        """A human-readable location for messages (never contains secrets)."""
        ...

    def exists(self) -> bool:
        """Return whether a document is stored."""
        ...

    def load(self) -> bytes:
        """Return the stored document.

        Raises:
            KeyManagementError: Nothing is stored or it cannot be read.
        """
        ...

    def create(self, data: bytes) -> None:
        """Store the first document.

        Raises:
            KeyManagementError: A document already exists (it is never overwritten).
        """
        ...

    def update(self, transform: Callable[[bytes], bytes]) -> None:
        """Replace the document with ``transform(current)`` under an exclusive lock.

        If ``transform`` raises, nothing is written and the exception propagates.
        """
        ...


class FileBackend:
    """A keyring stored as one file, written atomically with mode 0600.

    Writers serialize on an ``fcntl.flock`` of ``<path>.lock``; each write goes to a
    temporary file in the same directory (created 0600), is fsynced, then moved with ``os.replace``
    over the keyring and the directory is fsynced. Readers never need the lock: they see
    either the old or the new file, never a mix.

    Args:
        path: The keyring file.
        lock_timeout_s: How long to wait for another writer before failing.
    """

    __slots__ = ("_lock_timeout_s", "_path")

    def __init__(self, path: Path, *, lock_timeout_s: float = 30.0) -> None:
        self._path = Path(path)
        self._lock_timeout_s = lock_timeout_s

    @property
    def path(self) -> Path:
        """The keyring file."""
        return self._path

    @property
    def lock_path(self) -> Path:
        """The lock file beside the keyring."""
        return self._path.with_name(self._path.name + ".lock")

    @property
    def location(self) -> str:
        """The keyring path as text."""
        return str(self._path)

    def exists(self) -> bool:
        """Return whether the keyring file exists."""
        return self._path.exists()

    def load(self) -> bytes:
        """Read the keyring file."""
        try:
            return self._path.read_bytes()
        except FileNotFoundError:
            raise KeyManagementError(
                f"no keyring at {self._path} (create one with `finveil keys init`)"
            ) from None
        except OSError as exc:
            raise KeyManagementError(f"cannot read keyring {self._path}: {exc.strerror}") from exc

    def create(self, data: bytes) -> None:
        """Write the first version of the keyring file; refuse if it exists."""
        with self._lock():
            if self._path.exists():
                raise KeyManagementError(f"a keyring already exists at {self._path}")
            self._write_atomic(data)

    def update(self, transform: Callable[[bytes], bytes]) -> None:
        """Read the file under the lock, transform it and write the result atomically."""
        with self._lock():
            self._write_atomic(transform(self.load()))

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise KeyManagementError(
                f"cannot open keyring lock {self.lock_path}: {exc.strerror}"
            ) from exc
        try:
            deadline = time.monotonic() + self._lock_timeout_s
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if time.monotonic() >= deadline:
                        raise KeyManagementError(
                            f"timed out after {self._lock_timeout_s:g} s waiting for the "
                            f"keyring lock {self.lock_path}"
                        ) from None
                    time.sleep(0.005)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _write_atomic(self, data: bytes) -> None:
        directory = self._path.parent
        # SECURITY: mkstemp creates the file with mode 0600, so the new keyring is never
        # readable by others, not even for a moment; fchmod guards against odd platforms.
        fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{self._path.name}.", suffix=".tmp")
        tmp = Path(tmp_name)
        try:
            try:
                os.fchmod(fd, 0o600)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self._path)
        except BaseException as exc:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            if not isinstance(exc, OSError):
                raise
            raise KeyManagementError(
                f"could not write keyring {self._path} ({exc.strerror or exc}); "
                "the previous file is unchanged"
            ) from exc
        _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
