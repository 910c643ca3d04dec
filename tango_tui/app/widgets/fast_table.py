"""A DataTable whose columns all have fixed widths, so new rows need no measuring.

The widths still follow the terminal: :func:`fit_columns` shrinks, drops or widens columns
for the width the table gets, and :class:`FixedWidthTable` rebuilds its columns only when that
layout changes (a resize across a threshold), never on a live update. The steps table uses it
(a run has hundreds of steps at most); the runs list, which may hold 10,000 rows, is a
:class:`~.line_table.LineTable`, which shares the column fitting (:class:`Col`,
:func:`fit_columns`, :func:`cut`) defined here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

CELL_PADDING = 2
"""DataTable's default padding around each cell (one column each side)."""
SCROLLBAR = 2
"""Room kept for the vertical scrollbar."""


@dataclass(frozen=True)
class Col:
    """One column of a table and how it gives way on a narrow terminal."""

    key: str
    label: str
    width: int
    """Preferred width."""
    min_width: int = 0
    """Narrowest useful width; below it the column is dropped (unless ``keep``)."""
    give: int = 0
    """Give-way order: lower gives way (shrinks, then disappears) first; 0 never shrinks."""
    keep: bool = False
    """Shrinks to ``min_width`` but is never dropped."""
    flex: bool = False
    """Takes the width left over on a wide terminal."""


def fit_columns(cols: list[Col], available: int) -> list[tuple[str, str, int]]:
    """(key, label, width) of the columns that fit in ``available`` cells, in their order."""
    widths = {c.key: c.width for c in cols}

    def total() -> int:
        return sum(w + CELL_PADDING for w in widths.values())

    order = sorted((c for c in cols if c.give), key=lambda c: c.give)
    for c in order:  # give way in order: shrink to the minimum, or go if that is not enough
        over = total() - available
        if over <= 0:
            break
        narrower = widths[c.key] - over
        if narrower >= max(1, c.min_width):
            widths[c.key] = narrower
        elif c.keep:
            widths[c.key] = max(1, c.min_width)
        else:
            del widths[c.key]
    spare = available - total()
    flex = next((c for c in cols if c.flex and c.key in widths), None)
    if spare > 0 and flex is not None:
        widths[flex.key] += spare
    return [(c.key, c.label, widths[c.key]) for c in cols if c.key in widths]


def cut(text: Text, width: int) -> Text:
    """``text`` cut to ``width`` cells with an ellipsis (cells never wrap or crop silently)."""
    if text.cell_len > width:
        text = text.copy()
        text.truncate(width, overflow="ellipsis")
    return text


class FixedWidthTable(DataTable[Any]):
    """DataTable for tables of one-line rows in fixed-width columns.

    DataTable measures every cell of every new row to size auto-width columns: about a quarter
    of a millisecond a row, seconds for 10,000 runs. With every width fixed nothing needs
    measuring, so only the scrollable size is updated. Any auto-width column or labelled row
    falls back to DataTable's own sizing.

    Subclasses list their columns in ``COLUMNS`` and implement :meth:`cells_of` and
    :meth:`refill` (re-add every row after the columns changed).
    """

    COLUMNS: ClassVar[list[Col]] = []

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("home", "first_row", "First", show=False, tooltip="Go to the first row"),
        Binding("end", "last_row", "Last", show=False, tooltip="Go to the last row"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.layout_cols: list[tuple[str, str, int]] = []
        """(key, label, width) of the columns shown now."""
        self.sort_marker: tuple[str, bool] | None = None
        """(column key, descending) marked in the header with ▲/▼."""

    @property
    def shown_keys(self) -> list[str]:
        """Keys of the columns on screen, in order."""
        return [k for k, _, _ in self.layout_cols]

    def width_of(self, key: str) -> int:
        """The width of column ``key`` (0 if it is not shown)."""
        return next((w for k, _, w in self.layout_cols if k == key), 0)

    def on_mount(self) -> None:
        self._apply_layout(self.size.width or self.app.size.width)

    def on_resize(self, event: events.Resize) -> None:
        self._apply_layout(event.size.width)

    def _apply_layout(self, width: int) -> None:
        cols = fit_columns(self.COLUMNS, max(10, width - SCROLLBAR))
        if cols == self.layout_cols:
            return
        first = not self.layout_cols
        self.layout_cols = cols
        keep = self.cursor_row
        self.clear(columns=True)
        for key, label, w in cols:
            self.add_column(self._label(key, label), key=key, width=w)
        if not first:
            self.refill()
            if self.row_count:
                self.move_cursor(row=min(keep, self.row_count - 1), animate=False)

    def _label(self, key: str, label: str) -> Text:
        if self.sort_marker is not None and self.sort_marker[0] == key:
            return Text(f"{label} {'▼' if self.sort_marker[1] else '▲'}")
        return Text(label)

    def mark_sorted(self, key: str, descending: bool) -> None:
        """Show ▲ (ascending) or ▼ (descending) after the label of column ``key``."""
        self.sort_marker = (key, descending)
        for k, label, _ in self.layout_cols:
            self.columns[k].label = self._label(k, label)  # type: ignore[index]
        self._clear_caches()
        self.refresh()

    def row_cells(self, cells: dict[str, Any]) -> list[Any]:
        """The cells of one row for the columns shown, each cut to its column's width."""
        out = []
        for key, _, width in self.layout_cols:
            value = cells[key]
            out.append(cut(value, width) if isinstance(value, Text) else value)
        return out

    def refill(self) -> None:
        """Add every row again after the columns changed (override)."""

    def action_first_row(self) -> None:
        """Move the cursor to the first row."""
        if self.row_count:
            self.move_cursor(row=0, animate=False)

    def action_last_row(self) -> None:
        """Move the cursor to the last row."""
        if self.row_count:
            self.move_cursor(row=self.row_count - 1, animate=False)

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        columns = list(self.columns.values())
        if any(c.auto_width for c in columns) or self._labelled_row_exists:
            super()._update_dimensions(new_rows)
            return
        width = sum(c.get_render_width(self) for c in columns) + self._row_label_column_width
        header = self.header_height if self.show_header else 0
        self.virtual_size = Size(width, self._total_row_height + header)
