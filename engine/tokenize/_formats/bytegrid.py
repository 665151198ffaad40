"""ASCII batches as one byte buffer: fixed-width row views and strings built back in bulk.

A batch of str values becomes one Arrow buffer (UTF-8 bytes and offsets). ASCII rows of one
length are then a (rows, length) uint8 view gathered in one call, and outputs of the same
lengths are written back into a copy of the buffer and turned into str objects by Arrow,
so no per-value Python code runs on the hot path.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.lib.stride_tricks import as_strided
from numpy.typing import NDArray

from engine.tokenize._formats.base import Objects

__all__ = ["ByteBatch", "ascii_codes"]

Bytes = NDArray[np.uint8]
IntArray = NDArray[np.int64]


class ByteBatch:
    """The UTF-8 bytes of a batch of str values, with per-row offsets.

    Args:
        values: The str values (no None).

    Raises:
        ValueError: a value is not a str or cannot be encoded (e.g. a lone surrogate).
    """

    __slots__ = ("ascii", "data", "lengths", "starts")

    def __init__(self, values: Objects) -> None:
        try:
            arr = pa.array(values, type=pa.large_string())
        except (pa.ArrowException, UnicodeEncodeError, TypeError) as exc:
            raise ValueError("values: not encodable as UTF-8 strings") from exc
        if arr.null_count:
            raise ValueError("values: None is not a string")
        rows = len(arr)
        _, offsets_buf, data_buf = arr.buffers()
        offsets = np.frombuffer(offsets_buf, dtype=np.int64)[arr.offset : arr.offset + rows + 1]
        self.starts: IntArray = offsets[:-1].astype(np.int64)
        self.lengths: IntArray = np.diff(offsets).astype(np.int64)
        size = int(offsets[-1]) if rows else 0
        if data_buf is None or size == 0:
            self.data: Bytes = np.zeros(1, dtype=np.uint8)
        else:
            self.data = np.frombuffer(data_buf, dtype=np.uint8)[:size].copy()
        chars = pc.utf8_length(arr).to_numpy(zero_copy_only=False).astype(np.int64)
        # A row is ASCII exactly when it has as many bytes as characters.
        self.ascii: NDArray[np.bool_] = chars == self.lengths

    def rows(self, sel: IntArray, length: int) -> Bytes:
        """Return a (len(sel), length) copy of the bytes of rows ``sel`` (all of that length)."""
        view = self._view(self.data, length)
        out: Bytes = view[self.starts[sel]]
        return out

    def put(self, data: Bytes, sel: IntArray, grid: Bytes) -> None:
        """Write ``grid`` (rows ``sel``, one length) into ``data``, a copy of the buffer."""
        view = self._view(data, grid.shape[1])
        view[self.starts[sel]] = grid

    def strings(self, data: Bytes) -> Objects:
        """Return one str per row, read from ``data`` (a buffer of the same row layout)."""
        return _to_objects(data, self.starts, self.lengths)

    @staticmethod
    def _view(data: Bytes, length: int) -> Any:
        if length < 1 or data.shape[0] < length:
            raise ValueError("length: no row of this length fits the buffer")
        windows = data.shape[0] - length + 1
        return as_strided(data, shape=(windows, length), strides=(1, 1), writeable=True)


def _to_objects(data: Bytes, starts: IntArray, lengths: IntArray) -> Objects:
    rows = starts.shape[0]
    if rows == 0:
        return np.empty(0, dtype=object)
    offsets = np.empty(rows + 1, dtype=np.int64)
    offsets[:-1] = starts
    offsets[-1] = starts[-1] + lengths[-1]
    if not np.array_equal(offsets[1:], starts + lengths):
        raise ValueError("rows: not contiguous")
    arr = pa.LargeStringArray.from_buffers(
        rows, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(data))
    )
    out: Objects = arr.to_numpy(zero_copy_only=False)
    return out


def ascii_codes(values: Objects) -> NDArray[np.uint32] | None:
    """Return the (rows, width) NUL-padded code points if every value is ASCII, else None."""
    try:
        batch = ByteBatch(values)
    except ValueError:
        return None
    if not batch.ascii.all():
        return None
    rows = batch.lengths.shape[0]
    if rows == 0:
        return None
    width = max(1, int(batch.lengths.max()))
    # Trailing NULs are padding (as numpy's str arrays have it).
    grid = np.zeros((rows, width), dtype=np.uint8)
    inside = np.arange(width)[None, :] < batch.lengths[:, None]
    first = int(batch.starts[0])
    grid[inside] = batch.data[first : first + int(batch.lengths.sum())]
    return grid.astype(np.uint32)
