"""The first screen: every run of the workspace."""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Header, Static

from ..messages import Changes, RunsLoaded
from ..widgets.filter_bar import FilterBar
from ..widgets.runs_table import RunsTable
from .base import LiveScreen

LIVENESS_TICKS = 2
"""Every this many one-second ticks, the rows of running runs are read again."""

PREVIEW_ROWS = 150
"""How many of the newest runs the first read of a big workspace shows before the rest."""

PREVIEW_MIN_RUNS = 1000
"""From this many entries in ``runs/``, the newest runs are shown before every run is read."""

NEWEST = "newest"
"""``RunsLoaded.key`` of the early first screen (the other lists have ``None``)."""


class RunsScreen(LiveScreen):
    """All runs, newest first; enter opens one."""

    AUTO_FOCUS = "#runs-table"
    LOAD_GROUP = "runs"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_run", "Open", tooltip="Open the run under the cursor"),
        Binding("slash", "filter", "Filter", key_display="/", tooltip="Filter runs by name/status"),
        Binding("r", "reload", "Reload", tooltip="Read the workspace again"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.loaded = False
        """Whether the first list of runs has arrived (tests wait on it)."""
        self._dirty: set[str] | None = None  # runs to look at again; None: all of them
        self.loads = 0
        """How many lists of runs have been applied (tests wait on it)."""
        self._ticks = 0
        self.shown_early = 0
        """How many of the newest runs were shown before the first full list (0: none were)."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield FilterBar(placeholder="filter runs (name or status); enter keeps, esc clears")
        yield Static("", id="runs-notice", classes="notice")
        yield RunsTable(id="runs-table")
        yield Footer()

    @property
    def table(self) -> RunsTable:
        """The runs table."""
        return self.query_one(RunsTable)

    def on_mount(self) -> None:
        # Hidden until there is something to say, so the table does not jump up a line
        # under the user's pointer when the first list arrives.
        self.query_one("#runs-notice").display = False
        self.table.focus()
        self.load()
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        if not self.is_current:
            return
        self.table.tick()
        self._ticks += 1
        running = self.table.running_names
        if running and self._ticks % LIVENESS_TICKS == 0:
            # A process that dies changes nothing on disk, so no event says so: look at the
            # runs shown as running again (the source re-checks their owners' liveness).
            self.apply_changes(Changes(runs=running))

    def apply_changes(self, changes: Changes) -> None:
        if changes.rescan or changes.all_steps:
            self._dirty = None
        elif changes.runs:
            if self._dirty is not None:
                self._dirty |= changes.runs
        else:
            return
        self.load()

    def _start_load(self) -> None:
        names, self._dirty = self._dirty, set()
        self._read_runs(names)

    @work(thread=True, exclusive=True, exit_on_error=False, group="runs")
    def _read_runs(self, names: set[str] | None) -> None:
        """Read the runs (only ``names`` again, or all) in a thread; post :class:`RunsLoaded`."""
        if names is None and not self.loaded:
            self._read_newest()
        try:
            refresh = getattr(self.source, "refresh_runs", None)
            rows = self.source.list_runs() if refresh is None else refresh(names)
        except Exception as e:  # noqa: BLE001 (shown in place; the app keeps running)
            self.post_message(RunsLoaded(None, error=f"cannot list runs: {e}"))
            return
        problems = [f"{p.path}: {p.problem}" for p in getattr(self.source, "problems", [])]
        # Which rows may differ from the last list: only the runs looked at again.
        changed = None if refresh is None or names is None else set(names)
        self.post_message(RunsLoaded(None, data=(rows, problems, changed)))

    def _read_newest(self) -> None:
        """A first read of 10,000 runs takes about a second: post the newest ones (which the
        full list begins with) as soon as they are read; the caller then reads the rest."""
        newest = getattr(self.source, "newest_runs", None)
        try:
            early = None if newest is None else newest(PREVIEW_ROWS, PREVIEW_MIN_RUNS)
        except Exception:  # noqa: BLE001 (the full read that follows reports the problem)
            return
        if early:
            self.post_message(RunsLoaded(NEWEST, data=(early, [], None)))

    def on_runs_loaded(self, message: RunsLoaded) -> None:
        if message.key == NEWEST:
            if not self.loaded:  # the first screenful; the full list follows from the same read
                self.table.set_rows(message.data[0])
                self.shown_early = len(message.data[0])
            return
        # Done once the result is on screen, so the next read waits for the paint too.
        self.call_after_refresh(self.load_done)
        notice = self.query_one("#runs-notice", Static)
        if message.error:
            notice.update(message.error)
            notice.display = True
            return
        rows, problems, changed = message.data
        self.loads += 1
        self.table.set_rows(rows, changed if self.loaded else None)
        self.loaded = True
        if problems:
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            notice.update(f"skipped: {problems[0]}{more}")
        elif not rows:
            notice.update(f"No runs yet in {self.tango.root}: waiting for one to start…")
        notice.display = bool(problems or not rows)

    def action_open_run(self) -> None:
        """Open the run under the cursor."""
        name = self.table.selected_run
        if name is not None:
            from .run import RunScreen

            self.app.push_screen(RunScreen(name))

    @on(RunsTable.RowSelected, "#runs-table")
    def _row_selected(self, event: RunsTable.RowSelected) -> None:
        event.stop()
        self.action_open_run()

    @on(RunsTable.HeaderSelected, "#runs-table")
    def _header_selected(self, event: RunsTable.HeaderSelected) -> None:
        event.stop()
        self.table.sort_by(event.column_key)

    def action_filter(self) -> None:
        """Open the filter bar."""
        self.query_one(FilterBar).open()

    def action_reload(self) -> None:
        """Reload the list of runs."""
        self._dirty = None
        self.load()

    @on(FilterBar.Updated)
    def _filter_changed(self, event: FilterBar.Updated) -> None:
        self.table.set_filter(event.text)
        if event.done:
            self.table.focus()
