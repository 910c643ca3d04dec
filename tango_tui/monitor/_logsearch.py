"""Searching a log in chunks, forwards or backwards, without loading it.

A chunk is a run of whole lines (about 1 MiB) decoded with the same rules as the display (so a
search matches what is on screen: ANSI sequences and control characters aside, which are matched
raw). A match is reported as the line it starts in. A line longer than a chunk is searched in
overlapping windows so a match across a window edge is not missed (patterns up to ``_OVERLAP``
bytes long).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ._logread import line_start, read

__all__ = ["compile_pattern", "find_line"]

CHUNK = 1024 * 1024
_OVERLAP = 4096


def compile_pattern(pattern: str, *, regex: bool, case_sensitive: bool) -> re.Pattern[str]:
    """Compile a user's search; raises ``re.error`` for a bad regular expression."""
    flags = re.MULTILINE | (0 if case_sensitive else re.IGNORECASE)
    return re.compile(pattern if regex else re.escape(pattern), flags)


def _cancelled(cancel: Any) -> bool:
    if cancel is None:
        return False
    if callable(cancel):
        return bool(cancel())
    return bool(cancel.is_set())


def _nth_newline_end(data: bytes, count: int) -> int:
    """Index just past the ``count``-th ``\\n`` of ``data`` (0 when ``count`` is 0)."""
    i = 0
    for _ in range(count):
        i = data.index(b"\n", i) + 1
    return i


def _match_offset(data: bytes, text: str, index: int) -> int:
    """Byte index in ``data`` of the start of the line holding character ``index`` of ``text``.

    UTF-8 decoding maps each ``\\n`` byte to one ``\\n`` character (even with replacement), so
    counting line breaks before the match finds its line in the bytes.
    """
    return _nth_newline_end(data, text.count("\n", 0, index))


def find_line(
    fd: int,
    size: int,
    pattern: re.Pattern[str],
    start: int,
    *,
    backwards: bool,
    cancel: Callable[[], bool] | Any = None,
) -> int | None:
    """Offset of the line holding the first match at or after ``start`` (or the last before it).

    Args:
        fd: Open descriptor of the log.
        size: Bytes of the file to consider.
        pattern: From :func:`compile_pattern`.
        start: A line start. Forwards, lines starting at ``start`` or later are searched;
            backwards, lines starting before ``start``.
        backwards: Search towards the start of the file.
        cancel: ``threading.Event`` or callable; checked between chunks.

    Returns:
        The matching line's offset, or None (not found, or cancelled).
    """
    if backwards:
        return _backwards(fd, size, pattern, min(start, size), cancel)
    return _forwards(fd, size, pattern, start, cancel)


def _forwards(fd: int, size: int, pattern: re.Pattern[str], pos: int, cancel: Any) -> int | None:
    while pos < size:
        if _cancelled(cancel):
            return None
        data = read(fd, pos, min(size, pos + CHUNK))
        if not data:
            return None
        last = data.rfind(b"\n")
        if pos + len(data) < size and last >= 0:
            data = data[: last + 1]  # whole lines only
        text = data.decode("utf-8", "replace")
        match = pattern.search(text)
        if match:
            return line_start(fd, pos + _match_offset(data, text, match.start()))
        if last < 0 and pos + len(data) < size:
            # No line break: a part of one long line; step on with an overlap.
            pos += max(1, len(data) - _OVERLAP)
        else:
            pos += len(data)
    return None


def _backwards(fd: int, size: int, pattern: re.Pattern[str], end: int, cancel: Any) -> int | None:
    while end > 0:
        if _cancelled(cancel):
            return None
        begin = max(0, end - CHUNK)
        data = read(fd, begin, end)
        first = data.find(b"\n")
        inside_long_line = begin > 0 and not 0 <= first < len(data) - 1
        if begin > 0 and not inside_long_line:
            data = data[first + 1 :]  # whole lines only
            begin += first + 1
        text = data.decode("utf-8", "replace")
        found = None
        for found in pattern.finditer(text):
            pass
        if found is not None:
            return line_start(fd, begin + _match_offset(data, text, found.start()))
        if inside_long_line and len(data) > _OVERLAP:
            end = begin + _OVERLAP  # no line start in the window: overlap the next one
        else:
            end = begin
    return None
