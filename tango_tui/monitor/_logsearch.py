"""Searching a log in chunks, forwards or backwards, without loading it.

A chunk is a run of whole lines (about 1 MiB). Plain text is looked for in the raw bytes (fast:
about 1 ms per MiB, ignoring case included for ASCII text); a regular expression, or non-ASCII
text ignoring case, is matched on the chunk decoded as UTF-8 with bad bytes replaced, as the
display decodes it (ANSI sequences and control characters are matched raw). ``^`` and ``$`` match
at line boundaries. A match is reported as the line it starts in. A line longer than a chunk is
searched in overlapping windows so a match across a window edge is not missed (for matches up to
4 KiB long); inside such a line ``^``/``$`` may also match at a window edge.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ._logread import line_start, read

__all__ = ["compile_pattern", "count_lines", "find_line"]

CHUNK = 1024 * 1024
_OVERLAP = 4096


class _Matcher:
    """Finds where in a chunk of whole lines a match starts (a byte index), first or last."""

    overlap = _OVERLAP
    """Bytes two windows of one long line share, so a match across their edge is found."""

    def first(self, data: bytes) -> int | None:
        raise NotImplementedError

    def last(self, data: bytes) -> int | None:
        raise NotImplementedError

    def line_starts(self, data: bytes, limit: int) -> list[int]:
        """Starts of the first ``limit`` lines of ``data`` (whole lines) holding a match."""
        raise NotImplementedError


class _BytesMatcher(_Matcher):
    """Plain text, found in the raw bytes (C speed, no decoding).

    Used when that gives the same answer as matching the decoded text: a case-sensitive search
    (UTF-8 is a byte-exact encoding), or a case-insensitive one for an ASCII needle (``bytes.lower``
    folds ASCII only; the one difference is that exotic folds such as the Kelvin sign matching
    ``k`` are not made).
    """

    def __init__(self, needle: bytes, fold: bool) -> None:
        self.needle = needle.lower() if fold else needle
        self.fold = fold
        self.overlap = max(_OVERLAP, 2 * len(needle))

    def first(self, data: bytes) -> int | None:
        found = (data.lower() if self.fold else data).find(self.needle)
        return None if found < 0 else found

    def last(self, data: bytes) -> int | None:
        found = (data.lower() if self.fold else data).rfind(self.needle)
        return None if found < 0 else found

    def line_starts(self, data: bytes, limit: int) -> list[int]:
        hay = data.lower() if self.fold else data
        out: list[int] = []
        i = 0
        while len(out) < limit:
            j = hay.find(self.needle, i)
            if j < 0:
                break
            out.append(hay.rfind(b"\n", 0, j) + 1)
            i = hay.find(b"\n", j) + 1  # on with the next line
            if i == 0:
                break
        return out


class _TextMatcher(_Matcher):
    """A regular expression (or non-ASCII text ignoring case) matched on the decoded text."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern

    def first(self, data: bytes) -> int | None:
        text = data.decode("utf-8", "replace")
        match = self.pattern.search(text)
        return None if match is None else _match_offset(data, text, match.start())

    def last(self, data: bytes) -> int | None:
        text = data.decode("utf-8", "replace")
        match = None
        for match in self.pattern.finditer(text):
            pass
        return None if match is None else _match_offset(data, text, match.start())

    def line_starts(self, data: bytes, limit: int) -> list[int]:
        text = data.decode("utf-8", "replace")
        out: list[int] = []
        char = byte = 0  # a line's start in ``text`` and in ``data`` (one \n byte per \n)
        while len(out) < limit:
            match = self.pattern.search(text, char)
            if match is None:
                break
            before = text.rfind("\n", char, match.start())
            line = char if before < 0 else before + 1
            for _ in range(text.count("\n", char, line)):
                byte = data.index(b"\n", byte) + 1
            out.append(byte)
            end = text.find("\n", match.start())  # on with the next line
            if end < 0:
                break
            byte = data.index(b"\n", byte) + 1
            char = end + 1
        return out


def compile_pattern(pattern: str, *, regex: bool, case_sensitive: bool) -> _Matcher:
    """Prepare a user's search; raises ``re.error`` for a bad regular expression."""
    flags = re.MULTILINE | (0 if case_sensitive else re.IGNORECASE)
    compiled = re.compile(pattern if regex else re.escape(pattern), flags)
    if not regex and "\ufffd" not in pattern and (case_sensitive or pattern.isascii()):
        try:
            return _BytesMatcher(pattern.encode("utf-8"), fold=not case_sensitive)
        except UnicodeEncodeError:  # a lone surrogate: only the decoded text can hold it
            pass
    return _TextMatcher(compiled)


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
    matcher: _Matcher,
    start: int,
    *,
    backwards: bool,
    cancel: Callable[[], bool] | Any = None,
) -> int | None:
    """Offset of the line holding the first match at or after ``start`` (or the last before it).

    Args:
        fd: Open descriptor of the log.
        size: Bytes of the file to consider.
        matcher: From :func:`compile_pattern`.
        start: A line start. Forwards, lines starting at ``start`` or later are searched;
            backwards, lines starting before ``start``.
        backwards: Search towards the start of the file.
        cancel: ``threading.Event`` or callable; checked between chunks.

    Returns:
        The matching line's offset, or None (not found, or cancelled).
    """
    if backwards:
        return _backwards(fd, size, matcher, min(start, size), cancel)
    return _forwards(fd, size, matcher, start, cancel)


def _forwards(fd: int, size: int, matcher: _Matcher, pos: int, cancel: Any) -> int | None:
    while pos < size:
        if _cancelled(cancel):
            return None
        data = read(fd, pos, min(size, pos + CHUNK))
        if not data:
            return None
        last = data.rfind(b"\n")
        if pos + len(data) < size and last >= 0:
            data = data[: last + 1]  # whole lines only
        found = matcher.first(data)
        if found is not None:
            return line_start(fd, pos + found)
        if last < 0 and pos + len(data) < size:
            # No line break: a part of one long line; step on with an overlap.
            pos += max(1, len(data) - matcher.overlap)
        else:
            pos += len(data)
    return None


def _backwards(fd: int, size: int, matcher: _Matcher, end: int, cancel: Any) -> int | None:
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
        found = matcher.last(data)
        if found is not None:
            return line_start(fd, begin + found)
        if inside_long_line and len(data) > matcher.overlap:
            end = begin + matcher.overlap  # no line start in the window: overlap the next one
        else:
            end = begin
    return None


def count_lines(
    fd: int,
    size: int,
    matcher: _Matcher,
    start: int,
    *,
    limit: int,
    found: list[int],
    cancel: Any = None,
) -> int:
    """Collect the offsets of matching lines from ``start`` on, in file order, a chunk at a time.

    Args:
        fd: Open descriptor of the log.
        size: Bytes of the file to consider.
        matcher: From :func:`compile_pattern`.
        start: A line start.
        limit: Stop once ``found`` holds this many offsets.
        found: The list the offsets are appended to (kept if the count stops early).
        cancel: ``threading.Event`` or callable; checked between chunks.

    Returns:
        The offset the count has covered up to (a line start; ``size`` when it got to the end).
    """
    pos = start
    while pos < size and len(found) < limit:
        if _cancelled(cancel):
            break
        data = read(fd, pos, min(size, pos + CHUNK))
        if not data:
            break
        last = data.rfind(b"\n")
        if pos + len(data) < size and last < 0:
            # One line longer than a chunk: ask the windowed search about that line alone.
            end = _next_line(fd, pos + len(data), size)
            if find_line(fd, end, matcher, pos, backwards=False, cancel=cancel) is not None:
                found.append(pos)
            pos = end
            continue
        if pos + len(data) < size:
            data = data[: last + 1]  # whole lines only
        hits = matcher.line_starts(data, limit - len(found))
        found.extend(pos + i for i in hits)
        if len(found) >= limit and hits:
            # Covered up to the end of the last counted line.
            nl = data.find(b"\n", hits[-1])
            return pos + (len(data) if nl < 0 else nl + 1)
        pos += len(data)
    return min(pos, size)


def _next_line(fd: int, pos: int, size: int) -> int:
    """Start of the line after the one holding ``pos`` (``size`` if it is the last)."""
    while pos < size:
        data = read(fd, pos, min(size, pos + CHUNK))
        if not data:
            break
        nl = data.find(b"\n")
        if nl >= 0:
            return pos + nl + 1
        pos += len(data)
    return size
