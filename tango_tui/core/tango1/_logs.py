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

HEADER = re.compile(r"^\[(?P<time>[^\]]{1,40})\] (?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL)\s+(?P<msg>.*)$")
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


def iter_lines(path: str | os.PathLike[str], start: int = 0) -> Iterator[tuple[int, str]]:
    """``(offset after the line, text)`` for every complete line from byte ``start`` on.

    A last line without its newline is not returned (the writer is still writing it).
    """
    with open(path, "rb") as f:
        f.seek(start)
        offset = start
        for raw in f:
            if not raw.endswith(b"\n"):
                return
            offset += len(raw)
            yield offset, raw.rstrip(b"\r\n").decode("utf-8", "replace")


def lines_for_step(
    run_log_path: str | os.PathLike[str], step_name: str, *, limit: int | None = None
) -> list[str]:
    """The lines of a Tango run log that belong to step ``step_name``.

    A record belongs to a step when it carries the multicore ``[step NAME]`` prefix, or when it is
    logged between that step's "Starting step" marker and its "Finished"/"failed" marker (nested
    starts, from a dependency computed on demand, are followed with a stack). Continuation lines
    go with their record. The cache-hit line of the step is included too.

    Args:
        run_log_path: The run's ``out.log``.
        step_name: The step's name in the run.
        limit: Keep only the last ``limit`` lines (memory stays bounded on a huge log).

    Returns:
        The lines, without line endings; empty if the log does not exist.
    """
    out: deque[str] = deque(maxlen=limit)
    stack: list[str] = []
    owner: str | None = None
    try:
        for _, line in iter_lines(run_log_path):
            head = parse_head(line)
            if head is not None:
                owner = _owner_of(head, stack)
            if owner == step_name:
                out.append(line)
    except FileNotFoundError:
        return []
    return list(out)


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
            for offset, line in iter_lines(self.path, self._offset):
                self._offset = offset
                self._feed(line)
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
