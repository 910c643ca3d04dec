"""A virtual-scrolling view of a log file that reads only the lines on screen.

The view is anchored at a byte offset, like ``less``: it never needs the file's line count, so a
1 GB log opens as fast as a small one. While following, it shows the file's tail; scrolling up
pauses following and counts the lines that arrive meanwhile.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import reactive

from tango_tui.core import WorkspaceError
from tango_tui.monitor.logfile import ChangeKind, Line, LogFile

from ._log_count import LineCounting
from ._log_draw import (
    CURRENT_MATCH_STYLE,
    ERROR_RE,
    ERROR_STYLE,
    MATCH_STYLE,
    SIDE_STEP,
    WARNING_RE,
    WARNING_STYLE,
)

__all__ = [
    "CURRENT_MATCH_STYLE",
    "ERROR_RE",
    "ERROR_STYLE",
    "MATCH_STYLE",
    "SIDE_STEP",
    "WARNING_RE",
    "WARNING_STYLE",
    "LogLines",
]

log = logging.getLogger(__name__)

NOTICE_SECONDS = 5.0
"""How long a one-off remark (file re-read) stays in the status line."""
FOLLOW_INTERVAL = 0.05
"""While following, appends closer together than this are shown in one repaint (at most ~20
a second); the first append after a quiet spell is shown at once."""


class LogLines(LineCounting, can_focus=True):
    """The lines of one log file, read on demand through a ``LogFile``.

    Announces :class:`LogLines.StatusChanged` whenever the follow state, the count of new lines
    or the file's condition changes; the enclosing :class:`LogView` shows it.
    """

    DEFAULT_CSS = """
    LogLines { height: 1fr; width: 1fr; background: $surface; }
    LogLines:focus { background-tint: $foreground 3%; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "scroll_lines(-1)", "Up", show=False, tooltip="Scroll up a line"),
        Binding("down,j", "scroll_lines(1)", "Down", show=False, tooltip="Scroll down a line"),
        Binding("pageup", "scroll_pages(-1)", "Page up", show=False, tooltip="Scroll up a page"),
        Binding(
            "pagedown,space",
            "scroll_pages(1)",
            "Page down",
            show=False,
            tooltip="Scroll down a page",
        ),
        Binding("g,home", "top", "Top", key_display="g", tooltip="Go to the first line"),
        Binding(
            "G,end", "bottom", "Bottom", key_display="G", tooltip="Go to the last line and follow"
        ),
        Binding("f", "toggle_follow", "Follow", tooltip="Follow the tail on/off"),
        Binding("w", "toggle_wrap", "Wrap", tooltip="Wrap long lines on/off"),
        Binding("left,h", "scroll_side(-1)", "Left", show=False, tooltip="Scroll left (no wrap)"),
        Binding("right,l", "scroll_side(1)", "Right", show=False, tooltip="Scroll right (no wrap)"),
        Binding("0", "side_home", "Line start", show=False, tooltip="Back to column 0"),
        Binding(
            "number_sign",
            "toggle_numbers",
            "Numbers",
            key_display="#",
            tooltip="Line numbers on/off (counted in the background; ? until counted)",
        ),
    ]

    follow: reactive[bool] = reactive(True)
    """Whether the view sticks to the end of the file as it grows."""

    class StatusChanged(Message):
        """The view's status changed (follow, new lines, file condition)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path: Path | None = None
        """The file shown (None: nothing to show)."""
        self.window: list[Line] = []
        """The lines on screen, top to bottom."""
        self.new_lines = 0
        """Lines appended since following was paused."""
        self.problem: str | None = None
        """Why the file cannot be read right now (vanished, permission...)."""
        self.notice: str | None = None
        """A one-off remark (the file was truncated or replaced and re-read)."""
        self.highlight: str | None = None
        """Search text to highlight."""
        self.current_match: int | None = None
        """Offset of the line holding the match the search is on."""
        self.wrap = False
        """Wrap long lines (only the lines on screen are wrapped: reading stays lazy)."""
        self.x_offset = 0
        """First column shown when not wrapping (left/right scroll sideways)."""
        self._log: LogFile | None = None
        self._notice_timer: Any = None
        self._last_tail_read = 0.0
        self._follow_timer: Any = None

    # -- opening and refreshing ---------------------------------------------------------

    def open(self, path: Path | None, missing: str | None = None) -> None:
        """Show the file at ``path`` from its tail (``missing`` explains a None path)."""
        self._close()
        self.clear_caches()
        self.workers.cancel_group(self, "log-count")
        self.workers.cancel_group(self, "log-move")
        self.counting = self.moving = self.count_stopped = False
        self.goto_line = None
        self.path = path
        self.window, self.new_lines, self.notice = [], 0, None
        self.problem = missing if path is None else None
        self.follow = True
        if path is not None:
            self._reopen()
        self._changed()

    def _close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def _reopen(self) -> bool:
        assert self.path is not None
        try:
            self._log = LogFile(self.path).open()
        except WorkspaceError as e:
            self._log = None
            self.problem = f"{e.problem}: {self.path}"
            return False
        self.problem = None
        self._read_tail()
        if self.show_numbers:
            self.ensure_count()
        return True

    @property
    def logfile(self) -> LogFile | None:
        """The open reader (None while the file cannot be opened)."""
        return self._log

    def _read_tail(self) -> None:
        assert self._log is not None
        self._last_tail_read = time.monotonic()
        try:
            self.window = self._log.tail(self.body_height)
        except OSError as e:
            self.problem = _describe(self.path, e)
        self.refresh()

    def reload(self) -> None:
        """Look at the file again: new lines, truncation, replacement, disappearance."""
        if self.path is None:
            return
        if self._log is None:
            if self._reopen():
                self.set_notice("file appeared")
                self._changed()
            return
        try:
            change = self._log.refresh()
        except OSError as e:
            self.problem = _describe(self.path, e)
            self._changed()
            return
        if change.kind is ChangeKind.NONE:
            if self.problem is not None and self._log.problem is None:
                # Back under its name unchanged (renamed away and back): nothing else says so.
                self.problem = None
                self._changed()
            return
        if change.kind is ChangeKind.VANISHED:
            # Keep showing what was read; say what happened where the lines are.
            self.problem = f"{change.problem or 'log file vanished'}: {self.path}"
        elif change.reset:
            self.problem = None
            self.set_notice(f"file was {change.kind.value}{_REREAD}")
            self.new_lines = 0
            self.goto_line = None  # a line number of the file that was there before
            self.moving = False
            if self.show_numbers:
                self.ensure_count()  # the count starts over on the new file
            if self.follow:
                self._read_tail()
            else:
                self._read_from(0)
        else:  # APPENDED
            self.problem = None
            if self.show_numbers:
                self.ensure_count()  # an append too big to count inline is counted here
            if not self.notice_is_reread():
                self.notice = None  # other remarks are stale once new lines arrive
            if self.follow:
                if self._follow_timer is not None:
                    return  # a repaint is already due; it reads the tail as it is then
                wait = self._last_tail_read + FOLLOW_INTERVAL - time.monotonic()
                if wait > 0:
                    self._follow_timer = self.set_timer(wait, self._follow_flush)
                    return
                self._read_tail()
            else:
                self.new_lines += change.new_lines if change.new_lines is not None else 1
                last = self.window[-1] if self.window else None
                if last is None or not last.complete or len(self.window) < self.body_height:
                    self._read_from(self.window[0].offset if self.window else 0)
                    if self.window and self.window[-1].end >= self._log.size:
                        self.new_lines = 0  # every line that came is on screen
        self._changed()

    def _follow_flush(self) -> None:
        """Show the tail held back by the follow repaint cap."""
        self._follow_timer = None
        if self.follow and self._log is not None:
            self._read_tail()
            self._changed()

    def notice_is_reread(self) -> bool:
        """Whether the remark shown says the file was truncated or replaced: it stays its
        few seconds even when lines arrive at once (a rewrite is truncate, then write)."""
        return self.notice is not None and self.notice.endswith(_REREAD)

    def set_notice(self, notice: str) -> None:
        """Show a one-off remark for a few seconds."""
        self.notice = notice
        if self._notice_timer is not None:
            self._notice_timer.stop()
        self._notice_timer = self.set_timer(NOTICE_SECONDS, self._clear_notice)

    def _clear_notice(self) -> None:
        self._notice_timer = None
        if self.notice is not None:
            self.notice = None
            self._changed()

    def _read_from(self, offset: int) -> None:
        assert self._log is not None
        try:
            self.window = self._log.lines_after(offset, self.body_height)
        except OSError as e:
            self.problem = _describe(self.path, e)
        self.refresh()

    def _changed(self) -> None:
        self.refresh()
        self.post_message(self.StatusChanged())

    def on_resize(self, event: events.Resize) -> None:
        if self._log is None:
            return
        if self.follow:
            self._read_tail()
        elif self.window:
            self._read_from(self.window[0].offset)

    def on_unmount(self) -> None:
        self._close()

    # -- moving -------------------------------------------------------------------------

    def watch_follow(self, follow: bool) -> None:
        if follow:
            self.new_lines = 0
            if self._log is not None:
                self._read_tail()
        self.post_message(self.StatusChanged())

    def scroll_by_lines(self, n: int, *, always_pause: bool = True) -> None:
        """Scroll ``n`` lines (negative: up). Up pauses following (with ``always_pause`` off,
        as for the mouse wheel, only if the view moved); reaching the end resumes it."""
        if self._log is None or not self.window or n == 0:
            return
        h = self.body_height
        try:
            if n < 0:
                if self.follow and self._follow_timer is not None:
                    # A repaint of the tail is due: scroll up from what the file holds now,
                    # not from the window painted before the last appends.
                    self._follow_timer.stop()
                    self._follow_timer = None
                    self._read_tail()
                before = self._log.lines_before(self.window[0].offset, -n)
                if before:
                    self.window = (before + self.window)[:h]
                if before or always_pause:
                    # A key up always pauses, even with the first line on screen; a wheel
                    # turn over a log that fits the pane moved nothing and does not.
                    self.follow = False
            else:
                after = self._log.lines_after(self.window[-1].end, n)
                if after:
                    self.window = (self.window + after)[-h:]
                if len(after) < n and self.window[-1].end >= self._log.size:
                    self.follow = True
        except OSError as e:
            self.problem = _describe(self.path, e)
        self._changed()

    def jump_to(self, offset: int, context: int = 3, *, fill: bool = False) -> None:
        """Show the line starting at ``offset`` near the top, ``context`` lines above it
        (follow off); ``fill``: near the end, lines above fill the pane instead of blank rows."""
        if self._log is None:
            return
        self.follow = False
        h = self.body_height
        try:
            after = self._log.lines_after(offset, h)
            if fill and len(after) < h - context:
                above = h - len(after)  # the pane ends with the file's last line
            else:
                above = context
            before = self._log.lines_before(offset, above) if above else []
            self.window = (before + after)[:h]
        except OSError as e:
            self.problem = _describe(self.path, e)
        self._changed()

    def action_scroll_lines(self, n: int) -> None:
        """Scroll ``n`` lines."""
        self.scroll_by_lines(n)

    def action_scroll_pages(self, n: int) -> None:
        """Scroll ``n`` pages."""
        self.scroll_by_lines(n * max(1, self.body_height - 1))

    def action_top(self) -> None:
        """Go to the first line (pauses following)."""
        if self._log is not None:
            self.follow = False
            self._read_from(0)
            self._changed()

    def action_bottom(self) -> None:
        """Go to the end and follow."""
        self.follow = True
        self._changed()

    def action_toggle_follow(self) -> None:
        """Follow on/off."""
        self.follow = not self.follow

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.scroll_by_lines(-3, always_pause=False)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.scroll_by_lines(3)


_REREAD = ": re-read"


def _describe(path: Path | None, error: OSError) -> str:
    if isinstance(error, FileNotFoundError):
        return f"log file vanished: {path}"
    if isinstance(error, PermissionError):
        return f"cannot read {path}: permission denied"
    return f"cannot read {path}: {error.strerror or error}"
