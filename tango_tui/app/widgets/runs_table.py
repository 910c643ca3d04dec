"""The table of runs: updated in place, filterable, sortable by any column."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets.data_table import RowDoesNotExist

from .. import format as fmt
from .fast_table import Col, FixedWidthTable

COLUMNS: list[Col] = [
    Col("name", "Run", 30, min_width=18, give=3, keep=True),
    Col("start", "Started", 19, min_width=19, give=5),
    Col("status", "Status", 13),
    Col("counts", "Steps by state", 30, min_width=14, give=4, keep=True),
    Col("n", "Steps", 6, min_width=6, give=1),
    Col("duration", "Duration", 9),
    Col("problem", "Notes", 32, min_width=12, give=2, flex=True),
]
"""The columns; fixed widths (fitted to the terminal) so live updates never reflow the table."""

LABELS = {c.key: c.label for c in COLUMNS}

FIRST_CHUNK = 200
"""Rows added at once when a list arrives (more than a screenful), so it paints at once."""
CHUNK = 100_000
"""Rows added per later step. Large on purpose: with fixed widths adding a row is cheap, while
every step costs a repaint, so the rest of a long list goes in one step after the first paint."""


INSERT_MAX = 20
"""Up to this many new runs are put in place one by one; more go through a re-sort."""


def _signature(row: Any) -> tuple[Any, ...]:
    """Everything a row's cells are made of (cheap to build and compare)."""
    return (row.status, row.start_date, row.end_date, row.n_steps, row.problem, *row.counts.items())


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

    COLUMNS = COLUMNS

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
        self._cells_shown: dict[str, list[Any]] = {}
        self._sigs_shown: dict[str, tuple[Any, ...]] = {}
        self.sort_marker = ("start", True)

    def _matches(self, row: Any) -> bool:
        f = self.filter_text.lower()
        return not f or f in row.name.lower() or f in str(row.status).lower()

    def _cells(self, row: Any) -> list[Any]:
        running = str(row.status) == "running"
        # Text everywhere: plain strings would be parsed as markup by DataTable, cell by cell.
        return self.row_cells(
            {
                "name": Text(row.name, style="bold" if running else ""),
                "start": Text(fmt.fmt_datetime(row.start_date)),
                "status": fmt.state_text(row.status),
                "counts": fmt.counts_text(row.counts),
                "n": Text(str(row.n_steps)),
                "duration": Text(fmt.duration_text(row.start_date, row.end_date, running)),
                "problem": Text(row.problem or "", style="red"),
            }
        )

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
        # The status is a str enum: comparing it as a string skips its (Python) __str__.
        self._running_names = {r.name for r in rows if r.status == "running"}
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
                continue
            # A cheap fingerprint of the row's values first: building every row's cells for
            # each list (10,000 runs) cost more than half a second. Taken from the row now, not
            # kept by identity: the source may change a RunRow in place (a run found dead).
            # Running rows are always compared, their duration moves with the clock.
            sig = _signature(row)
            if sig == self._sigs_shown.get(name) and name not in self._running_names:
                continue
            # Compare what is shown, not the rows, so only the changed cells are touched.
            cells, before = self._cells(row), self._cells_shown.get(name)
            for key, value, was in zip(self.shown_keys, cells, before or [None] * len(cells)):
                if value != was:
                    self.update_cell(name, key, value)
            self._cells_shown[name] = cells
            self._sigs_shown[name] = sig
        if not to_add:
            return
        if self.row_count and not self._pending and len(to_add) <= INSERT_MAX:
            # The live case: a run or two appeared. Put each at its place; no re-sort.
            for name in to_add:
                self._insert_sorted(name)
            return
        # Rows arrive newest first; in the default order they can be appended as they come.
        in_order = not self.row_count and self.sort_column == "start" and self.sort_reverse
        self._pending.extend(to_add)
        self._pending_needs_sort = self._pending_needs_sort or not in_order
        self._add_pending(FIRST_CHUNK)

    def _sort_key(self, name: str) -> tuple[Any, str]:
        return (_sort_value(self.rows_by_name[name], self.sort_column), name)

    def _insert_sorted(self, name: str) -> None:
        """Add run ``name`` where the current order puts it; the cursor stays on its run."""
        keep = self.selected_run
        row = self.rows_by_name[name]
        key, reverse = self._sort_key(name), self.sort_reverse
        locations = self._row_locations
        lo, hi = 0, self.row_count
        while lo < hi:  # binary search: first row that sorts after the new one
            mid = (lo + hi) // 2
            other = self._sort_key(locations.get_key(mid).value)
            if (other > key) if reverse else (other < key):
                lo = mid + 1
            else:
                hi = mid
        cells = self._cells(row)
        self.insert_row_at(lo, cells, name)
        self._cells_shown[name] = cells
        self._sigs_shown[name] = _signature(row)
        if keep is not None and keep != self.selected_run:
            self.move_cursor(row=self.get_row_index(keep), animate=False)

    def _add_pending(self, limit: int) -> None:
        chunk, self._pending = self._pending[:limit], self._pending[limit:]
        batch: list[tuple[str, list[Any]]] = []
        seen: set[str] = set()  # a list that came while rows were pending repeats names
        for name in chunk:
            row = self.rows_by_name.get(name)
            if (
                row is not None
                and name not in self.rows
                and name not in seen
                and self._matches(row)
            ):
                seen.add(name)
                cells = self._cells(row)
                batch.append((name, cells))
                self._cells_shown[name] = cells
                self._sigs_shown[name] = _signature(row)
        self.add_rows_bulk(batch)
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
        self._cells_shown.pop(name, None)
        self._sigs_shown.pop(name, None)
        try:
            self.remove_row(name)
        except RowDoesNotExist:
            pass

    def set_filter(self, text: str) -> None:
        """Show only runs whose name or status contains ``text``."""
        self.filter_text = text
        self.refill()

    def refill(self) -> None:
        """Add every row again (after a filter or a change of columns)."""
        keep = self.selected_run
        self._pending = []
        self._cells_shown = {}
        self._sigs_shown = {}
        self.clear()
        rows, self.rows_by_name = self.rows_by_name, {}
        self.set_rows(list(rows.values()))
        self._resort(keep)

    def sort_by(self, column: str, reverse: bool | None = None) -> None:
        """Sort by ``column``; without ``reverse``, clicking the same column flips the order."""
        if reverse is None:
            reverse = not self.sort_reverse if column == self.sort_column else column == "start"
        self.sort_column, self.sort_reverse = column, reverse
        self.mark_sorted(column, reverse)
        self._resort()

    def _resort(self, keep: str | None = None) -> None:
        keep = keep or self.selected_run
        rows, col = self.rows_by_name, self.sort_column
        self.sort_by_key(
            lambda name: (_sort_value(rows[name], col), name), reverse=self.sort_reverse
        )
        if keep is not None and keep in self.rows:
            self.move_cursor(row=self.get_row_index(keep), animate=False)

    def action_cycle_sort(self) -> None:
        """Sort by the next column; after the last column, wrap to the first."""
        keys = self.shown_keys
        at = keys.index(self.sort_column) if self.sort_column in keys else -1
        nxt = keys[(at + 1) % len(keys)]
        self.sort_by(nxt)
        self.notify(
            f"sorted by {LABELS[nxt]} ({'descending' if self.sort_reverse else 'ascending'})",
            timeout=2,
        )

    def tick(self) -> None:
        """Advance the duration of running runs (called every second)."""
        for name in self._running_names:
            row = self.rows_by_name[name]
            if name in self.rows and "duration" in self.columns:
                text = Text(fmt.duration_text(row.start_date, None, True))
                self.update_cell(name, "duration", text)
                cells = self._cells_shown.get(name)
                if cells is not None:
                    cells[self.shown_keys.index("duration")] = text

    @property
    def running_names(self) -> set[str]:
        """Names of the runs whose last row said running."""
        return set(self._running_names)
