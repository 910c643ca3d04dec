"""Reading Tango 1.x's run log (``runs/<name>/out.log``), streamed, never loaded whole.

Tango writes the log through Rich at 160 columns: every record starts with
``[MM/DD/YY HH:MM:SS] LEVEL    message`` and may continue on more lines (wrapped text,
multi-line messages, tracebacks, the final summary table). Its executors mark the steps:

* ``● Starting step "NAME"...`` (or ``... (needed by "OTHER")...``), ``✓ Finished step "NAME"``,
  ``✗ Step "NAME" failed``, ``✓ Found output for step "NAME" in cache...``;
* ``Starting new run RUN``, ``✓ Finished run RUN``, ``✗ Run RUN finished with errors``;
* the multicore executor runs each step in a subprocess whose records carry ``[step NAME] ``
  in front of the message.

:func:`lines_for_step` returns the lines of one step; :class:`RunLogScanner` follows the markers
incrementally (it remembers its byte offset, so a growing log is read only once).
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

HEADER = re.compile(
    r"^\[(?P<time>[^\]]{1,40})\] (?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL)\s+(?P<msg>.*)$"
)
"""A line that starts a log record."""
PREFIX = re.compile(r"^(?:\\)?\[step (?P<name>[^\]]+)\] ")
"""The multicore executor's per-step prefix at the start of a message."""

_NAME = r'"(?P<name>.+?)"'
_STARTING = re.compile(r"Starting step " + _NAME + r"(?: \(needed by \".*?\"\))?\.\.\.")
_FINISHED = re.compile(r"Finished step " + _NAME + r"(?:\s|$)")
_FINISHED_FOR_RUN = re.compile(r"Finished run for step " + _NAME)
_FAILED = re.compile(r"Step " + _NAME + r" failed")
_CACHED = re.compile(r"Found output for step " + _NAME + r" in cache")
_RUN_OK = re.compile(r"Finished run (?P<run>\S+)")
_RUN_ERRORS = re.compile(r"Run (?P<run>\S+) finished with errors")


@dataclass
class LogRecordHead:
    """The parsed first line of a log record."""

    time: str
    """Tango's timestamp text (local time of the writing machine, ``%x %X``)."""
    level: str
    """``INFO``, ``WARNING``, ``ERROR``..."""
    step: str | None
    """The ``[step NAME]`` prefix of the multicore executor, if present."""
    message: str
    """The message text (prefix removed, the right-aligned source path still at the end)."""


def parse_head(line: str) -> LogRecordHead | None:
    """Parse a record's first line; None for a continuation line."""
    m = HEADER.match(line)
    if not m:
        return None
    msg = m["msg"]
    p = PREFIX.match(msg)
    step = None
    if p:
        step = p["name"]
        msg = msg[p.end() :]
    return LogRecordHead(m["time"], m["level"], step, msg)


_HEADER_B = re.compile(rb"\[[^\]\n]{1,40}\] (?:DEBUG|INFO|WARNING|ERROR|CRITICAL)\s+")
_PREFIX_B = re.compile(rb"(?:\\)?\[step ([^\]\n]+)\] ")
_MARKER_HINT = b'tep "'
_SCAN_NEEDLES = (_MARKER_HINT, b"inished run", b"finished with errors")
"""Every per-step marker ("Starting step", "Finished step", "Step ... failed", "Found output for
step") contains this; lines without it are never decoded or parsed."""


CHUNK = 1 << 20
"""Bytes read at a time."""
_LONGEST_LINE = 8 << 20
"""A line longer than this is cut (memory stays bounded whatever the file holds)."""


def _iter_chunks(
    path: str | os.PathLike[str], start: int = 0, size: int = CHUNK
) -> Iterator[tuple[int, bytes]]:
    """``(offset after the chunk, chunk)``; every chunk ends with a newline (complete lines only,
    so a line still being written is left for the next read)."""
    with open(path, "rb") as f:
        f.seek(start)
        offset, rest = start, b""
        while True:
            block = f.read(size)
            if not block:
                return
            data = rest + block
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                if len(data) <= _LONGEST_LINE:
                    rest = data
                    continue
                data += b"\n"
                cut = len(data)
                offset -= 1  # the newline we added is not in the file
            rest = data[cut:]
            offset += cut
            yield offset, data[:cut]


def _iter_raw(path: str | os.PathLike[str], start: int = 0) -> Iterator[tuple[int, bytes]]:
    for end, chunk in _iter_chunks(path, start):
        offset = end - len(chunk)
        for raw in chunk.splitlines(keepends=True):
            offset += len(raw)
            yield offset, raw.rstrip(b"\r\n")


def _lines_with(chunk: bytes, needles: tuple[bytes, ...]) -> list[tuple[int, int]]:
    """``(start, end)`` of the lines of ``chunk`` containing any of ``needles``, in file order."""
    found: set[tuple[int, int]] = set()
    for needle in needles:
        i = chunk.find(needle)
        while i != -1:
            start = chunk.rfind(b"\n", 0, i) + 1
            end = chunk.find(b"\n", i)
            found.add((start, end))
            i = chunk.find(needle, end + 1)
    return sorted(found)


def iter_lines(path: str | os.PathLike[str], start: int = 0) -> Iterator[tuple[int, str]]:
    """``(offset after the line, text)`` for every complete line from byte ``start`` on.

    A last line without its newline is not returned (the writer is still writing it).
    """
    for offset, raw in _iter_raw(path, start):
        yield offset, raw.decode("utf-8", "replace")


def _decode_lines(data: bytes) -> list[str]:
    return [line.rstrip("\r") for line in data.decode("utf-8", "replace").split("\n")[:-1]]


class _StepLines:
    """Attribution state while streaming one log for one step."""

    def __init__(self, step_name: str, limit: int | None):
        self.step = step_name
        self.out: deque[str] = deque(maxlen=limit)
        self.stack: list[str] = []
        self.owner: str | None = None

    def chunk(self, chunk: bytes) -> None:
        if b"[step " in chunk:
            self._per_line(chunk)
        else:
            self._by_markers(chunk)

    def _per_line(self, chunk: bytes) -> None:
        # Multicore logs: every record may name its step.
        for raw in chunk.split(b"\n")[:-1]:
            if raw[:1] == b"[" and (m := _HEADER_B.match(raw)):
                p = _PREFIX_B.match(raw, m.end())
                if p:
                    self.owner = p.group(1).decode("utf-8", "replace")
                    if _MARKER_HINT in raw:
                        _owner_of(parse_head(raw.decode("utf-8", "replace")), self.stack)  # type: ignore[arg-type]
                elif _MARKER_HINT in raw:
                    self.owner = _owner_of(parse_head(raw.decode("utf-8", "replace")), self.stack)  # type: ignore[arg-type]
                else:
                    self.owner = self.stack[-1] if self.stack else None
            if self.owner == self.step:
                self.out.append(raw.rstrip(b"\r").decode("utf-8", "replace"))

    def _by_markers(self, chunk: bytes) -> None:
        # Sequential logs: ownership changes only at marker lines and at the first record after
        # one, so everything between those points goes (or not) in one piece.
        pos = 0
        for start, end in _lines_with(chunk, (_MARKER_HINT,)):
            head = parse_head(chunk[start:end].decode("utf-8", "replace"))
            if head is None:
                continue  # a continuation line that merely quotes a marker
            self._run(chunk, pos, start)
            self.owner = _owner_of(head, self.stack)  # the marker and its continuation lines
            if self.owner == self.step:
                self.out.append(chunk[start:end].rstrip(b"\r").decode("utf-8", "replace"))
            pos = end + 1
        self._run(chunk, pos, len(chunk))

    def _run(self, chunk: bytes, a: int, b: int) -> None:
        """Lines ``[a, b)`` hold no marker: continuation lines up to the first record keep the
        current owner; from there on, the step on top of the stack owns them."""
        if a >= b:
            return
        first = a
        while first < b and not (
            chunk[first : first + 1] == b"[" and _HEADER_B.match(chunk, first)
        ):
            first = chunk.find(b"\n", first) + 1 or b
        if self.owner == self.step and first > a:
            self.out.extend(_decode_lines(chunk[a:first]))
        if first < b:
            self.owner = self.stack[-1] if self.stack else None
            if self.owner == self.step:
                self.out.extend(_decode_lines(chunk[first:b]))


def lines_for_step(
    run_log_path: str | os.PathLike[str], step_name: str, *, limit: int | None = None
) -> list[str]:
    """The lines of a Tango run log that belong to step ``step_name``.

    A record belongs to a step when it carries the multicore ``[step NAME]`` prefix, or when it is
    logged between that step's "Starting step" marker and its "Finished"/"failed" marker (nested
    starts, from a dependency computed on demand, are followed with a stack). Continuation lines
    go with their record. The cache-hit line of the step is included too. The file is streamed
    in chunks; only the step's own lines are decoded.

    Args:
        run_log_path: The run's ``out.log``.
        step_name: The step's name in the run.
        limit: Keep only the last ``limit`` lines (memory stays bounded on a huge log).

    Returns:
        The lines, without line endings; empty if the log does not exist.
    """
    state = _StepLines(step_name, limit)
    try:
        for _, chunk in _iter_chunks(run_log_path, 0, CHUNK):
            state.chunk(chunk)
    except FileNotFoundError:
        return []
    return list(state.out)


def _owner_of(head: LogRecordHead, stack: list[str]) -> str | None:
    """Which step a record belongs to, updating the stack of started steps."""
    if head.step is not None:
        return head.step
    msg = head.message
    m = _STARTING.search(msg)
    if m:
        stack.append(m["name"])
        return m["name"]
    m = _FINISHED.search(msg) or _FAILED.search(msg)
    if m:
        name = m["name"]
        if name in stack:
            # Pop up to and including it (a step whose end marker was lost does not stay on top).
            while stack and stack.pop() != name:
                pass
        return name
    m = _CACHED.search(msg)
    if m:
        return m["name"]
    return stack[-1] if stack else None


@dataclass
class RunLogState:
    """What a run's log says so far about its steps."""

    started: set[str] = field(default_factory=set)
    """Steps that started executing in this run."""
    finished: set[str] = field(default_factory=set)
    """Steps that finished in this run."""
    failed: set[str] = field(default_factory=set)
    """Steps that failed in this run."""
    cached: set[str] = field(default_factory=set)
    """Steps whose result was found in the cache."""
    run_ended: bool = False
    """The executor finished (either end-of-run marker seen)."""
    run_errors: bool = False
    """The executor reported "finished with errors"."""


class RunLogScanner:
    """Follows one ``out.log`` incrementally and keeps its :class:`RunLogState`.

    Each :meth:`scan` reads only the bytes appended since the last one; a log that shrank or was
    replaced (another inode) is read again from the start.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = os.fspath(path)
        self.state = RunLogState()
        self._offset = 0
        self._ino: int | None = None

    def scan(self) -> RunLogState:
        """Read what was appended and return the updated state."""
        try:
            st = os.stat(self.path)
        except OSError:
            return self.state
        if st.st_ino != self._ino or st.st_size < self._offset:
            self.state, self._offset, self._ino = RunLogState(), 0, st.st_ino
        if st.st_size == self._offset:
            return self.state
        try:
            for offset, chunk in _iter_chunks(self.path, self._offset, CHUNK):
                # Only lines holding a marker are decoded and parsed (found with bytes.find).
                for start, end in _lines_with(chunk, _SCAN_NEEDLES):
                    self._feed(chunk[start:end].decode("utf-8", "replace"))
                self._offset = offset
        except OSError:
            pass
        return self.state

    def _feed(self, line: str) -> None:
        head = parse_head(line)
        if head is None:
            return
        msg, s = head.message, self.state
        if m := _STARTING.search(msg):
            s.started.add(m["name"])
        elif m := (_FINISHED.search(msg) or _FINISHED_FOR_RUN.search(msg)):
            s.finished.add(m["name"])
        elif m := _FAILED.search(msg):
            s.failed.add(m["name"])
        elif m := _CACHED.search(msg):
            s.cached.add(m["name"])
        elif head.step is None and _RUN_ERRORS.search(msg):
            s.run_ended = s.run_errors = True
        elif head.step is None and _RUN_OK.search(msg):
            s.run_ended = True
