"""The step-log side of an fd capture: whole lines per stream, records on lines of their own.

:class:`LineLog` is not thread-safe: its capture calls it with its lock held.
"""

from __future__ import annotations

import contextlib
import time

from ._capture_pump import write_all

PARTIAL_AFTER = 0.2
"""Seconds an unfinished line waits for its end before it goes to the log as it is."""

PARTIAL_MAX = 65536
"""Bytes of an unfinished line kept back at most."""


class LineLog:
    """Writes a capture's bytes to the step log a whole line at a time, per stream.

    Args:
        fd: The log, opened for appending. Never closed here; :meth:`close` only stops the
            writing. A write error (disk full) stops it too: the step goes on without its log.
        merged: Both streams come through one channel (one pending line, not two).
    """

    def __init__(self, fd: int, merged: bool):
        self.fd: int | None = fd
        self.merged = merged
        self.pending = [bytearray(), bytearray()]
        self.since = [0.0, 0.0]
        self.at_line_start = True

    def stream(self, idx: int, data: bytes) -> None:
        """Take bytes of stdout (0) or stderr (1): complete lines now, the rest when it ends."""
        if self.merged:
            idx = 0
        pending = self.pending[idx]
        if not pending:
            self.since[idx] = time.monotonic()
        pending += data
        cut = pending.rfind(b"\n") + 1
        if cut:
            self.write(bytes(pending[:cut]))
            del pending[:cut]
            if pending:
                self.since[idx] = time.monotonic()
        if len(pending) >= PARTIAL_MAX:
            self.flush_partial(idx)

    def flush_partial(self, idx: int) -> None:
        """Write stream ``idx``'s unfinished line as it is."""
        pending = self.pending[idx]
        if pending:
            self.write(bytes(pending))
            pending.clear()

    def flush_old(self, now: float) -> None:
        """Write the unfinished lines that waited :data:`PARTIAL_AFTER` seconds or more."""
        for idx in (0, 1):
            if self.pending[idx] and now - self.since[idx] >= PARTIAL_AFTER:
                self.flush_partial(idx)

    def write(self, data: bytes, *, record: bool = False) -> None:
        """Append ``data``; a ``record`` starts on a line of its own."""
        fd = self.fd
        if fd is None or not data:
            return
        if record and not self.at_line_start:
            data = b"\n" + data  # after an unfinished line flushed by age
        try:
            write_all(fd, data)
        except OSError:  # disk full, or the log is gone
            self.fd = None
            return
        self.at_line_start = data.endswith(b"\n")

    def raw(self, data: bytes) -> None:
        """Append ``data`` touching no state (from a forked child, or a re-entered section)."""
        fd = self.fd
        if fd is not None:
            with contextlib.suppress(OSError):
                write_all(fd, data)

    def close(self) -> None:
        """Write no more (the caller closes the descriptor)."""
        self.fd = None
