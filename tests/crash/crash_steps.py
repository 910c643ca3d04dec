"""Small real steps for the crash tests, importable by the child processes they start."""

from __future__ import annotations

import os
import time
from typing import Any

from tango_tui import Step


def journal(path: str, event: str, uid: str) -> None:
    """Append ``event uid pid t`` to ``path`` in one O_APPEND write."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{event} {uid} {os.getpid()} {time.monotonic():.6f}\n".encode())
    finally:
        os.close(fd)


class Slow(Step):
    """Journals its body (path from ``CRASH_JOURNAL``) and takes ``secs`` seconds."""

    VERSION = "1"

    def run(self, x: Any, secs: float = 0.05, inputs: Any = None) -> Any:  # type: ignore[override]
        path = os.environ["CRASH_JOURNAL"]
        journal(path, "start", self.unique_id)
        time.sleep(secs)  # work, not synchronisation: it widens the window for a second body
        journal(path, "end", self.unique_id)
        return {"x": x, "inputs": inputs}


class Plain(Step):
    """Returns its argument."""

    VERSION = "1"

    def run(self, x: Any) -> Any:  # type: ignore[override]
        return x


class Add(Step):
    """Adds two numbers and logs it."""

    VERSION = "1"

    def run(self, a: int, b: int) -> int:  # type: ignore[override]
        import logging

        logging.getLogger("crash.steps").warning("adding %d and %d", a, b)
        print(f"stdout of add: {a} + {b}")
        return a + b


class Fail(Step):
    """Always fails."""

    VERSION = "1"

    def run(self, x: Any) -> Any:  # type: ignore[override]
        raise ValueError(f"planned failure on {x!r}")
