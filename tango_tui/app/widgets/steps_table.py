"""The table of a run's steps: one row per step, updated cell by cell."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType

from .. import format as fmt
from .fast_table import Col, FixedWidthTable

COLUMNS: list[Col] = [
    Col("state", "State", 13),
    Col("name", "Step", 22, min_width=12, give=4, keep=True),
    Col("start", "Started", 8, min_width=8, give=3),
    Col("duration", "Duration", 8),
    Col("uid", "Unique id", 24, min_width=14, give=1),
    Col("why", "Why / progress", 40, min_width=24, give=2, keep=True, flex=True),
]
"""The columns; fixed widths (fitted to the pane) so live updates never reflow the table.
On a narrow pane the unique id gives way first."""

BAD_STATES = ("failed", "crashed")


class StepsTable(FixedWidthTable):
    """One row per step of a run (row key: unique id), in dependency order.

    :meth:`set_steps` diffs against what is shown and updates only changed cells; rows are
    added only for new steps, so a 1,000-step run stays cheap to refresh and the cursor and
    scroll position never move.
    """

    COLUMNS = COLUMNS

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False, tooltip="Next step"),
        Binding("k", "cursor_up", "Up", show=False, tooltip="Previous step"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.steps: dict[str, Any] = {}
        """The latest StepRow per unique id."""
        self.names: dict[str, str] = {}
        """Unique id -> step name (to explain ``dependency failed: <name>``)."""
        self._cells_shown: dict[str, list[Any]] = {}

    def _why(self, step: Any) -> Text:
        if str(step.state) == "running" and step.progress is not None:
            return fmt.progress_text(step.progress)
        why = fmt.reason_text(step.reason, step.blocked_by, self.names)
        if str(step.state) in BAD_STATES and step.error:
            if why:
                why.append(" ")
            why.append(step.error.splitlines()[0] if step.error else "", style="red")
        if getattr(step, "problem", None):
            if why:
                why.append(" ")
            why.append(step.problem, style="red")
        return why

    def _cells(self, step: Any) -> list[Any]:
        running = str(step.state) == "running"
        name = Text(step.name, style="bold" if step.target else "")
        return self.row_cells(
            {
                "state": fmt.state_text(step.state),
                "name": name,
                "start": Text(fmt.fmt_time(step.start_time)),
                "duration": Text(
                    fmt.duration_text(
                        step.start_time, step.end_time or getattr(step, "last_seen", None), running
                    )
                ),
                "uid": Text(step.unique_id, style="dim"),
                "why": self._why(step),
            }
        )

    def set_steps(self, steps: list[Any]) -> None:
        """Show ``steps`` (StepRow list in dependency order), touching only what changed."""
        self.names = {s.unique_id: s.name for s in steps}
        for step in steps:
            uid = step.unique_id
            self.steps[uid] = step
            cells = self._cells(step)
            old = self._cells_shown.get(uid)
            if old is None:
                self.add_row(*cells, key=uid)
            else:
                for key, value, before in zip(self.shown_keys, cells, old, strict=True):
                    if value != before:
                        self.update_cell(uid, key, value)
            self._cells_shown[uid] = cells

    def refill(self) -> None:
        """Add every row again in the same order (after the columns changed)."""
        steps = list(self.steps.values())
        self._cells_shown = {}
        self.clear()
        self.set_steps(steps)

    @property
    def selected_uid(self) -> str | None:
        """Unique id of the step under the cursor."""
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    def select_uid(self, uid: str) -> bool:
        """Move the cursor to the step ``uid``; False if the run has no such step."""
        if uid not in self.rows:
            return False
        self.move_cursor(row=self.get_row_index(uid), animate=False)
        return True

    def next_bad(self, forward: bool = True) -> str | None:
        """The next failed or crashed step after (or before) the cursor, wrapping around."""
        order = [key.value for key in self.rows]
        if not order:
            return None
        start = self.cursor_row
        n = len(order)
        for i in range(1, n + 1):
            uid = order[(start + i) % n if forward else (start - i) % n]
            if uid is not None and str(self.steps[uid].state) in BAD_STATES:
                return uid
        return None

    def tick(self) -> None:
        """Advance the durations of running steps (called every second)."""
        for uid, step in self.steps.items():
            if str(step.state) == "running" and uid in self._cells_shown:
                text = Text(fmt.duration_text(step.start_time, None, True))
                self.update_cell(uid, "duration", text)
                self._cells_shown[uid][self.shown_keys.index("duration")] = text
