"""Files and trees: walk safely, sniff the format, decompress, and never crash on bad input."""

from __future__ import annotations

import bz2
import codecs
import csv
import errno
import gzip
import io
import json
import lzma
import os
import stat
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from engine.discovery._finding import Skipped
from engine.discovery._sources import Located, ScanSettings, scan_frame, scan_json, scan_text_stream

__all__ = ["CHUNK_BYTES", "FileScan", "iter_files", "scan_file"]

CHUNK_BYTES: Final = 4 << 20
#: Largest decompressed size read from one compressed file (a decompression-bomb guard).
MAX_DECOMPRESSED: Final = 1 << 30
#: Largest JSON document parsed as a whole; bigger ones are scanned as text.
MAX_JSON_BYTES: Final = 256 << 20
_SNIFF: Final = 8192
_COMPRESSED: Final[dict[str, Callable[[Path], Any]]] = {
    ".gz": lambda p: gzip.open(p, "rb"),  # noqa: SIM115 - the caller closes it.
    ".bz2": lambda p: bz2.open(p, "rb"),  # noqa: SIM115
    ".xz": lambda p: lzma.open(p, "rb"),  # noqa: SIM115
}
_MAGIC: Final = {b"\x1f\x8b": ".gz", b"BZh": ".bz2", b"\xfd7zXZ": ".xz"}
_ARCHIVES: Final = {
    b"PK\x03\x04": "zip",
    b"7z\xbc\xaf": "7z",
    b"Rar!": "rar",
    b"(\xb5/\xfd": "zstd",
}
_CSV: Final = (".csv", ".tsv")
_JSONL: Final = (".jsonl", ".ndjson")
_PARQUET: Final = (".parquet", ".pq")


@dataclass(slots=True, kw_only=True)
class FileScan:
    """What scanning one file produced (mutable while the scan runs)."""

    located: list[Located] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[Skipped] = field(default_factory=list)
    bytes_scanned: int = 0
    suppressed: int = 0
    fmt: str = "text"


def iter_files(root: Path, *, follow_symlinks: bool = True) -> Iterator[Path | Skipped]:
    """Yield the regular files under ``root`` (sorted), or a ``Skipped`` for each bad entry.

    Symlinks are followed (unless ``follow_symlinks`` is false); a directory reached twice
    (a symlink loop) is skipped with a reason, as are broken links, special files and
    unreadable directories.
    """
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        path = stack.pop()
        try:
            st = os.stat(path) if follow_symlinks else os.lstat(path)
        except OSError as exc:
            yield Skipped(source=str(path), reason=_os_reason(exc, path))
            continue
        if stat.S_ISLNK(st.st_mode):
            yield Skipped(source=str(path), reason="symlink not followed")
        elif stat.S_ISREG(st.st_mode):
            yield path
        elif stat.S_ISDIR(st.st_mode):
            if (st.st_dev, st.st_ino) in seen:
                yield Skipped(source=str(path), reason="symlink loop: directory already visited")
                continue
            seen.add((st.st_dev, st.st_ino))
            try:
                children = sorted(os.scandir(path), key=lambda e: e.name, reverse=True)
            except OSError as exc:
                yield Skipped(source=str(path), reason=_os_reason(exc, path))
                continue
            stack.extend(Path(entry.path) for entry in children)
        else:
            yield Skipped(source=str(path), reason="not a regular file (device, FIFO or socket)")


def _os_reason(exc: OSError, path: Path) -> str:
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    if exc.errno == errno.ENOENT and os.path.islink(path):
        return "broken symlink"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return f"unreadable ({errno.errorcode.get(exc.errno or 0, 'error')})"


def scan_file(path: Path, settings: ScanSettings) -> FileScan:
    """Scan one file; every failure becomes a ``Skipped`` entry, never an exception."""
    result = FileScan()
    source = str(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(_SNIFF)
        _dispatch(path, head, settings, result)
    except gzip.BadGzipFile:
        result.skipped.append(Skipped(source=source, reason="corrupt compressed file (gzip)"))
    except OSError as exc:
        result.skipped.append(Skipped(source=source, reason=_os_reason(exc, path)))
    except (EOFError, lzma.LZMAError, zlib.error) as exc:
        reason = f"corrupt compressed file ({type(exc).__name__})"
        result.skipped.append(Skipped(source=source, reason=reason))
    except RecursionError:
        result.skipped.append(Skipped(source=source, reason="too deeply nested"))
    except Exception as exc:
        # SECURITY: only the exception type is kept; parser messages may quote content.
        result.located.clear()
        reason = f"could not be scanned ({type(exc).__name__})"
        result.skipped.append(Skipped(source=source, reason=reason))
    return result


def _dispatch(path: Path, head: bytes, settings: ScanSettings, result: FileScan) -> None:
    source = str(path)
    for magic, name in _ARCHIVES.items():
        if head.startswith(magic):
            result.skipped.append(Skipped(source=source, reason=f"archive ({name}) not scanned"))
            return
    suffixes = [s.lower() for s in path.suffixes]
    comp = next((ext for magic, ext in _MAGIC.items() if head.startswith(magic)), None)
    inner = suffixes[:-1] if comp and suffixes and suffixes[-1] == comp else suffixes
    ext = inner[-1] if inner else ""
    if comp is None and head.startswith(b"PAR1"):
        ext = ".parquet"
    opener: Callable[[], IO[bytes]] = (
        (lambda: io.BufferedReader(_Bounded(_COMPRESSED[comp](path), result, source), CHUNK_BYTES))
        if comp
        else (lambda: open(path, "rb"))  # noqa: SIM115 - used in a with block.
    )
    if comp:
        with opener() as fh:
            head = fh.read(_SNIFF)
    if ext in _PARQUET and comp is None:
        result.fmt = "parquet"
        _scan_parquet(path, settings, result)
        return
    text_head, encoding = _sniff_text(head)
    if text_head is None:
        result.skipped.append(Skipped(source=source, reason="binary file"))
        return
    if encoding == "8-bit":
        result.notes.append(Skipped(source=source, reason="not UTF-8; scanned as 8-bit text"))
    if ext in _CSV and encoding != "utf-16" and _scan_csv(opener, settings, result, source, ext):
        return
    if ext == ".json" and _scan_json_doc(opener, settings, result, source):
        return
    if ext in _JSONL and _scan_jsonl(opener, settings, result, source):
        return
    result.fmt = "text"
    with opener() as fh:
        chunks = _chunks(fh, result, utf16=encoding == "utf-16")
        result.located.extend(scan_text_stream(chunks, settings, source=source))


def _sniff_text(head: bytes) -> tuple[bytes | None, str]:
    """Return ``(head, encoding)`` or ``(None, "")`` for binary data."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return head, "utf-16"
    if b"\x00" in head:
        return None, ""
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    if head and controls / len(head) > 0.1:
        return None, ""
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sniffed block is still UTF-8.
        if exc.start < len(head) - 3:
            return head, "8-bit"
    return head, "utf-8"


def _chunks(fh: IO[bytes], result: FileScan, *, utf16: bool) -> Iterator[bytes]:
    decoder = codecs.getincrementaldecoder("utf-16")("replace") if utf16 else None
    while True:
        block = fh.read(CHUNK_BYTES)
        if not block:
            if decoder is not None:
                tail = decoder.decode(b"", final=True).encode("utf-8")
                if tail:
                    yield tail
            return
        if decoder is not None:
            block = decoder.decode(block).encode("utf-8")
        result.bytes_scanned += len(block)
        yield block


class _Bounded(io.RawIOBase):
    """A reader that stops after ``MAX_DECOMPRESSED`` bytes and notes the truncation."""

    def __init__(self, inner: IO[bytes], result: FileScan, source: str) -> None:
        super().__init__()
        self._inner = inner
        self._left = MAX_DECOMPRESSED
        self._result = result
        self._source = source

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        want = self._left if size is None or size < 0 else min(size, self._left)
        data = self._inner.read(want)
        self._left -= len(data)
        if self._left <= 0 and self._inner.read(1):
            self._result.skipped.append(
                Skipped(
                    source=self._source, reason="decompressed size limit reached; rest not scanned"
                )
            )
        return data

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._inner.close()
        super().close()


def _scan_csv(
    opener: Callable[[], IO[bytes]], settings: ScanSettings, result: FileScan, source: str, ext: str
) -> bool:
    with opener() as fh:
        sample = fh.read(_SNIFF).decode("utf-8", "replace")
    try:
        sep = "\t" if ext == ".tsv" else csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        sep = ","
    try:
        with opener() as fh:
            # dtype=object: cells stay the parser's Python strings (dtype=str would convert
            # them to Arrow strings and back, ~40% of the read time).
            reader = pd.read_csv(
                fh, sep=sep, dtype=object, keep_default_na=False, chunksize=100_000,
                encoding="utf-8", encoding_errors="replace",
            )  # fmt: skip
            located: list[Located] = []
            base = 0
            for chunk in reader:
                found, suppressed = scan_frame(chunk, settings, source=source, row_base=base)
                located.extend(found)
                result.suppressed += suppressed
                base += len(chunk)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, csv.Error):
        result.notes.append(Skipped(source=source, reason="not parseable as CSV; scanned as text"))
        return False
    result.fmt = "csv"
    result.located.extend(located)
    result.bytes_scanned += _size(opener)
    return True


def _size(opener: Callable[[], IO[bytes]]) -> int:
    total = 0
    with opener() as fh:
        while block := fh.read(CHUNK_BYTES):
            total += len(block)
    return total


def _scan_json_doc(
    opener: Callable[[], IO[bytes]], settings: ScanSettings, result: FileScan, source: str
) -> bool:
    with opener() as fh:
        data = fh.read(MAX_JSON_BYTES + 1)
    if len(data) > MAX_JSON_BYTES:
        result.notes.append(
            Skipped(source=source, reason="JSON too large to parse; scanned as text")
        )
        return False
    try:
        doc = json.loads(data.decode("utf-8-sig", "replace"))
    except (json.JSONDecodeError, RecursionError):
        result.notes.append(Skipped(source=source, reason="invalid JSON; scanned as text"))
        return False
    docs = enumerate(doc) if isinstance(doc, list) else [(None, doc)]
    result.located.extend(scan_json(docs, settings, source=source))
    result.bytes_scanned += len(data)
    result.fmt = "json"
    return True


def _scan_jsonl(
    opener: Callable[[], IO[bytes]], settings: ScanSettings, result: FileScan, source: str
) -> bool:
    docs: list[tuple[int | None, Any]] = []
    bad = 0
    with opener() as fh:
        for row, line in enumerate(fh):
            result.bytes_scanned += len(line)
            if not line.strip():
                continue
            try:
                docs.append((row, json.loads(line)))
            except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
                bad += 1
                docs.append((row, {"_line": line.decode("utf-8", "replace")}))
    if bad:
        result.notes.append(
            Skipped(source=source, reason=f"{bad} invalid JSON lines scanned as text")
        )
    result.located.extend(scan_json(docs, settings, source=source))
    result.fmt = "jsonl"
    return True


def _scan_parquet(path: Path, settings: ScanSettings, result: FileScan) -> None:
    source = str(path)
    try:
        pfile = pq.ParquetFile(path)
        base = 0
        for batch in pfile.iter_batches(batch_size=65_536):
            frame = batch.to_pandas()
            found, suppressed = scan_frame(frame, settings, source=source, row_base=base)
            result.located.extend(found)
            result.suppressed += suppressed
            base += len(frame)
        result.bytes_scanned += path.stat().st_size
    except (pa.ArrowException, OSError) as exc:
        result.skipped.append(
            Skipped(source=source, reason=f"unreadable Parquet ({type(exc).__name__})")
        )
