"""A log pane: a status line, the lines themselves (:class:`LogLines`), a search bar and a
"go to" bar."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.message import Message
from textual.widgets import Input, Static

from ._log_goto import HINT, parse_goto
from ._log_matches import MatchCounting
from ._log_status import fit, middle_ellipsis, status_parts
from .log_lines import LogLines


class LogView(MatchCounting):
    """Shows one log file, following its tail; ``/`` searches, ``n``/``N`` repeat, ``:`` goes
    to a line.

    The owner calls :meth:`open` with a path and :meth:`files_changed` with the files the
    watcher reported; the pane re-reads only when its own file is among them.
    """

    DEFAULT_CSS = """
    LogView { height: 1fr; border: round $panel; }
    LogView:focus-within { border: round $accent; }
    LogView > #log-status {
        height: auto; max-height: 3; padding: 0 1; background: $boost;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    LogView > #log-search { display: none; height: 3; border: tall $accent; }
    LogView > #log-search.-shown { display: block; }
    LogView > #log-goto { display: none; height: 3; border: tall $accent; }
    LogView > #log-goto.-shown { display: block; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "Search", key_display="/", tooltip="Search the log"),
        Binding("n", "search_next", "Next match", show=False, tooltip="Next search match"),
        Binding("N", "search_prev", "Prev match", show=False, tooltip="Previous search match"),
        Binding(
            "colon,ctrl+g",
            "goto",
            "Go to",
            key_display=":",
            tooltip="Go to a line (also ctrl+g): N, +N/-N, N%, $; esc stops a long count",
        ),
    ]

    class SearchDone(Message):
        """A search worker finished: the matching ``line`` or None."""

        def __init__(self, line: Any, text: str, error: str | None = None) -> None:
            super().__init__()
            self.line = line
            self.text = text
            self.error = error

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.title = ""
        self.search_text = ""
        """The last search."""
        self.search_status = ""
        self.match: tuple[int, int] | None = None
        """(offset, end) of the last search match."""
        self._watched: Path | None = None
        self._place: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="log-status")
        yield LogLines(id="log-lines")
        yield Input(placeholder="search (enter: find, esc: close)", id="log-search")
        yield Input(placeholder=f"go to: {HINT} (esc: close)", id="log-goto")

    @property
    def lines(self) -> LogLines:
        """The lines widget."""
        return self.query_one(LogLines)

    @property
    def path(self) -> Path | None:
        """The file shown."""
        return self.lines.path

    def focus(self, scroll_visible: bool = True) -> LogView:
        self.lines.focus(scroll_visible)
        return self

    def open(self, path: Path | None, *, title: str, missing: str | None = None) -> None:
        """Show ``path`` (None: show ``missing`` instead)."""
        self.title = title
        self.border_title = title
        tango = self.app
        if self._watched is not None and hasattr(tango, "unwatch_file"):
            tango.unwatch_file(self._watched)
        self._watched = path
        if path is not None and hasattr(tango, "watch_file"):
            tango.watch_file(path)
        self.search_status = ""
        self.match = None
        self._reset_matches()
        self.lines.current_match = None
        self.lines.open(path, missing=missing)

    def on_mount(self) -> None:
        # A light reconcile of the log itself (one stat): an event lost while the watch on
        # the file was being set up, or a write inotify cannot see, shows within a second.
        self.set_interval(1.0, self._reconcile)

    def _mounted_lines(self) -> LogLines | None:
        """The lines widget, or None while the view is being built or taken down (a watcher
        batch or the reconcile timer can arrive then)."""
        try:
            return self.query_one(LogLines)
        except NoMatches:
            return None

    def _reconcile(self) -> None:
        lines = self._mounted_lines()
        if lines is not None and self.screen.is_current and lines.path is not None:
            lines.reload()

    def on_unmount(self) -> None:
        if self._watched is not None and hasattr(self.app, "unwatch_file"):
            self.app.unwatch_file(self._watched)

    def files_changed(self, files: set[Path], *, rescan: bool = False) -> None:
        """Re-read if the shown file is among ``files`` (or on a rescan)."""
        lines = self._mounted_lines()
        path = lines.path if lines is not None else None
        if (
            lines is not None
            and path is not None
            and (rescan or not files or Path(os.path.abspath(path)) in files)
        ):
            lines.reload()

    @on(LogLines.StatusChanged)
    def _status_changed(self, event: LogLines.StatusChanged) -> None:
        event.stop()
        self._show_status()

    def _show_status(self) -> None:
        lines = self.lines
        log = lines.logfile
        # The pane's width less the status line's padding; 0 before the first layout.
        width = max(0, self.size.width - 2)
        size = _size(log.size) if log is not None and log.size else None
        text = fit(status_parts(lines, size=size), width)
        # Problems name a path and searches a position: each gets its own line, so neither
        # is lost; a path too long for the pane keeps its file name.
        if self.search_status:
            text.append(f"\n{self.search_status}", style="cyan")
        if lines.problem:
            text.append(f"\n{middle_ellipsis(lines.problem, width)}", style="bold red")
        elif lines.notice:
            text.append(f"\n{lines.notice}", style="yellow")
        self.query_one("#log-status", Static).update(text)

    def on_resize(self) -> None:
        self._show_status()  # fitted to the width

    # -- search ---------------------------------------------------------------------------

    def action_search(self) -> None:
        """Open the search bar."""
        bar = self.query_one("#log-search", Input)
        bar.add_class("-shown")
        bar.value = self.search_text
        bar.focus()

    @on(Input.Submitted, "#log-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        event.input.remove_class("-shown")
        self.lines.focus()
        self.search_text = event.value
        self.match = None
        self._reset_matches()
        self.lines.current_match = None
        self.lines.highlight = event.value or None
        if event.value:
            self._start_search(forward=True)
        self.lines.refresh()

    def on_key(self, event: Any) -> None:
        if event.key != "escape":
            return
        for bar in self.query(Input):
            if bar.has_focus:
                event.stop()
                bar.remove_class("-shown")
                self.lines.focus()
                return
        # Escape stops a long job (line count, go to line, match count) before it goes back.
        stopped = self.lines.cancel_jobs()
        stopped = self.stop_match_count() or stopped
        if stopped:
            event.stop()
            self._show_status()

    # -- go to ----------------------------------------------------------------------------

    def action_goto(self) -> None:
        """Open the go-to bar."""
        bar = self.query_one("#log-goto", Input)
        bar.add_class("-shown")
        bar.value = ""
        bar.focus()

    @on(Input.Submitted, "#log-goto")
    def _goto_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        event.input.remove_class("-shown")
        lines = self.lines
        lines.focus()
        if not event.value.strip():
            return
        try:
            place = parse_goto(event.value)
        except ValueError as e:
            lines.set_notice(str(e))
            self._show_status()
            return
        if place.kind == "end":
            lines.action_bottom()
        elif place.kind == "line":
            lines.go_to_line(int(place.value))
        elif place.kind == "relative":
            lines.go_by(int(place.value))
        else:
            lines.go_to_fraction(place.value)
        self._show_status()

    def action_search_next(self) -> None:
        """Find the next match: after the current one if it is on screen, else from the top
        line of the view on."""
        self._start_search(forward=True)

    def action_search_prev(self) -> None:
        """Find the previous match: before the current one if it is on screen, else above the
        top line of the view."""
        self._start_search(forward=False)

    def _start_search(self, forward: bool) -> None:
        lines = self.lines
        if not self.search_text or lines.path is None:
            return
        match = self.match
        window = lines.window
        if match is not None and any(line.offset == match[0] for line in window):
            # The match is on screen: continue from it, the line after it or those before it.
            start = match[1] if forward else match[0]
        elif window:
            # The view moved away from the match (or there is none yet): go on from where the
            # user is looking, like less and vim: the first match from the top line on, or
            # the last one above it.
            start = window[0].offset
        else:
            start = 0
        self.search_status = f"searching {self.search_text!r}…"
        self._show_status()
        self._search(lines.logfile, self.search_text, start, forward)

    @work(thread=True, exclusive=True, exit_on_error=False, group="log-search")
    def _search(self, log: Any, text: str, start: int, forward: bool) -> None:
        """Search in a thread (``LogFile`` reads with ``pread``, so it is safe beside the UI)."""
        if log is None:
            return
        try:
            line = log.search(text, start, backwards=not forward)
            if line is None:  # wrap around once, like less
                line = log.search(text, 0 if forward else log.size, backwards=not forward)
        except (OSError, RuntimeError) as e:
            self.post_message(self.SearchDone(None, text, error=f"cannot search {log.path}: {e}"))
            return
        self.post_message(self.SearchDone(line, text))

    def show_first(self, text: str) -> None:
        """Open the pane (follow off) at the first line containing ``text``, if there is one:
        for a Tango 1.x step, its first line in the run's ``out.log``."""
        log = self.lines.logfile
        if log is None or not text:
            return
        self._place = text
        self._search(log, text, 0, True)

    def on_log_view_search_done(self, message: LogView.SearchDone) -> None:
        if self._place is not None and message.text == self._place:
            self._place = None
            if message.line is not None:
                self.lines.jump_to(message.line.offset, context=0)
            return
        if message.error:
            self.search_status = message.error
        elif message.line is None:
            self.search_status = f"{message.text!r}: not found"
        else:
            self.match = (message.line.offset, message.line.end)
            self.lines.current_match = message.line.offset
            self._count_after_match(message.text)
            self._describe_match()
            self.lines.jump_to(message.line.offset)
            self.lines.reveal(
                message.line.text.lower().find(message.text.lower()), len(message.text)
            )
        self._show_status()


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"
