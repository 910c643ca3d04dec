"""The table of runs: updated in place, filterable, sortable by any column."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets.data_table import RowDoesNotExist

from .. import format as fmt
from .fast_table import FixedWidthTable

COLUMNS: list[tuple[str, str, int | None]] = [
    ("name", "Run", 30),
    ("start", "Started", 19),
    ("status", "Status", 13),
    ("counts", "Steps by state", 30),
    ("n", "Steps", 6),
    ("duration", "Duration", 9),
    ("problem", "Notes", 32),
]
"""(key, label, width) of each column; fixed widths so live updates never reflow the table."""

FIRST_CHUNK = 200
"""Rows added at once when a list arrives (more than a screenful), so it paints at once."""
CHUNK = 100_000
"""Rows added per later step. Large on purpose: with fixed widths adding a row is cheap, while
every step costs a repaint, so the rest of a long list goes in one step after the first paint."""


def _sort_value(row: Any, key: str) -> Any:
    """What a column sorts by (the raw value, not its text)."""
    if key == "name":
        return row.name
    if key == "start":
        return row.start_date.timestamp() if row.start_date else 0.0
    if key == "status":
        return str(row.status)
    if key in ("counts", "n"):
        return row.n_steps
    if key == "duration":
        if row.start_date is None:
            return 0.0
        end = row.end_date or fmt.now()
        return (end - row.start_date).total_seconds()
    return row.problem or ""


class RunsTable(FixedWidthTable):
    """One row per run (row key: the run name).

    The screen hands it complete lists of ``RunRow`` with :meth:`set_rows`; the table works out
    what changed and touches only those cells, so the cursor and scroll position stay put.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False, tooltip="Next row"),
        Binding("k", "cursor_up", "Up", show=False, tooltip="Previous row"),
        Binding("s", "cycle_sort", "Sort", tooltip="Sort by the next column (again: reverse)"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.rows_by_name: dict[str, Any] = {}
        """The latest RunRow of every run, shown or filtered out."""
        self.filter_text = ""
        """Case-insensitive substring a run's name or status must contain to be shown."""
        self.sort_column = "start"
        """Key of the column the rows are sorted by."""
        self.sort_reverse = True
        """Descending (newest first by default)."""
        self._pending: list[str] = []
        self._pending_needs_sort = False
        self._running_names: set[str] = set()

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    def _matches(self, row: Any) -> bool:
        f = self.filter_text.lower()
        return not f or f in row.name.lower() or f in str(row.status).lower()

    def _cells(self, row: Any) -> list[Any]:
        running = str(row.status) == "running"
        # Text everywhere: plain strings would be parsed as markup by DataTable, cell by cell.
        return [
            Text(row.name, style="bold" if running else ""),
            Text(fmt.fmt_datetime(row.start_date)),
            fmt.state_text(row.status),
            fmt.counts_text(row.counts),
            Text(str(row.n_steps)),
            Text(fmt.duration_text(row.start_date, row.end_date, running)),
            Text(row.problem or "", style="red"),
        ]

    @property
    def selected_run(self) -> str | None:
        """The name of the run under the cursor."""
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return key.value

    def set_rows(self, rows: list[Any]) -> None:
        """Show ``rows`` (all runs), changing only what differs from what is shown.

        New rows are added in two steps: a first screenful at once, the rest just after the
        first paint, so a 10,000-run workspace shows its newest runs without waiting for all.
        """
        new = {r.name: r for r in rows}
        old = self.rows_by_name
        self.rows_by_name = new
        self._running_names = {r.name for r in rows if str(r.status) == "running"}
        for name in [n for n in old if n not in new]:
            self._remove(name)
        to_add: list[str] = []
        for name, row in new.items():
            shown = name in self.rows
            if not self._matches(row):
                if shown:
                    self._remove(name)
                continue
            if not shown:
                to_add.append(name)
            elif old.get(name) != row:
                for (key, _, _), value in zip(COLUMNS, self._cells(row), strict=True):
                    self.update_cell(name, key, value)
        if to_add:
            # Rows arrive newest first; in the default order they can be appended as they come.
            in_order = not self.row_count and self.sort_column == "start" and self.sort_reverse
            self._pending.extend(to_add)
            self._pending_needs_sort = self._pending_needs_sort or not in_order
            self._add_pending(FIRST_CHUNK)

    def _add_pending(self, limit: int) -> None:
        chunk, self._pending = self._pending[:limit], self._pending[limit:]
        for name in chunk:
            row = self.rows_by_name.get(name)
            if row is not None and name not in self.rows and self._matches(row):
                self.add_row(*self._cells(row), key=name)
        if self._pending:
            self.set_timer(0.01, lambda: self._add_pending(CHUNK))
        elif self._pending_needs_sort:
            self._pending_needs_sort = False
            self._resort()

    @property
    def adding(self) -> bool:
        """Whether rows are still being added in chunks."""
        return bool(self._pending)

    def _remove(self, name: str) -> None:
        try:
            self.remove_row(name)
        except RowDoesNotExist:
            pass

    def set_filter(self, text: str) -> None:
        """Show only runs whose name or status contains ``text``."""
        self.filter_text = text
        keep = self.selected_run
        self._pending = []
        self.clear()
        rows, self.rows_by_name = self.rows_by_name, {}
        self.set_rows(list(rows.values()))
        self._resort(keep)

    def sort_by(self, column: str, reverse: bool | None = None) -> None:
        """Sort by ``column``; without ``reverse``, clicking the same column flips the order."""
        if reverse is None:
            reverse = not self.sort_reverse if column == self.sort_column else column == "start"
        self.sort_column, self.sort_reverse = column, reverse
        self._resort()

    def _resort(self, keep: str | None = None) -> None:
        keep = keep or self.selected_run
        rows, col = self.rows_by_name, self.sort_column
        # DataTable.sort hands the key function the cells of the named columns; the name cell
        # leads back to the RunRow, so rows sort by their raw values (dates, seconds).
        self.sort(
            "name",
            key=lambda cell: (_sort_value(rows[_key_of(cell)], col), _key_of(cell)),
            reverse=self.sort_reverse,
        )
        if keep is not None and keep in self.rows:
            self.move_cursor(row=self.get_row_index(keep), animate=False)

    def action_cycle_sort(self) -> None:
        """Sort by the next column; after the last column, wrap to the first."""
        keys = [k for k, _, _ in COLUMNS]
        nxt = keys[(keys.index(self.sort_column) + 1) % len(keys)]
        self.sort_by(nxt)
        self.notify(
            f"sorted by {nxt} ({'descending' if self.sort_reverse else 'ascending'})", timeout=2
        )

    def tick(self) -> None:
        """Advance the duration of running runs (called every second)."""
        for name in self._running_names:
            row = self.rows_by_name[name]
            if name in self.rows:
                self.update_cell(
                    name, "duration", Text(fmt.duration_text(row.start_date, None, True))
                )


def _key_of(name_cell: Any) -> str:
    return name_cell.plain if isinstance(name_cell, Text) else str(name_cell)
