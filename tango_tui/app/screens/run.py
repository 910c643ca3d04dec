"""One run: its steps in a table, the dependency tree beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Header, Static

from .. import format as fmt
from ..messages import Changes, RunDetailLoaded
from ..widgets.dep_tree import DepTree
from ..widgets.steps_table import StepsTable
from .base import LiveScreen

TREE_MIN_WIDTH = 120
"""The dependency tree is shown by default only on terminals at least this wide."""


class RunScreen(LiveScreen):
    """The steps of run ``name`` (targets and dependencies) with states, timings and reasons."""

    AUTO_FOCUS = "#steps-table"
    LOAD_GROUP = "run"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", tooltip="Back to the runs"),
        Binding("enter", "open_step", "Open step", tooltip="Open the step under the cursor"),
        Binding("n", "next_failed", "Next failed", tooltip="Jump to the next failed step"),
        Binding(
            "N",
            "prev_failed",
            "Prev failed",
            show=False,
            tooltip="Jump to the previous failed step",
        ),
        Binding("l", "run_log", "Run log", tooltip="Show the run's out.log"),
        Binding("t", "toggle_tree", "Tree", tooltip="Show/hide the dependency tree"),
        Binding(
            "tab",
            "app.focus_next",
            "Table/tree",
            show=False,
            tooltip="Move focus between the table and the tree",
        ),
    ]

    def __init__(self, name: str) -> None:
        super().__init__()
        self.run_name = name
        """The run shown."""
        self.detail: Any = None
        """The latest RunDetail, once loaded."""
        self.error: str | None = None
        """Why the run cannot be read right now, if it cannot."""
        self.loads = 0
        """How many run details have been applied (tests wait on it)."""
        self._tree_user_set = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"Run {self.run_name}: loading…", id="run-summary", classes="summary")
        yield Static("", id="run-notice", classes="notice")
        with Horizontal(id="run-body"):
            yield StepsTable(id="steps-table")
            yield DepTree(self.run_name, id="dep-tree")
        yield Footer()

    @property
    def table(self) -> StepsTable:
        """The steps table."""
        return self.query_one(StepsTable)

    def on_mount(self) -> None:
        self.sub_title = self.run_name
        self.query_one("#run-notice").display = False
        self._fit_tree(self.app.size.width)
        self.table.focus()
        self.load()
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        if self.is_current and self.detail is not None:
            self.table.tick()
            self._show_summary()

    def apply_changes(self, changes: Changes) -> None:
        uids = set(self.table.steps)
        if (
            changes.rescan
            or changes.all_steps
            or self.run_name in changes.runs
            or uids & changes.steps
        ):
            self.load()

    def _start_load(self) -> None:
        self._read_run()

    @work(thread=True, exclusive=True, exit_on_error=False, group="run")
    def _read_run(self) -> None:
        """Read the run's detail in a thread; post :class:`RunDetailLoaded`."""
        try:
            detail = self.source.run_detail(self.run_name)
        except KeyError:
            where = self.tango.root / "runs" / self.run_name
            error = f"the run is gone ({where} no longer exists)"
            self.post_message(RunDetailLoaded(self.run_name, error=error))
            return
        except Exception as e:  # noqa: BLE001 (shown in place; the app keeps running)
            self.post_message(RunDetailLoaded(self.run_name, error=str(e)))
            return
        self.post_message(RunDetailLoaded(self.run_name, data=detail))

    def on_run_detail_loaded(self, message: RunDetailLoaded) -> None:
        # Done once the result is on screen, so the next read waits for the paint too.
        self.call_after_refresh(self.load_done)
        notice = self.query_one("#run-notice", Static)
        if message.error:
            # Keep the last good view and say what is wrong above it.
            self.error = message.error
            notice.update(f"cannot read run {self.run_name!r}: {message.error}")
            notice.display = True
            if self.detail is None:
                self.query_one("#run-summary", Static).update(f"Run {self.run_name}")
            return
        first = self.detail is None
        self.loads += 1
        self.error = None
        notice.display = bool(message.data.run.problem)
        notice.update(message.data.run.problem or "")
        self.detail = message.data
        # The monitor hands the steps in the run record's (hash) order: sort them for reading.
        steps = fmt.readable_order(message.data.steps)
        self.table.set_steps(steps)
        self.query_one(DepTree).set_steps(steps)
        self._show_summary()
        if first:
            # The watcher watches a limited number of step directories: running ones first.
            order = sorted(steps, key=lambda s: str(s.state) != "running")
            self.tango.watch_steps(s.unique_id for s in order)

    def _show_summary(self) -> None:
        run = self.detail.run
        running = str(run.status) == "running"
        text = Text()
        text.append_text(fmt.state_text(run.status))
        text.append(f"  {run.name}", style="bold")
        text.append(f"  started {fmt.fmt_datetime(run.start_date)}")
        dur = fmt.duration_text(run.start_date, run.end_date, running)
        if dur:
            text.append(f"  {'for' if running else 'took'} {dur}")
        text.append(f"  {run.n_steps} steps  ")
        text.append_text(fmt.counts_text(run.counts))
        self.query_one("#run-summary", Static).update(text)

    def action_open_step(self) -> None:
        """Open the step under the cursor."""
        uid = self.table.selected_uid
        if uid is not None:
            self.open_step(uid)

    def open_step(self, uid: str) -> None:
        """Push the step screen for ``uid``."""
        from .step import StepScreen

        self.app.push_screen(StepScreen(uid, run_name=self.run_name, detail=self.detail))

    @on(DataTable.RowSelected, "#steps-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_step()

    @on(DepTree.StepChosen)
    def _tree_chosen(self, event: DepTree.StepChosen) -> None:
        self.table.select_uid(event.uid)
        if event.open:
            self.open_step(event.uid)

    def action_next_failed(self) -> None:
        """Move the cursor to the next failed or crashed step."""
        self._jump(True)

    def action_prev_failed(self) -> None:
        """Move the cursor to the previous failed or crashed step."""
        self._jump(False)

    def _jump(self, forward: bool) -> None:
        uid = self.table.next_bad(forward)
        if uid is None:
            self.notify("no failed step in this run", timeout=2)
        else:
            self.table.select_uid(uid)
            self.table.focus()

    def _fit_tree(self, width: int) -> None:
        # Below TREE_MIN_WIDTH the table needs the whole screen; once the user pressed t,
        # their choice stands.
        if not self._tree_user_set:
            self.query_one(DepTree).display = width >= TREE_MIN_WIDTH

    def on_resize(self, event: events.Resize) -> None:
        self._fit_tree(event.size.width)

    def action_toggle_tree(self) -> None:
        """Show or hide the dependency tree."""
        tree = self.query_one(DepTree)
        tree.display = not tree.display
        self._tree_user_set = True

    def action_run_log(self) -> None:
        """Open the run's own log."""
        from .log import LogScreen

        path = self.detail.run.log_path if self.detail is not None else None
        if path is None:
            self.notify("this run has no log file", severity="warning")
            return
        path = Path(path)
        self.app.push_screen(LogScreen(path, title=f"run {self.run_name}: {path.name}"))
