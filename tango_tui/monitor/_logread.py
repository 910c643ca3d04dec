"""Reading whole lines around a byte offset of an open file, without reading the file.

Every function takes a file descriptor and a ``size``: the bytes past ``size`` are ignored even
if the file has grown, so what the reader shows stays consistent with its last ``refresh``.
``os.pread`` is used throughout: it has no shared file position, so a background scan thread and
the UI thread can read the same descriptor at once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ._logtext import cut_utf8, display_text

__all__ = [
    "BLOCK",
    "DISPLAY_LIMIT",
    "Line",
    "line_start",
    "lines_after",
    "lines_before",
    "read",
    "skip_lines",
]

BLOCK = 64 * 1024
"""Bytes read at a time around the visible window."""
BIG_BLOCK = 1024 * 1024
"""Largest read when hunting for the ends of a very long line."""
DISPLAY_LIMIT = 64 * 1024
"""A line longer than this many bytes is cut for display (its offsets stay exact)."""


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a log file.

    Navigation uses only offsets: the line after this one starts at ``end``, the one before
    ends at ``offset``.
    """

    offset: int
    """Byte offset of the line's first byte."""
    end: int
    """Byte offset just past the line's ``\\n`` (the next line's offset); the file size for a
    last line without a line break yet."""
    text: str
    """The line for display: decoded as UTF-8 (bad bytes replaced), without ``\\r\\n``, ANSI
    sequences removed, control characters made visible, tabs kept; cut with a marker if long."""
    complete: bool = True
    """False for a last line that has no line break yet (it will be re-read when it grows)."""
    cut: bool = False
    """True when the line is longer than ``DISPLAY_LIMIT`` bytes and ``text`` shows its start."""

    @property
    def length(self) -> int:
        """The line's size in bytes, line break included."""
        return self.end - self.offset


def read(fd: int, start: int, end: int) -> bytes:
    """Return the bytes ``[start, end)`` of ``fd`` (fewer only if the file shrank meanwhile)."""
    if end <= start:
        return b""
    data = os.pread(fd, end - start, start)
    while len(data) < end - start:
        more = os.pread(fd, end - start - len(data), start + len(data))
        if not more:
            break
        data += more
    return data


def _next_newline(fd: int, pos: int, size: int) -> int:
    """Offset of the first ``\\n`` at or after ``pos`` (before ``size``), or -1."""
    step = BLOCK
    while pos < size:
        data = read(fd, pos, min(size, pos + step))
        if not data:
            return -1
        found = data.find(b"\n")
        if found >= 0:
            return pos + found
        pos += len(data)
        step = min(step * 2, BIG_BLOCK)
    return -1


def _prev_newline(fd: int, pos: int) -> int:
    """Offset of the last ``\\n`` strictly before ``pos``, or -1."""
    step = BLOCK
    while pos > 0:
        start = max(0, pos - step)
        data = read(fd, start, pos)
        found = data.rfind(b"\n")
        if found >= 0:
            return start + found
        pos = start
        step = min(step * 2, BIG_BLOCK)
    return -1


def skip_lines(fd: int, pos: int, k: int, size: int) -> int:
    """Offset of the line ``k`` lines after the line starting at ``pos`` (``size`` at most)."""
    while k > 0 and pos < size:
        data = read(fd, pos, min(size, pos + BLOCK))
        if not data:
            break
        if data.count(b"\n") < k:
            k -= data.count(b"\n")
            pos += len(data)
            continue
        i = 0
        for _ in range(k):
            i = data.index(b"\n", i) + 1
        return pos + i
    return min(pos, size)


def line_start(fd: int, offset: int) -> int:
    """Offset of the start of the line that contains ``offset``."""
    return _prev_newline(fd, offset) + 1


def _make_line(offset: int, end: int, raw: bytes, complete: bool) -> Line:
    """Build a :class:`Line` from raw bytes: the whole line, or its head if it is long.

    ``raw`` includes the line break when it is whole and complete.
    """
    content_len = end - offset - (1 if complete else 0)
    cut = content_len > DISPLAY_LIMIT
    if cut:
        body = cut_utf8(raw, DISPLAY_LIMIT)
    else:
        body = raw[:content_len]
        if body.endswith(b"\r"):
            body = body[:-1]
    text = display_text(body)
    if cut:
        text += f" …[line cut: {content_len:,} bytes in all]"
    return Line(offset, end, text, complete, cut)


def _long_line(fd: int, offset: int, size: int) -> Line:
    """The line starting at ``offset`` when it does not fit in one block."""
    newline = _next_newline(fd, offset, size)
    end = newline + 1 if newline >= 0 else size
    head = read(fd, offset, min(end, offset + DISPLAY_LIMIT + 1))
    return _make_line(offset, end, head, newline >= 0)


def lines_after(fd: int, offset: int, n: int, size: int) -> list[Line]:
    """Up to ``n`` lines starting at ``offset`` (which should be a line start).

    The last line of the file is included even without a line break (``complete=False``).
    """
    out: list[Line] = []
    pos = offset
    while len(out) < n and pos < size:
        block = read(fd, pos, min(size, pos + BLOCK))
        if not block:
            break
        i = 0
        while len(out) < n:
            j = block.find(b"\n", i)
            if j < 0:
                break
            out.append(_make_line(pos + i, pos + j + 1, block[i : j + 1], True))
            i = j + 1
        if len(out) >= n or i == len(block):
            pos += i
            continue
        if pos + len(block) >= size:  # the rest is the last line, without its line break
            out.append(_make_line(pos + i, size, block[i:], False))
            break
        if i == 0:  # one line longer than the block
            line = _long_line(fd, pos, size)
            out.append(line)
            pos = line.end
        else:
            pos += i
    return out


def lines_before(fd: int, offset: int, n: int, size: int) -> list[Line]:
    """Up to ``n`` lines ending at or before ``offset`` (a line start, or ``size``), in file order."""
    out: list[Line] = []
    end = min(offset, size)
    while len(out) < n and end > 0:
        start = max(0, end - BLOCK)
        block = read(fd, start, end)
        if not block:
            break
        stop = len(block)  # exclusive end, within the block, of the line being looked for
        while len(out) < n and stop > 0:
            # The line ends at `stop`; its content ends before a trailing newline, if any.
            content_end = stop - 1 if block[stop - 1] == 0x0A else stop
            j = block.rfind(b"\n", 0, content_end)
            if j < 0 and start > 0:
                break
            complete = content_end < stop
            out.append(_make_line(start + j + 1, start + stop, block[j + 1 : stop], complete))
            stop = j + 1
        if len(out) >= n or stop == 0:
            end = start + stop
            continue
        if stop == len(block):  # one line longer than the block: find where it starts
            line = _long_line(fd, line_start(fd, start + stop - 1), size)
            out.append(line)
            end = line.offset
        else:
            end = start + stop
    out.reverse()
    return out
