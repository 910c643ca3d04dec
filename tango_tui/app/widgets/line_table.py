"""A table of one-line rows drawn with Textual's Line API: cheap to update, whatever its length.

Textual's DataTable draws every visible cell again after any change (its render caches are keyed
by a counter each insertion bumps): a new run cost the runs view a 60-80 ms repaint. A
:class:`LineTable` keeps a list of row keys in screen order and a key -> index map, draws only
the lines on screen, caches each row's drawn line by key (rows that merely move are not drawn
again) and drops a row's line only when that row changes. Column widths are fixed (fitted to
the terminal by :func:`~.fast_table.fit_columns`), so no row is ever measured.

Subclasses list their columns in ``COLUMNS`` and implement :meth:`cells_of`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.message import Message
from textual.strip import Strip
from textual.widgets.data_table import Column, ColumnKey

from ._table_columns import TableColumns
from ._table_mouse import TableMouse
from .fast_table import CELL_PADDING, Col, cut

LINE_CACHE_SIZE = 2000
"""Drawn rows kept (a few screenfuls, plus rows scrolled past recently)."""


class TableMessage(Message):
    """A message from a :class:`LineTable`."""

    def __init__(self, table: LineTable) -> None:
        super().__init__()
        self.table = table
        """The table that sent it."""

    @property
    def control(self) -> LineTable:
        """The table (what ``@on(..., selector)`` matches)."""
        return self.table


class LineTable(TableColumns, TableMouse, can_focus=True):
    """A header line and one line per row, in fixed-width columns, with a row cursor.

    Rows are identified by string keys. The cursor follows its row's key when rows are added,
    removed or reordered. Messages: :class:`RowSelected` (enter, or a click on the cursor row)
    and :class:`HeaderSelected` (a click on a column header).
    """

    COLUMNS: ClassVar[list[Col]] = []

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *("line-table--header", "line-table--cursor"),
        *("line-table--even-row", "line-table--odd-row", "line-table--hover"),
    }

    # The same looks as Textual's DataTable, so the views keep their appearance.
    DEFAULT_CSS = """
    LineTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        &:focus {
            background-tint: $foreground 5%;
            & > .line-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .line-table--header { background-tint: $foreground 5%; }
        }
        &:dark > .line-table--even-row { background: $surface-darken-1 40%; }
        & > .line-table--header { text-style: bold; background: $panel; color: $foreground; }
        &:ansi > .line-table--header { background: ansi_bright_blue; color: ansi_default; }
        & > .line-table--even-row { background: $surface-lighten-1 50%; }
        & > .line-table--hover { background: $block-hover-background; }
        & > .line-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Select", show=False),
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,g", "first_row", "First", show=False, tooltip="Go to the first row"),
        Binding("end,G", "last_row", "Last", show=False, tooltip="Go to the last row"),
    ]

    class RowSelected(TableMessage):
        """A row was chosen (enter, or a click on the row under the cursor)."""

        def __init__(self, table: LineTable, key: str) -> None:
            super().__init__(table)
            self.key = key
            """The row's key."""

    class HeaderSelected(TableMessage):
        """A column header was clicked."""

        def __init__(self, table: LineTable, column_key: str) -> None:
            super().__init__(table)
            self.column_key = column_key
            """The column's key."""

    cell_padding = CELL_PADDING // 2
    """Blank cells each side of a column (what :meth:`Column.get_render_width` reads)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.layout_cols: list[tuple[str, str, int]] = []
        """(key, label, width) of the columns shown now."""
        self.sort_marker: tuple[str, bool] | None = None
        """(column key, descending) marked in the header with ▲/▼."""
        self.columns: dict[ColumnKey, Column] = {}
        """The columns shown, by key (labels as drawn, with the sort marker)."""
        self._keys: list[str] = []
        self._pos: dict[str, int] | None = {}
        self._cursor = 0
        self._cursor_key: str | None = None
        self._lines: LRUCache[str, Strip] = LRUCache(LINE_CACHE_SIZE)
        self._header: Strip | None = None
        self._styles: dict[tuple[str, bool, str], Style] = {}

    # ----- what subclasses provide ------------------------------------------------------
    def cells_of(self, key: str) -> dict[str, Text]:
        """The cells of row ``key`` by column key, uncut (override)."""
        raise NotImplementedError

    # ----- the rows -----------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        """How many rows are shown."""
        return len(self._keys)

    @property
    def ordered_keys(self) -> list[str]:
        """The row keys in screen order (a copy)."""
        return list(self._keys)

    @property
    def rows(self) -> dict[str, int]:
        """Row key -> row index of the rows shown (read-only use: ``key in table.rows``)."""
        if self._pos is None:
            self._pos = {k: i for i, k in enumerate(self._keys)}
        return self._pos

    def key_at(self, index: int) -> str:
        """The key of the row at ``index``."""
        return self._keys[index]

    def set_keys(self, keys: Iterable[str]) -> None:
        """Show exactly these rows in this order (drawn rows are kept: only order changed)."""
        self._keys = list(keys)
        self._structure_changed()

    def insert_key(self, index: int, key: str) -> None:
        """Add row ``key`` at ``index`` (rows below move down)."""
        self._keys.insert(index, key)
        self._lines.discard(key)
        self._structure_changed()

    def append_keys(self, keys: Iterable[str]) -> None:
        """Add rows at the end."""
        self._keys.extend(keys)
        self._structure_changed()

    def remove_keys(self, keys: Iterable[str]) -> None:
        """Remove these rows (keys not shown are ignored)."""
        gone = set(keys) & self.rows.keys()
        if gone:
            self._keys = [k for k in self._keys if k not in gone]
            for key in gone:
                self._lines.discard(key)
            self._structure_changed()

    def refresh_row(self, key: str) -> None:
        """Row ``key`` changed: draw it again (now if it is on screen)."""
        self._lines.discard(key)
        index = self.rows.get(key)
        if index is not None and 0 <= index - int(self.scroll_y) < self.size.height - 1:
            self.refresh_line(index + 1)  # virtual line: the header is line 0

    def cell_text(self, key: str, column: str) -> str:
        """The text of one cell as drawn (cut to its column); KeyError if not shown."""
        if key not in self.rows:
            raise KeyError(key)
        width = self.width_of(column)
        value = self.cells_of(key)[column]
        return cut(value, width).plain if width else value.plain

    def _structure_changed(self) -> None:
        """Rows came, went or moved: keep the cursor on its row and that row where it was.

        The cursor stays on the same key. If that row is on screen, it stays on the same screen
        line (rows arriving above it scroll out of view instead of pushing it down), except when
        the view is at the very top and the row is still visible there: then the new rows show
        (a dashboard watched from the top sees new runs arrive). A cursor whose row is gone (a
        filter hid it) goes to the first row.
        """
        old_index, old_top = self._cursor, int(self.scroll_y)
        visible = max(1, self.size.height - 1)  # the header takes a line
        was_on_screen = old_top <= old_index < old_top + visible
        self._pos = None
        kept = self._cursor_key is not None and self._cursor_key in self.rows
        if kept:
            assert self._cursor_key is not None
            self._cursor = self.rows[self._cursor_key]
        else:
            self._cursor = 0
        self._cursor_key = self._keys[self._cursor] if self._keys else None
        self._update_virtual_size()
        if kept and was_on_screen and self._cursor != old_index:
            at_top_and_visible = old_top == 0 and self._cursor < visible
            if not at_top_and_visible:
                top = max(0, self._cursor - (old_index - old_top))
                self.scroll_to(y=top, animate=False, immediate=True)
        elif not kept:
            self._scroll_to_cursor()
        self.refresh()

    # ----- the cursor ---------------------------------------------------------------------
    @property
    def cursor_row(self) -> int:
        """Index of the row under the cursor (0 when empty)."""
        return self._cursor

    @property
    def cursor_key(self) -> str | None:
        """Key of the row under the cursor."""
        return self._cursor_key

    def move_cursor(self, *, row: int, animate: bool = False) -> None:
        """Put the cursor on row ``row`` (clamped) and scroll it into view."""
        self.set_hover(None)
        if not self._keys:
            return
        old = self._cursor
        self._cursor = max(0, min(row, len(self._keys) - 1))
        self._cursor_key = self._keys[self._cursor]
        if old != self._cursor:  # only the two rows change look (virtual lines: header is 0)
            self.refresh_line(old + 1)
            self.refresh_line(self._cursor + 1)
        self._scroll_to_cursor(animate)

    def _scroll_to_cursor(self, animate: bool = False) -> None:
        visible = max(1, self.size.height - 1)  # the header takes a line
        top = int(self.scroll_y)
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=animate, immediate=not animate)
        elif self._cursor >= top + visible:
            self.scroll_to(y=self._cursor - visible + 1, animate=animate, immediate=not animate)

    def action_cursor_up(self) -> None:
        """Move the cursor up a row."""
        self.move_cursor(row=self._cursor - 1)

    def action_cursor_down(self) -> None:
        """Move the cursor down a row."""
        self.move_cursor(row=self._cursor + 1)

    def action_page_up(self) -> None:
        """Move the cursor up a page."""
        self.move_cursor(row=self._cursor - max(1, self.size.height - 1))

    def action_page_down(self) -> None:
        """Move the cursor down a page."""
        self.move_cursor(row=self._cursor + max(1, self.size.height - 1))

    def action_first_row(self) -> None:
        """Move the cursor to the first row."""
        self.move_cursor(row=0)

    def action_last_row(self) -> None:
        """Move the cursor to the last row."""
        self.move_cursor(row=len(self._keys) - 1)

    def action_select_cursor(self) -> None:
        """Announce the row under the cursor as chosen."""
        if self._cursor_key is not None:
            self.post_message(self.RowSelected(self, self._cursor_key))

    def on_mount(self) -> None:
        self._apply_layout(self.size.width or self.app.size.width)

    def on_resize(self, event: events.Resize) -> None:
        self._apply_layout(event.size.width)
        self._scroll_to_cursor()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()

    def _style(self, part: str) -> Style:
        """The style of ``part`` ("" or a component class) over the table's, kept: ``rich_style``
        is worked out from the CSS on each read (a third of the time of drawing a line)."""
        key = (part, self.has_focus, self.app.theme)
        style = self._styles.get(key)
        if style is None:
            style = self.rich_style
            if part:
                style += self.get_component_rich_style(part)
            self._styles[key] = style
        return style

    # ----- drawing ------------------------------------------------------------------------
    def _draw(self, cells: dict[str, Text]) -> Strip:
        line = Text(no_wrap=True, end="")
        for key, _, width in self.layout_cols:
            value = cut(cells.get(key) or Text(""), width)
            line.append(" ")
            line.append_text(value)
            line.append(" " * (width - value.cell_len + 1))
        segments = list(line.render(self.app.console))
        return Strip(segments, line.cell_len)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x, scroll_y = int(self.scroll_x), int(self.scroll_y)
        base = self._style("")
        if y == 0:
            if self._header is None:
                self._header = self._draw({str(k.value): c.label for k, c in self.columns.items()})
            style = self._style("line-table--header")
            return self._header.apply_style(style).crop_extend(scroll_x, scroll_x + width, style)
        index = scroll_y + y - 1
        if index >= len(self._keys):
            return Strip.blank(width, base)
        key = self._keys[index]
        strip = self._lines.get(key)
        if strip is None:
            strip = self._draw(self.cells_of(key))
            self._lines[key] = strip
        if index == self._cursor:
            post = self.get_component_rich_style("line-table--cursor")
            strip = Strip(Segment.apply_style(strip, base, post), strip.cell_length)
            return strip.crop_extend(scroll_x, scroll_x + width, self._style("line-table--cursor"))
        style = self._style("line-table--even-row" if index % 2 == 0 else "line-table--odd-row")
        if index == self.hover_row:
            style += self.get_component_rich_style("line-table--hover")
        return strip.apply_style(style).crop_extend(scroll_x, scroll_x + width, base)

    # ----- the pointer (see TableMouse) -------------------------------------------------
    def _row_total(self) -> int:
        return len(self._keys)

    def _row_clicked(self, index: int) -> None:
        if index == self._cursor:
            self.action_select_cursor()
        else:
            self.move_cursor(row=index)

    def _header_clicked(self, x: int) -> None:
        left = 0
        for key, _, width in self.layout_cols:
            left += width + CELL_PADDING
            if x < left:
                self.post_message(self.HeaderSelected(self, key))
                return
