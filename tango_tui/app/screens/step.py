"""One step: its full record on the left, its log (or the run's log) following on the right."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, Header, OptionList
from textual.widgets.option_list import Option

from ...core import StepInfo
from ..messages import Changes, StepInfoLoaded
from ..widgets.log_view import LogView
from ..widgets.step_details import StepDetails
from .base import LiveScreen

WRAP_BELOW = 120
"""On terminals narrower than this the step's log pane wraps long lines from the start."""


class DepsList(OptionList):
    """The step's dependencies; enter opens one. Focusing it puts the cursor on the first."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select", "Open", tooltip="Open the dependency under the cursor"),
    ]

    def on_focus(self) -> None:
        if self.highlighted is None and self.option_count:
            first = next(
                (i for i in range(self.option_count) if not self.get_option_at_index(i).disabled),
                None,
            )
            if first is not None:
                self.highlighted = first


class StepScreen(LiveScreen):
    """Every StepInfo field of step ``uid``, its dependencies, and a live log pane.

    Args:
        uid: The step's unique id.
        run_name: The run it was opened from (for the run log and dependency names).
        detail: That run's RunDetail, if known (names, this run's log path of the step).
    """

    AUTO_FOCUS = "LogLines"
    LOAD_GROUP = "step"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", tooltip="Back to the run"),
        Binding(
            "o", "switch_log", "Step/run log", tooltip="Switch the log pane: step log / run log"
        ),
        Binding(
            "tab",
            "app.focus_next",
            "Next pane",
            show=False,
            tooltip="Move focus: dependencies, details, log",
        ),
    ]

    def __init__(self, uid: str, *, run_name: str | None = None, detail: Any = None) -> None:
        super().__init__()
        self.uid = uid
        """The step shown."""
        self.run_name = run_name
        self.detail = detail
        self.info: StepInfo | None = None
        """The latest StepInfo, once loaded."""
        self._progress: Any = None
        self._run_lines: list[str] | None = None
        self.showing_run_log = False
        """Whether the log pane shows the run's log instead of the step's."""
        rows = {s.unique_id: s for s in detail.steps} if detail is not None else {}
        self._row = rows.get(uid)
        self._names = {k: v.name for k, v in rows.items()}

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="step-body"):
            with Vertical(id="step-left"):
                deps = DepsList(id="step-deps")
                deps.border_title = "Dependencies (enter opens)"
                yield deps
                with VerticalScroll(id="step-scroll"):
                    yield StepDetails(Text("loading…"), id="step-details")
            yield LogView(id="step-log")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"{self.run_name or ''} › {self._names.get(self.uid, self.uid)}"
        self.query_one(LogView).focus()
        if self.app.size.width < WRAP_BELOW:
            # A half-screen log pane shows little more than timestamps: wrap instead.
            self.query_one(LogView).lines.wrap = True
        self.load()
        self._show_log()
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        # The duration of a running step grows: re-render the record (no disk access).
        if self.is_current and self.info is not None and str(self.info.state) == "running":
            self.query_one(StepDetails).show(self.info, self._progress, self._run_lines, self._row)

    def apply_changes(self, changes: Changes) -> None:
        if changes.rescan or changes.all_steps or self.uid in changes.steps:
            self.load()
        self.query_one(LogView).files_changed(changes.files, rescan=changes.rescan)

    def _start_load(self) -> None:
        self._read_step()

    @work(thread=True, exclusive=True, exit_on_error=False, group="step")
    def _read_step(self) -> None:
        """Read the step's record and progress in a thread; post :class:`StepInfoLoaded`."""
        try:
            info = self.source.step_info(self.uid, self.run_name)
            running = str(info.state) == "running"
            progress = self.source.step_progress(self.uid, self.run_name) if running else None
        except Exception as e:  # noqa: BLE001 (shown in place; the app keeps running)
            self.post_message(StepInfoLoaded(self.uid, error=f"cannot read step {self.uid}: {e}"))
            return
        self.post_message(StepInfoLoaded(self.uid, data=(info, progress, self._run_log_lines())))

    def _run_log_lines(self) -> list[str] | None:
        """For a Tango 1.x step (no log of its own): its lines of the run's ``out.log``."""
        name = self._names.get(self.uid)
        if getattr(self.source, "kind", None) != "tango1" or not (self.run_name and name):
            return None
        try:
            lines: list[str] = self.source.workspace.step_log_lines(self.run_name, name, limit=200)
        except Exception as e:  # noqa: BLE001 (shown in place; the app keeps running)  # the record itself is still worth showing
            return [f"cannot read the run log: {e}"]
        return lines

    def on_step_info_loaded(self, message: StepInfoLoaded) -> None:
        # Done once the result is on screen, so the next read waits for the paint too.
        self.call_after_refresh(self.load_done)
        details = self.query_one(StepDetails)
        if message.error:
            details.show_error(message.error)
            return
        info, progress, run_lines = message.data
        first = self.info is None
        self.info = info
        self._progress, self._run_lines = progress, run_lines
        details.show(info, progress, run_lines, self._row)
        if first:
            self._fill_deps(info)
            self._show_log()
            if run_lines and not self.showing_run_log:
                # Tango 1.x: the pane shows the run's log; start at this step's first line.
                self.query_one(LogView).show_first(run_lines[0])

    def _fill_deps(self, info: StepInfo) -> None:
        deps = self.query_one("#step-deps", OptionList)
        deps.clear_options()
        for uid in sorted(info.dependencies, key=lambda d: self._names.get(d, d)):
            label = Text(self._names.get(uid, "?"), style="bold")
            label.append(f"  {uid}", style="dim")
            deps.add_option(Option(label, id=uid))
        if not info.dependencies:
            deps.add_option(Option(Text("none", style="dim"), id="", disabled=True))

    @on(OptionList.OptionSelected, "#step-deps")
    def _dep_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.app.push_screen(
                StepScreen(event.option.id, run_name=self.run_name, detail=self.detail)
            )

    def _step_log_path(self) -> Path | None:
        if self._row is not None and self._row.log_path is not None:
            return Path(self._row.log_path)
        if self.info is not None and self.info.log_file:
            return self.tango.root / self.info.log_file
        return None

    def _run_log_path(self) -> Path | None:
        if self.detail is not None and self.detail.run.log_path is not None:
            return Path(self.detail.run.log_path)
        return None

    def _show_log(self) -> None:
        view = self.query_one(LogView)
        if self.showing_run_log:
            path, what = self._run_log_path(), f"run log ({self.run_name})"
        else:
            path, what = self._step_log_path(), "step log"
            if path is None and self._run_log_path() is not None:
                # Tango 1.x keeps no per-step log: the run's log is the next best thing.
                path, what = self._run_log_path(), f"run log ({self.run_name}; no step log)"
        if path is None:
            view.open(None, title=what, missing=f"no {what} recorded")
        elif path != view.path:
            view.open(path, title=f"{what}: {path.name}")

    def action_switch_log(self) -> None:
        """Switch the log pane between the step's log and the run's log."""
        self.showing_run_log = not self.showing_run_log
        self._show_log()
        self.notify(f"showing the {'run' if self.showing_run_log else 'step'} log", timeout=2)
