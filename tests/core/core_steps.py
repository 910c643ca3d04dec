"""Step classes for the Step / MemoryWorkspace / executor / contract tests and their subprocesses.

Subprocesses import this module by adding its directory to ``sys.path``, so the classes (and so
the unique ids) are the same on both sides.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from tango_tui.core._step import Step

DEADLINE = 30.0
"""Seconds a step waits for a condition before giving up (never reached when things work)."""


def append_line(path: str | os.PathLike[str], line: str) -> None:
    """Append one line with a single O_APPEND write (safe across processes)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def lines(path: str | os.PathLike[str]) -> list[str]:
    """The lines of a file written by :func:`append_line` ([] if absent)."""
    try:
        return Path(path).read_text().splitlines()
    except FileNotFoundError:
        return []


def wait_for(predicate: Any, deadline: float = DEADLINE) -> bool:
    """Poll ``predicate`` until it is true or ``deadline`` seconds pass; its last value."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.005)
    return bool(predicate())


class Add(Step):
    """a + b, logging each execution to ``log`` (an O_APPEND file) when given."""

    def run(self, a: Any, b: Any, log: str | None = None) -> Any:  # type: ignore[override]
        if log:
            append_line(log, f"{self.name} {os.getpid()}")
        return a + b


class Free(Step):
    """Takes any arguments and returns them (for hashing tests)."""

    def run(self, **kwargs: Any) -> Any:  # type: ignore[override]
        return kwargs


class Versioned(Free):
    """Free with a VERSION."""

    VERSION = "002"


class Boom(Step):
    """Always fails (after logging its execution)."""

    def run(self, x: Any = None, log: str | None = None) -> Any:  # type: ignore[override]
        if log:
            append_line(log, f"{self.name} {os.getpid()}")
        raise ValueError(f"boom {x!r}")


class Fresh(Step):
    """Uncacheable: returns ``value`` and logs each execution."""

    CACHEABLE = False

    def run(self, value: Any, log: str | None = None) -> Any:  # type: ignore[override]
        if log:
            append_line(log, f"{self.name} {os.getpid()}")
        return value


class Count(Step):
    """Yields 0..n-1 (an iterator result), reporting progress through track()."""

    def run(self, n: int) -> Any:  # type: ignore[override]
        return (i for i in self.track(range(n), desc="count"))


class Gate(Step):
    """Appends to ``log``, waits until ``until`` exists (bounded), then returns ``value``.

    With ``touch`` it first creates that file, so two Gates can wait for each other.
    """

    def run(self, value: Any, log: str, until: str, touch: str | None = None) -> Any:  # type: ignore[override]
        append_line(log, f"{self.name} {os.getpid()}")
        if touch:
            Path(touch).touch()
        if not wait_for(lambda: os.path.exists(until)):
            raise TimeoutError(f"{until} never appeared")
        return value


class WaitForWaiters(Step):
    """Counts its execution, then waits until ``n`` marker files exist in ``markers`` (bounded)."""

    def run(self, log: str, markers: str, n: int) -> Any:  # type: ignore[override]
        append_line(log, f"{os.getpid()}")
        wait_for(lambda: len(os.listdir(markers)) >= n)
        return "once"


class Die(Step):
    """Kills its own process (as an OOM killer would)."""

    def run(self, x: int = 0) -> Any:  # type: ignore[override]
        os._exit(9)


class Interrupt(Step):
    """Raises KeyboardInterrupt, as a Ctrl-C during the step would."""

    def run(self, x: int = 0) -> Any:  # type: ignore[override]
        raise KeyboardInterrupt


class InterruptParent(Step):
    """Logs its pid, sends SIGINT to the executor (its parent), then waits to be stopped."""

    def run(self, log: str, until: str) -> Any:  # type: ignore[override]
        import signal

        append_line(log, f"{os.getpid()}")
        os.kill(os.getppid(), signal.SIGINT)
        wait_for(lambda: os.path.exists(until))
        return "not interrupted"
