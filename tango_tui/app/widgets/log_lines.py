"""A virtual-scrolling view of a log file that reads only the lines on screen.

The view is anchored at a byte offset, like ``less``: it never needs the file's line count, so a
1 GB log opens as fast as a small one. While following, it shows the file's tail; scrolling up
pauses following and counts the lines that arrive meanwhile.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from tango_tui.core import WorkspaceError
from tango_tui.monitor.logfile import ChangeKind, Line, LogFile

log = logging.getLogger(__name__)

ERROR_RE = re.compile(r"\b(ERROR|CRITICAL|FATAL|Traceback|[A-Z][A-Za-z]*(Error|Exception))\b|✘")
WARNING_RE = re.compile(r"\b(WARNING|WARN|Warning)\b")
ERROR_STYLE = Style(color="red", bold=True)
WARNING_STYLE = Style(color="yellow")
MATCH_STYLE = Style(underline=True, bold=True, color="bright_yellow")
CURRENT_MATCH_STYLE = Style(color="black", bgcolor="bright_yellow", bold=True)
"""The match the search is on stands out from the other matches on screen."""
SIDE_STEP = 8
"""Columns moved by one left/right press."""
NOTICE_SECONDS = 5.0
"""How long a one-off remark (file re-read) stays in the status line."""
FOLLOW_INTERVAL = 0.05
"""While following, appends closer together than this are shown in one repaint (at most ~20
a second); the first append after a quiet spell is shown at once."""
LINE_CACHE_MAX = 2_000
"""Painted lines kept (several screenfuls); the cache is emptied when it grows past this."""


class LogLines(Widget, can_focus=True):
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
        self._wrapped: tuple[Any, list[Text]] | None = None
        self._notice_timer: Any = None
        self._line_cache: dict[tuple[Any, ...], Strip] = {}
        """Painted lines by everything that shapes them: following scrolls the view, so every
        line is new to the screen on each append, but only the appended ones are new text."""
        self._wrap_cache: dict[tuple[Any, ...], Any] = {}
        self._last_tail_read = 0.0
        self._follow_timer: Any = None

    # -- opening and refreshing ---------------------------------------------------------

    def open(self, path: Path | None, missing: str | None = None) -> None:
        """Show the file at ``path`` from its tail (``missing`` explains a None path)."""
        self._close()
        self._line_cache.clear()
        self._wrap_cache.clear()
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
        return True

    @property
    def body_height(self) -> int:
        """How many lines fit."""
        return max(1, self.size.height)

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
            return
        if change.kind is ChangeKind.VANISHED:
            # Keep showing what was read; say what happened where the lines are.
            self.problem = f"{change.problem or 'log file vanished'}: {self.path}"
        elif change.reset:
            self.problem = None
            self.set_notice(f"file was {change.kind.value}: re-read")
            self.new_lines = 0
            if self.follow:
                self._read_tail()
            else:
                self._read_from(0)
        else:  # APPENDED
            self.problem = None
            self.notice = None  # a re-read remark is stale once new lines arrive
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
        self._changed()

    def _follow_flush(self) -> None:
        """Show the tail held back by the follow repaint cap."""
        self._follow_timer = None
        if self.follow and self._log is not None:
            self._read_tail()
            self._changed()

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

    def scroll_by_lines(self, n: int) -> None:
        """Scroll ``n`` lines (negative: up). Up pauses following; reaching the end resumes it."""
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
                self.follow = False  # up always pauses, even with the first line on screen
            else:
                after = self._log.lines_after(self.window[-1].end, n)
                if after:
                    self.window = (self.window + after)[-h:]
                if len(after) < n and self.window[-1].end >= self._log.size:
                    self.follow = True
        except OSError as e:
            self.problem = _describe(self.path, e)
        self._changed()

    def jump_to(self, offset: int, context: int = 3) -> None:
        """Show the line starting at ``offset`` near the top (follow off)."""
        if self._log is None:
            return
        self.follow = False
        try:
            before = self._log.lines_before(offset, context)
            self.window = (before + self._log.lines_after(offset, self.body_height))[
                : self.body_height
            ]
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

    def action_toggle_wrap(self) -> None:
        """Wrap long lines on/off."""
        self.wrap = not self.wrap
        self.x_offset = 0
        self._changed()

    def action_scroll_side(self, direction: int) -> None:
        """Scroll sideways by :data:`SIDE_STEP` columns (not while wrapping)."""
        if self.wrap:
            return
        widest = max((len(line.text) for line in self.window), default=0)
        limit = max(0, widest - self.size.width + SIDE_STEP)
        self.x_offset = min(limit, max(0, self.x_offset + direction * SIDE_STEP))
        self._changed()

    def reveal(self, column: int, length: int) -> None:
        """Scroll sideways so columns ``column .. column+length`` are on screen (no wrap)."""
        if self.wrap or column < 0:
            return
        width = self.size.width
        if column < self.x_offset or column + length > self.x_offset + width - 1:
            self.x_offset = max(0, column - width // 3)
            self._changed()

    def action_side_home(self) -> None:
        """Back to the first column."""
        self.x_offset = 0
        self._changed()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.scroll_by_lines(-3)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.scroll_by_lines(3)

    # -- drawing ------------------------------------------------------------------------

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return container.height

    def _rows(self, width: int) -> list[Text]:
        """The window's lines wrapped to ``width``: the last screenful while following (the
        tail), else the first (the top line stays put)."""
        key = (
            tuple((ln.offset, ln.end) for ln in self.window),
            width,
            self.highlight,
            self.current_match,
            self.follow,
        )
        if self._wrapped is not None and self._wrapped[0] == key:
            return self._wrapped[1]
        rows: list[Text] = []
        for ln in self.window:
            # Each line's wrapped rows are cached too: following re-wraps only the new lines.
            line_key = (
                "wrap",
                ln.offset,
                ln.text,
                width,
                self.highlight,
                ln.offset == self.current_match,
            )
            wrapped = self._wrap_cache.get(line_key)
            if wrapped is None:
                if len(self._wrap_cache) >= LINE_CACHE_MAX:
                    self._wrap_cache.clear()
                styled = self._styled(ln.text, ln.offset)
                wrapped = styled.wrap(self.app.console, width, overflow="fold") or [Text("")]
                self._wrap_cache[line_key] = wrapped
            rows.extend(wrapped)
        h = self.body_height
        rows = rows[-h:] if self.follow else rows[:h]
        self._wrapped = (key, rows)
        return rows

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        line = self.window[y] if not self.wrap and y < len(self.window) else None
        if line is None:
            return self._render_row(y, width)
        key = (
            line.offset,
            line.text,  # a file rewritten in place may hold other text at the same offsets
            width,
            self.x_offset,
            self.highlight,
            line.offset == self.current_match,
            self.rich_style,
        )
        strip = self._line_cache.get(key)
        if strip is None:
            if len(self._line_cache) >= LINE_CACHE_MAX:
                self._line_cache.clear()
            strip = self._line_cache[key] = self._render_row(y, width)
        return strip

    def _render_row(self, y: int, width: int) -> Strip:
        if y == 0 and not self.window and self.problem:
            text = Text(self.problem, style="bold red")
        elif self.wrap:
            rows = self._rows(width)
            if y >= len(rows):
                return Strip.blank(width, self.rich_style)
            text = rows[y]
        elif y >= len(self.window):
            return Strip.blank(width, self.rich_style)
        else:
            line = self.window[y]
            plain = self._plain_strip(line.text, width)
            if plain is not None:
                return plain
            text = self._styled(line.text, line.offset)
            if self.x_offset:
                text = text[self.x_offset :]
                if text.plain:
                    text = Text("…", style="dim") + text[1:]
        text.truncate(width, overflow="ellipsis")
        segments = list(text.render(self.app.console))
        return Strip(segments).crop_extend(0, width, self.rich_style).apply_style(self.rich_style)

    def _plain_strip(self, line: str, width: int) -> Strip | None:
        """The common line, drawn without Rich: printable ASCII, no error/warning/search
        styling, not scrolled sideways. While following fast every line on screen is new at
        each repaint, so this is most of the drawing (None: take the general path)."""
        if (
            self.x_offset
            or self.highlight
            or not line.isascii()
            or not line.isprintable()
            or ERROR_RE.search(line)
            or WARNING_RE.search(line)
        ):
            return None
        if len(line) > width:
            line = line[: width - 1] + "…"  # as Text.truncate(overflow="ellipsis") cuts
        return Strip([Segment(line.ljust(width), self.rich_style)], width)

    def _styled(self, line: str, offset: int | None = None) -> Text:
        text = Text(line.replace("\t", "    "))
        if ERROR_RE.search(line):
            text.stylize(ERROR_STYLE)
        elif WARNING_RE.search(line):
            text.stylize(WARNING_STYLE)
        if self.highlight:
            style = CURRENT_MATCH_STYLE if offset == self.current_match else MATCH_STYLE
            text.highlight_words([self.highlight], style, case_sensitive=False)
        return text


def _describe(path: Path | None, error: OSError) -> str:
    if isinstance(error, FileNotFoundError):
        return f"log file vanished: {path}"
    if isinstance(error, PermissionError):
        return f"cannot read {path}: permission denied"
    return f"cannot read {path}: {error.strerror or error}"
