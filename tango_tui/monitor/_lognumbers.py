"""Line numbers of a :class:`~tango_tui.monitor.logfile.LogFile`: the background count and
moves by a number of lines.

Kept apart from ``logfile.py`` so each stays short; :class:`LineNumbers` is a base of
``LogFile`` and uses its lock, descriptor and :class:`~._logscan.LineCount`.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any

from . import _logread
from ._logread import read
from ._logscan import LineCount

__all__ = ["LineNumbers", "is_cancelled"]

SCAN_CHUNK = 1024 * 1024
"""Bytes counted between two looks at ``cancel``."""


def is_cancelled(cancel: Any) -> bool:
    """Whether ``cancel`` (None, a ``threading.Event`` or a callable) says stop."""
    if cancel is None:
        return False
    return bool(cancel()) if callable(cancel) else bool(cancel.is_set())


class LineNumbers:
    """The line-number half of ``LogFile`` (see its module docstring)."""

    _lock: threading.RLock
    _fd: int | None
    _size: int
    _generation: int
    _count: LineCount
    _sample: tuple[int, int]

    @contextlib.contextmanager
    def _borrowed(self) -> Iterator[tuple[int, int, int]]:
        """A duplicate of the open descriptor, with the size and generation it goes with.

        For reads that may run in another thread (counts, searches, moves): if the pane closes
        the file meanwhile, its descriptor number can be reused at once by any ``open`` in the
        process, and a reader holding the bare number would read that other file. The duplicate
        keeps the original open file alive until the reader is done with it.

        Raises:
            RuntimeError: The file is not open.
        """
        with self._lock:
            if self._fd is None:
                raise RuntimeError("LogFile is not open")
            fd = os.dup(self._fd)
            size, generation = self._size, self._generation
        try:
            yield fd, size, generation
        finally:
            os.close(fd)

    def scan(self, *, cancel: Any = None, max_bytes: int | None = None) -> bool:
        """Advance the background line count; call it from a worker thread.

        Args:
            cancel: A ``threading.Event`` or callable; checked after every 1 MiB.
            max_bytes: Stop after about this many bytes (to work in slices); None: to the end.

        Returns:
            True when the count has reached the end of the file as known now.
        """
        done = 0
        while True:
            with self._lock:
                if self._fd is None:
                    return False
                size, generation = self._size, self._generation
                cursor = self._count.cursor
            if cursor >= size:
                return True
            if (max_bytes is not None and done >= max_bytes) or is_cancelled(cancel):
                return False
            try:
                with self._borrowed() as (fd, _size, borrowed_generation):
                    if borrowed_generation != generation:
                        continue  # replaced between the two looks: start on the new file
                    data = read(fd, cursor, min(size, cursor + SCAN_CHUNK))
            except RuntimeError:
                return False  # closed meanwhile
            except OSError:
                if generation != self._generation:
                    continue  # the file was replaced under us; start on the new one
                raise
            with self._lock:
                if generation != self._generation or self._count.cursor != cursor:
                    continue
                self._count.feed(data, cursor)
            done += len(data)

    @property
    def generation(self) -> int:
        """Goes up each time the file is re-read from scratch (truncated or replaced): line
        numbers and offsets remembered from before belong to another file."""
        return self._generation

    @property
    def scan_progress(self) -> float:
        """How much of the file the line count has covered, 0.0 to 1.0."""
        return 1.0 if self._size == 0 else min(1.0, self._count.cursor / self._size)

    @property
    def line_count(self) -> int | None:
        """The exact number of lines once :meth:`scan` has reached the end, else None."""
        with self._lock:
            return self._count.lines if self._count.cursor >= self._size else None

    @property
    def counted_lines(self) -> int:
        """Lines counted so far (all of them once :attr:`line_count` is known)."""
        with self._lock:
            return self._count.lines

    @property
    def approx_line_count(self) -> int:
        """The line count if known, else an estimate from what has been read so far."""
        with self._lock:
            count, size = self._count, self._size
            if count.cursor >= size:
                return count.lines
            if count.newlines:
                return max(count.lines, round(count.newlines * size / count.cursor))
            nbytes, nlines = self._sample
            if nlines:
                return max(1, round(nlines * size / max(1, nbytes)))
            return 1 if size else 0

    def line_number_of(self, offset: int) -> int | None:
        """1-based number of the line containing ``offset``, if the count has got that far."""
        with self._lock:
            fd, count = self._fd, self._count
            if fd is None or offset > count.cursor or offset < 0:
                return None
            index, pos = count.checkpoint_before(offset)
        with self._borrowed() as (fd, _size, _generation):
            return index + 1 + _count_newlines(fd, pos, offset)

    def offset_of_line(self, number: int) -> int | None:
        """Offset of 1-based line ``number`` (clamped to 1), if the count has got that far."""
        index = max(1, number) - 1
        with self._lock:
            fd, count, size = self._fd, self._count, self._size
            if fd is None or index >= count.lines:
                return None
            index_pos = count.checkpoint_of_line(index)
        if index_pos is None:
            return None
        at, pos = index_pos
        with self._borrowed() as (fd, _size, _generation):
            return _logread.skip_lines(fd, pos, index - at, size)

    def skip(self, offset: int, k: int, *, cancel: Any = None) -> int | None:
        """Start of the line ``k`` lines after (``k < 0``: before) the line starting at
        ``offset``, stopping at the first or the last line; needs no line count.

        Reads the bytes in between (1 MiB at a time); None if ``cancel`` said stop.
        """
        with self._borrowed() as (fd, size, _generation):
            return self._skip(fd, size, offset, k, cancel)

    def _skip(self, fd: int, size: int, offset: int, k: int, cancel: Any) -> int | None:
        pos = max(0, min(offset, size))
        if k == 0:
            return pos
        if k < 0:
            return _back(fd, pos, -k, cancel)
        while k > 0 and pos < size:
            if is_cancelled(cancel):
                return None
            data = read(fd, pos, min(size, pos + SCAN_CHUNK))
            if not data:
                break
            n = data.count(b"\n")
            if n < k or (n == k and data.endswith(b"\n") and pos + len(data) >= size):
                if pos + len(data) >= size:
                    break  # fewer lines than asked for: stay on the last line
                k -= n
                pos += len(data)
                continue
            i = 0
            for _ in range(k):
                i = data.index(b"\n", i) + 1
            return pos + i
        return _logread.line_start(fd, max(0, size - 1)) if size else 0


def _back(fd: int, pos: int, k: int, cancel: Any) -> int | None:
    """Start of the line ``k`` lines before the line starting at ``pos`` (0 at most)."""
    # The line before starts after the (k+1)-th line break before pos.
    need = k + 1
    while pos > 0:
        if is_cancelled(cancel):
            return None
        start = max(0, pos - SCAN_CHUNK)
        data = read(fd, start, pos)
        n = data.count(b"\n")
        if n < need:
            need -= n
            pos = start
            continue
        i = len(data)
        for _ in range(need):
            i = data.rindex(b"\n", 0, i)
        return start + i + 1
    return 0


def _count_newlines(fd: int, start: int, end: int) -> int:
    """Line breaks in ``[start, end)``, read in 1 MiB pieces."""
    total = 0
    while start < end:
        stop = min(end, start + SCAN_CHUNK)
        total += read(fd, start, stop).count(b"\n")
        start = stop
    return total
