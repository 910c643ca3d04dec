"""Drawing the log pane's lines: styling, wrapping, sideways scroll, the line-number gutter.

:class:`LogDrawing` is a base of :class:`~tango_tui.app.widgets.log_lines.LogLines`, which
owns the state drawn here (the window of lines, wrap, search highlight...). Painted lines and
wrapped rows are cached by everything that shapes them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

from tango_tui.monitor.logfile import Line, LogFile

ERROR_RE = re.compile(r"\b(ERROR|CRITICAL|FATAL|Traceback|[A-Z][A-Za-z]*(Error|Exception))\b|✘")
WARNING_RE = re.compile(r"\b(WARNING|WARN|Warning)\b")
ERROR_STYLE = Style(color="red", bold=True)
WARNING_STYLE = Style(color="yellow")
MATCH_STYLE = Style(underline=True, bold=True, color="bright_yellow")
CURRENT_MATCH_STYLE = Style(color="black", bgcolor="bright_yellow", bold=True)
"""The match the search is on stands out from the other matches on screen."""
GUTTER_STYLE = Style(dim=True)
UNKNOWN_NUMBER = "?"
"""Shown in the gutter for a line the background count has not reached yet."""
SIDE_STEP = 8
"""Columns moved by one left/right press."""
LINE_CACHE_MAX = 2_000
"""Painted lines kept (several screenfuls); the cache is emptied when it grows past this."""


class LogDrawing(Widget):
    """The drawing half of the log lines widget (state lives in the subclass)."""

    window: list[Line]
    wrap: bool
    x_offset: int
    highlight: str | None
    current_match: int | None
    follow: bool
    problem: str | None
    show_numbers: bool
    _log: LogFile | None

    if TYPE_CHECKING:  # provided by LogLines

        def _changed(self) -> None: ...

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._wrapped: tuple[Any, list[Text]] | None = None
        self._line_cache: dict[tuple[Any, ...], Strip] = {}
        """Painted lines by everything that shapes them: following scrolls the view, so every
        line is new to the screen on each append, but only the appended ones are new text."""
        self._wrap_cache: dict[tuple[Any, ...], Any] = {}
        self._number_at: tuple[int, int, int] | None = None
        """(offset, file generation, its 1-based line number) of the last top line numbered."""
        self._spec: tuple[Any, tuple[int, int | None]] | None = None

    @property
    def body_height(self) -> int:
        """How many lines fit."""
        return max(1, self.size.height)

    def clear_caches(self) -> None:
        """Forget painted lines (another file is shown)."""
        self._line_cache.clear()
        self._wrap_cache.clear()
        self._wrapped = None
        self._number_at = self._spec = None

    # -- line numbers ---------------------------------------------------------------------

    def first_number(self) -> int | None:
        """The 1-based number of the top line, once the background count has got that far."""
        log = self._log
        if log is None or not self.window:
            return None
        offset, generation = self.window[0].offset, log.generation
        known = self._number_at
        if known is not None and known[:2] == (offset, generation):
            return known[2]
        total = log.line_count
        if total is not None and self.window[-1].end >= log.size:
            number: int | None = total - len(self.window) + 1  # the tail: no reading
        else:
            number = log.line_number_of(offset)  # reads at most a checkpoint's stride of lines
        if number is not None:
            self._number_at = (offset, generation, number)
        return number

    def _gutter_spec(self) -> tuple[int, int | None]:
        """(gutter width, number of the top line), worked out once per window and count step:
        ``render_line`` asks for every row."""
        log = self._log
        if not self.show_numbers or log is None:
            return 0, None
        top = self.window[0].offset if self.window else -1
        key = (top, len(self.window), log.generation, log.size, log.scan_progress)
        if self._spec is not None and self._spec[0] == key:
            return self._spec[1]
        first = self.first_number()
        biggest = max(999, log.approx_line_count, (first or 0) + len(self.window))
        spec = (len(str(biggest)) + 1, first)
        self._spec = (key, spec)
        return spec

    def gutter_width(self) -> int:
        """Columns of the line-number gutter (0 when it is off): digits and one space."""
        return self._gutter_spec()[0]

    def _gutter(self, index: int) -> str:
        """Gutter text of the ``index``-th line of the window ("" when the gutter is off)."""
        width, first = self._gutter_spec()
        if not width:
            return ""
        label = UNKNOWN_NUMBER if first is None else str(first + index)
        return label.rjust(width - 1) + " "

    @property
    def text_width(self) -> int:
        """Columns left for the text once the gutter is drawn."""
        return max(1, self.size.width - self.gutter_width())

    # -- wrapping and sideways scroll ----------------------------------------------------

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
        limit = max(0, widest - self.text_width + SIDE_STEP)
        self.x_offset = min(limit, max(0, self.x_offset + direction * SIDE_STEP))
        self._changed()

    def reveal(self, column: int, length: int) -> None:
        """Scroll sideways so columns ``column .. column+length`` are on screen (no wrap)."""
        if self.wrap or column < 0:
            return
        width = self.text_width
        if column < self.x_offset or column + length > self.x_offset + width - 1:
            self.x_offset = max(0, column - width // 3)
            self._changed()

    def action_side_home(self) -> None:
        """Back to the first column."""
        self.x_offset = 0
        self._changed()

    # -- drawing --------------------------------------------------------------------------

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return container.height

    def _rows(self, width: int) -> list[Text]:
        """The window's lines wrapped to ``width`` (gutter included): the last screenful while
        following (the tail), else the first (the top line stays put)."""
        gutter = self.gutter_width()
        labels = [self._gutter(i) for i in range(len(self.window))]
        key = (
            tuple((ln.offset, ln.end) for ln in self.window),
            width,
            self.highlight,
            self.current_match,
            self.follow,
            tuple(labels),
        )
        if self._wrapped is not None and self._wrapped[0] == key:
            return self._wrapped[1]
        rows: list[Text] = []
        inner = max(1, width - gutter)
        for ln, label in zip(self.window, labels, strict=True):
            # Each line's wrapped rows are cached too: following re-wraps only the new lines.
            line_key = (
                "wrap",
                ln.offset,
                ln.text,
                inner,
                self.highlight,
                ln.offset == self.current_match,
                label,
            )
            wrapped = self._wrap_cache.get(line_key)
            if wrapped is None:
                if len(self._wrap_cache) >= LINE_CACHE_MAX:
                    self._wrap_cache.clear()
                styled = self._styled(ln.text, ln.offset)
                wrapped = styled.wrap(self.app.console, inner, overflow="fold") or [Text("")]
                if label:
                    blank = " " * len(label)
                    wrapped = [
                        Text(label if i == 0 else blank, style=GUTTER_STYLE) + row
                        for i, row in enumerate(wrapped)
                    ]
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
            self._gutter(y),
        )
        strip = self._line_cache.get(key)
        if strip is None:
            if len(self._line_cache) >= LINE_CACHE_MAX:
                self._line_cache.clear()
            strip = self._line_cache[key] = self._render_row(y, width)
        return strip

    def _render_row(self, y: int, width: int) -> Strip:
        label = ""
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
            label = self._gutter(y)
            plain = self._plain_strip(line.text, width, label)
            if plain is not None:
                return plain
            text = self._styled(line.text, line.offset)
            if self.x_offset:
                text = text[self.x_offset :]
                if text.plain:
                    text = Text("…", style="dim") + text[1:]
            if label:
                text = Text(label, style=GUTTER_STYLE) + text
        text.truncate(width, overflow="ellipsis")
        segments = list(text.render(self.app.console))
        return Strip(segments).crop_extend(0, width, self.rich_style).apply_style(self.rich_style)

    def _plain_strip(self, line: str, width: int, label: str = "") -> Strip | None:
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
        room = width - len(label)
        if room < 2:
            return None
        if len(line) > room:
            line = line[: room - 1] + "…"  # as Text.truncate(overflow="ellipsis") cuts
        if not label:
            return Strip([Segment(line.ljust(width), self.rich_style)], width)
        gutter = Segment(label, self.rich_style + GUTTER_STYLE)
        return Strip([gutter, Segment(line.ljust(room), self.rich_style)], width)

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
