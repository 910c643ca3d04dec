"""Line numbers for the log pane: the background line count, "go to line", the gutter.

A line's number is known only once every line break before it has been counted, which for a
2 GB log means reading it all. :class:`LineCounting` runs ``LogFile.scan`` in a thread worker a
slice at a time, reports progress a few times a second, stops as soon as nobody needs it (the
gutter is off and a pending "go to line" has been reached), and stops at once on Escape. Moves
by a number of lines (``+N``/``-N``) skip line breaks without the count, in a worker too.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from textual import work
from textual.message import Message
from textual.worker import get_current_worker

from tango_tui.monitor.logfile import LogFile

from ._log_draw import LogDrawing

COUNT_SLICE = 4 * 1024 * 1024
"""Bytes counted between two looks at whether the count is still wanted."""
PROGRESS_INTERVAL = 0.1
"""Seconds between two progress reports of a running count."""


class LinesCounted(Message, bubble=False):
    """The background count of ``log`` moved on (``done``: it reached the end)."""

    def __init__(self, log: LogFile, done: bool, error: str | None = None) -> None:
        super().__init__()
        self.log = log
        self.done = done
        self.error = error


class LinesSkipped(Message, bubble=False):
    """A ``+N``/``-N`` move found its line at ``offset`` (None: cancelled or failed)."""

    def __init__(self, log: LogFile, offset: int | None, error: str | None = None) -> None:
        super().__init__()
        self.log = log
        self.offset = offset
        self.error = error


class LineCounting(LogDrawing):
    """The line-number half of the log lines widget: gutter, count, go to line."""

    if TYPE_CHECKING:  # provided by LogLines

        def jump_to(self, offset: int, context: int = 3, *, fill: bool = False) -> None: ...
        def set_notice(self, notice: str) -> None: ...
        def _changed(self) -> None: ...

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.show_numbers = False
        """Draw the line-number gutter."""
        self.goto_line: int | None = None
        """A "go to line" waiting for the count to reach that line."""
        self.moving = False
        """A ``+N``/``-N`` move is under way."""
        self.counting = False
        """The background line count is running."""
        self.count_stopped = False
        """Escape stopped the count: appends do not start it again, ``#`` or a go to does."""

    # -- the count ------------------------------------------------------------------------

    def count_wanted(self, log: LogFile) -> bool:
        """Whether the count still has a reader (checked by the worker between slices)."""
        if log is not self._log:
            return False
        goto = self.goto_line
        return self.show_numbers or (goto is not None and log.counted_lines < goto)

    def ensure_count(self, *, asked: bool = False) -> None:
        """Start the background count if it is wanted, not finished and not running (and not
        stopped by Escape, unless ``asked`` by a key press)."""
        log = self._log
        if asked:
            self.count_stopped = False
        if log is None or self.counting or self.count_stopped or log.line_count is not None:
            return
        if self.count_wanted(log):
            self.counting = True
            self._count(log)

    @work(thread=True, exclusive=True, exit_on_error=False, group="log-count")
    def _count(self, log: LogFile) -> None:
        """Count lines a slice at a time; report progress, the end, or an error."""
        worker = get_current_worker()
        last = time.monotonic()
        while True:
            try:
                done = log.scan(cancel=lambda: worker.is_cancelled, max_bytes=COUNT_SLICE)
            except (OSError, RuntimeError) as e:
                self.post_message(LinesCounted(log, True, error=f"cannot count lines: {e}"))
                return
            if worker.is_cancelled:
                return
            wanted = self.count_wanted(log)
            goto = self.goto_line
            reached = goto is not None and log.counted_lines >= goto
            now = time.monotonic()
            if done or not wanted or reached or now - last >= PROGRESS_INTERVAL:
                self.post_message(LinesCounted(log, done or not wanted))
                last = now
            if done or not wanted:
                return

    def on_lines_counted(self, message: LinesCounted) -> None:
        log = self._log
        if message.log is not log or log is None:
            return
        if message.done:
            self.counting = False
        if message.error:
            self.goto_line = None
            self.set_notice(message.error)
        goto = self.goto_line
        if goto is not None:
            offset = log.offset_of_line(goto)
            total = log.line_count
            if offset is None and total is not None:
                offset = log.offset_of_line(total) if total else 0  # past the end: the last
            if offset is not None:
                self.goto_line = None
                self.jump_to(offset, context=0, fill=True)
        self._changed()
        if message.done and log.line_count is None:
            self.ensure_count()  # the file grew past the end seen by the count meanwhile

    @property
    def count_progress(self) -> float | None:
        """How far a running count has got (0.0-1.0), None when no count runs."""
        if not self.counting or self._log is None:
            return None
        return self._log.scan_progress

    # -- going places ---------------------------------------------------------------------

    def go_to_line(self, number: int) -> None:
        """Show 1-based line ``number`` at the top (the last line if there are fewer),
        counting lines in the background first if need be."""
        log = self._log
        if log is None:
            return
        self.moving = False
        self.goto_line = max(1, number)
        self.count_stopped = False
        if log.line_count is None and not self.counting:
            self.counting = True
            self._count(log)
        self.post_message(LinesCounted(log, False))  # jumps at once if counted that far
        self._changed()

    def go_by(self, k: int) -> None:
        """Move the top line ``k`` lines down (negative: up), without the line count."""
        log = self._log
        if log is None or not self.window or k == 0:
            return
        self.goto_line = None
        self.moving = True
        self._skip(log, self.window[0].offset, k)
        self._changed()

    @work(thread=True, exclusive=True, exit_on_error=False, group="log-move")
    def _skip(self, log: LogFile, offset: int, k: int) -> None:
        worker = get_current_worker()
        try:
            target = log.skip(offset, k, cancel=lambda: worker.is_cancelled)
        except (OSError, RuntimeError) as e:
            self.post_message(LinesSkipped(log, None, error=f"cannot move: {e}"))
            return
        if not worker.is_cancelled:
            self.post_message(LinesSkipped(log, target))

    def on_lines_skipped(self, message: LinesSkipped) -> None:
        if message.log is not self._log or not self.moving:
            return
        self.moving = False
        if message.error:
            self.set_notice(message.error)
        if message.offset is not None:
            self.jump_to(message.offset, context=0, fill=True)
        self._changed()

    def go_to_fraction(self, fraction: float) -> None:
        """Show the line at ``fraction`` (0.0-1.0) of the file's bytes, like less's ``N%``."""
        log = self._log
        if log is None:
            return
        self.goto_line, self.moving = None, False
        offset = int(log.size * min(1.0, max(0.0, fraction)))
        line = log.line_at(min(offset, max(0, log.size - 1)))
        self.jump_to(line.offset if line is not None else 0, context=0, fill=True)

    def cancel_jobs(self) -> bool:
        """Stop a pending go to line, a move and the line count (Escape); True if any ran."""
        if self.goto_line is not None:
            what = f"go to line {self.goto_line:,} cancelled"
        elif self.moving:
            what = "move cancelled"
        elif self.counting:
            what = "line count stopped (# twice: count again)"
        else:
            return False
        self.workers.cancel_group(self, "log-count")
        self.workers.cancel_group(self, "log-move")
        self.counting = self.moving = False
        self.count_stopped = True
        self.goto_line = None
        self.set_notice(what)
        self._changed()
        return True

    def action_toggle_numbers(self) -> None:
        """Line numbers on/off (counted in the background the first time)."""
        self.show_numbers = not self.show_numbers
        self.ensure_count(asked=True)
        self._changed()
