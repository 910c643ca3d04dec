"""The table of runs: updated in place, filterable, sortable by any column."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType

from .. import format as fmt
from .fast_table import Col
from .line_table import LineTable

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

INSERT_MAX = 20
"""Up to this many new runs are put in place one by one; more go through a re-sort."""


def _signature(row: Any) -> tuple[Any, ...]:
    """Everything a row's cells are made of (cheap to build and compare)."""
    last = getattr(row, "last_seen", None)
    return (
        row.status,
        row.start_date,
        row.end_date,
        last,
        row.n_steps,
        row.problem,
        *row.counts.items(),
    )


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
        end = run_end(row) or row.start_date
        return (end - row.start_date).total_seconds()
    return row.problem or ""


def run_end(row: Any) -> Any:
    """Where a run's duration stops: its end; now while it runs; else (crashed, interrupted:
    no end recorded) its last sign of life, the last write of its record (None if unknown)."""
    if row.end_date is not None:
        return row.end_date
    if row.status == "running":
        return fmt.now()
    return getattr(row, "last_seen", None)


class RunsTable(LineTable):
    """One row per run (row key: the run name).

    The screen hands it complete lists of ``RunRow`` with :meth:`set_rows`; the table works out
    what changed and draws only those rows again, so the cursor and scroll position stay put.
    """

    COLUMNS = COLUMNS

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False, tooltip="Next row"),
        Binding("k", "cursor_up", "Up", show=False, tooltip="Previous row"),
        Binding("s", "cycle_sort", "Sort", tooltip="Sort by the next column"),
        Binding(
            "S", "reverse_sort", "Reverse", show=False, tooltip="Reverse the order of the sort"
        ),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rows_by_name: dict[str, Any] = {}
        """The latest RunRow of every run, shown or filtered out."""
        self.filter_text = ""
        """Case-insensitive substring a run's name or status must contain to be shown."""
        self.sort_column = "start"
        """Key of the column the rows are sorted by."""
        self.sort_reverse = True
        """Descending (newest first by default)."""
        self._running_names: set[str] = set()
        self._sigs: dict[str, tuple[Any, ...]] = {}  # what each shown row was drawn from
        self.sort_marker = ("start", True)

    def _matches(self, row: Any) -> bool:
        f = self.filter_text.lower()
        return not f or f in row.name.lower() or f in str(row.status).lower()

    def cells_of(self, key: str) -> dict[str, Text]:
        """The cells of run ``key`` (drawn only when on screen)."""
        row = self.rows_by_name[key]
        running = row.status == "running"
        end = run_end(row)
        return {
            "name": Text(row.name, style="bold" if running else ""),
            "start": Text(fmt.fmt_datetime(row.start_date)),
            "status": fmt.state_text(row.status),
            "counts": fmt.counts_text(row.counts),
            "n": Text(str(row.n_steps)),
            "duration": Text(fmt.duration_text(row.start_date, end, False)),
            "problem": Text(row.problem or "", style="red"),
        }

    @property
    def selected_run(self) -> str | None:
        """The name of the run under the cursor."""
        return self.cursor_key

    def set_rows(self, rows: list[Any], changed: set[str] | None = None) -> None:
        """Show ``rows`` (all runs), drawing again only the rows that differ from what is shown.

        Only a fingerprint of each row is compared (no cells are built), and with ``changed``
        (the runs the source looked at again; the others are the rows it gave last time) only
        those and the running ones: a new run in a 10,000-run list costs about a millisecond
        here instead of 25. A changed row is drawn again if it is on screen.
        """
        new = {r.name: r for r in rows}
        self.rows_by_name = new
        # The status is a str enum: comparing it as a string skips its (Python) __str__.
        was_running, self._running_names = (
            self._running_names,
            {r.name for r in rows if r.status == "running"},
        )
        if self.filter_text:
            gone = [n for n in self.rows if n not in new or not self._matches(new[n])]
        else:
            gone = [n for n in self.rows if n not in new]
        if gone:
            self.remove_keys(gone)
            for name in gone:
                self._sigs.pop(name, None)
        shown, sigs = self.rows, self._sigs
        to_add = [
            n
            for n, r in new.items()
            if n not in shown and (not self.filter_text or self._matches(r))
        ]
        # Rows whose status depends on a process being alive may change in any list.
        live = was_running | self._running_names
        look = new.keys() if changed is None else (changed | live) & new.keys()
        for name in look:
            if name not in shown:
                continue
            # Taken from the row now, not kept by identity: the source may change a RunRow in
            # place (a run found dead).
            sig = _signature(new[name])
            if sig != sigs.get(name):
                sigs[name] = sig
                self.refresh_row(name)
        if not to_add:
            return
        for name in to_add:
            sigs[name] = _signature(new[name])
        if self.row_count and len(to_add) <= INSERT_MAX:
            # The live case: a run or two appeared. Put each at its place; no re-sort.
            for name in to_add:
                self._insert_sorted(name)
            return
        self.append_keys(to_add)
        self._resort()

    def _sort_key(self, name: str) -> tuple[Any, str]:
        return (_sort_value(self.rows_by_name[name], self.sort_column), name)

    def _insert_sorted(self, name: str) -> None:
        """Add run ``name`` where the current order puts it; the cursor stays on its run."""
        key, reverse = self._sort_key(name), self.sort_reverse
        lo, hi = 0, self.row_count
        while lo < hi:  # binary search: first row that sorts after the new one
            mid = (lo + hi) // 2
            other = self._sort_key(self.key_at(mid))
            if (other > key) if reverse else (other < key):
                lo = mid + 1
            else:
                hi = mid
        self.insert_key(lo, name)

    def set_filter(self, text: str) -> None:
        """Show only runs whose name or status contains ``text``."""
        self.filter_text = text
        self.refill()

    def refill(self) -> None:
        """Show every matching row again, in order (after a filter change)."""
        rows = self.rows_by_name
        self._sigs = {n: _signature(r) for n, r in rows.items() if self._matches(r)}
        self.set_keys(self._sigs)
        self._resort()

    def sort_by(self, column: str, reverse: bool | None = None) -> None:
        """Sort by ``column``; without ``reverse``, clicking the same column flips the order."""
        if reverse is None:
            reverse = not self.sort_reverse if column == self.sort_column else column == "start"
        self.sort_column, self.sort_reverse = column, reverse
        self.mark_sorted(column, reverse)
        self._resort()

    def _resort(self) -> None:
        rows, col = self.rows_by_name, self.sort_column
        self.set_keys(
            sorted(
                self.ordered_keys,
                key=lambda name: (_sort_value(rows[name], col), name),
                reverse=self.sort_reverse,
            )
        )
        self._scroll_to_cursor()

    def action_cycle_sort(self) -> None:
        """Sort by the next column; after the last column, wrap to the first."""
        keys = self.shown_keys
        at = keys.index(self.sort_column) if self.sort_column in keys else -1
        nxt = keys[(at + 1) % len(keys)]
        self.sort_by(nxt)
        self._say_sort()

    def action_reverse_sort(self) -> None:
        """Reverse the order of the current sort column."""
        self.sort_by(self.sort_column, reverse=not self.sort_reverse)
        self._say_sort()

    def _say_sort(self) -> None:
        # One notice at a time: pressing s repeatedly must not pile them up over the table.
        self.app.clear_notifications()
        order = "descending" if self.sort_reverse else "ascending"
        self.notify(f"sorted by {LABELS[self.sort_column]} ({order})", timeout=1.5)

    def tick(self) -> None:
        """Advance the duration of running runs (called every second)."""
        if "duration" in self.shown_keys:
            for name in self._running_names:
                self.refresh_row(name)

    @property
    def running_names(self) -> set[str]:
        """Names of the runs whose last row said running."""
        return set(self._running_names)
