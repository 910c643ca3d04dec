"""The pointer side of :class:`~.line_table.LineTable`: clicks and the row under the mouse."""

from __future__ import annotations

from textual import events
from textual.scroll_view import ScrollView


class TableMouse(ScrollView):
    """Maps pointer events to a header line (line 0) and rows below it, and keeps
    :attr:`hover_row` (drawn highlighted, as DataTable does) while the pointer moves over rows.

    Subclasses say how many rows there are (:meth:`_row_total`) and what a click does
    (:meth:`_row_clicked`, :meth:`_header_clicked`).
    """

    hover_row: int | None = None
    """Index of the row under the mouse pointer, if the pointer is over one."""

    def _row_total(self) -> int:
        raise NotImplementedError

    def _row_clicked(self, index: int) -> None:
        raise NotImplementedError

    def _header_clicked(self, x: int) -> None:
        raise NotImplementedError

    def _row_at(self, event: events.MouseEvent) -> int | None:
        """The row index under the pointer (-1: the header), or None (outside the rows)."""
        offset = event.get_content_offset(self)
        if offset is None:
            return None
        if offset.y == 0:
            return -1
        index = int(self.scroll_y) + offset.y - 1
        return index if index < self._row_total() else None

    def set_hover(self, index: int | None) -> None:
        """Highlight row ``index`` as the one under the pointer (None: none)."""
        if index != self.hover_row:
            for old_or_new in (self.hover_row, index):
                if old_or_new is not None:
                    self.refresh_line(old_or_new + 1)  # virtual line: the header is line 0
            self.hover_row = index

    def _on_mouse_move(self, event: events.MouseMove) -> None:
        index = self._row_at(event)
        self.set_hover(index if index is not None and index >= 0 else None)

    def _on_leave(self, event: events.Leave) -> None:
        self.set_hover(None)

    async def _on_click(self, event: events.Click) -> None:
        index = self._row_at(event)
        if index is None:
            return
        event.stop()
        if index == -1:
            offset = event.get_content_offset(self)
            self._header_clicked(int(self.scroll_x) + (offset.x if offset else 0))
        else:
            self._row_clicked(index)
