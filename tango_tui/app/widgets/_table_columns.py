"""The column half of :class:`~.line_table.LineTable`: which columns show at which width, the
header labels with the sort marker, and the table's virtual size.

Kept apart from ``line_table.py`` so each stays short; :class:`TableColumns` is a base of
``LineTable`` and uses its attributes (``layout_cols``, ``sort_marker``, ``columns``, the row
keys and the line cache).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.cache import LRUCache
from textual.geometry import Size
from textual.strip import Strip
from textual.widgets.data_table import Column, ColumnKey

from .fast_table import CELL_PADDING, SCROLLBAR, Col, fit_columns


class TableColumns:
    """Column layout and header labels of a :class:`~.line_table.LineTable`."""

    COLUMNS: ClassVar[list[Col]] = []
    layout_cols: list[tuple[str, str, int]]
    sort_marker: tuple[str, bool] | None
    columns: dict[ColumnKey, Column]
    virtual_size: Size
    scroll_y: float
    _keys: list[str]
    _lines: LRUCache[str, Strip]
    _header: Strip | None

    if TYPE_CHECKING:  # provided by the widget; never defined here (this class comes first)

        def refresh(self, *args: Any, **kwargs: Any) -> Any: ...

        def refresh_line(self, y: int) -> None: ...

    @property
    def shown_keys(self) -> list[str]:
        """Keys of the columns on screen, in order."""
        return [k for k, _, _ in self.layout_cols]

    def width_of(self, key: str) -> int:
        """The width of column ``key`` (0 if it is not shown)."""
        return next((w for k, _, w in self.layout_cols if k == key), 0)

    def mark_sorted(self, key: str, descending: bool) -> None:
        """Show ▼ (descending) or ▲ (ascending) after the label of column ``key``."""
        self.sort_marker = (key, descending)
        self._build_columns()
        self.refresh_line(int(self.scroll_y))

    def _label(self, key: str, label: str, width: int) -> Text:
        """The header label, with the sort marker kept visible in a narrow column."""
        if self.sort_marker is None or self.sort_marker[0] != key:
            return Text(label)
        mark = "▼" if self.sort_marker[1] else "▲"
        if len(label) + 2 <= width:
            return Text(f"{label} {mark}")
        return Text(f"{label[: max(1, width - 1)]}{mark}")

    def _build_columns(self) -> None:
        self.columns = {
            ColumnKey(k): Column(ColumnKey(k), self._label(k, label, w), w)
            for k, label, w in self.layout_cols
        }
        self._header = None

    def _apply_layout(self, width: int) -> None:
        cols = fit_columns(self.COLUMNS, max(10, width - SCROLLBAR))
        if cols == self.layout_cols:
            return
        self.layout_cols = cols
        self._build_columns()
        self._lines.clear()
        self._update_virtual_size()
        self.refresh()

    def _update_virtual_size(self) -> None:
        width = sum(w + CELL_PADDING for _, _, w in self.layout_cols)
        self.virtual_size = Size(width, len(self._keys) + 1)
