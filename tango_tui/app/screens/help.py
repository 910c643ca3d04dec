"""The ``?`` screen: every key binding of the dashboard, the current screen's first."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

GENERIC = [
    ("up/down, j/k", "Move the cursor (tables, tree, log)"),
    ("pageup/pagedown", "Move a page (home/end: first/last row or line)"),
    ("tab, shift+tab", "Move focus between panes"),
    ("ctrl+p", "Command palette: change theme, keys, screenshot, quit"),
    ("mouse", "Click a row to select it, a column header to sort, wheel to scroll"),
]


def _groups() -> list[tuple[str, list[type]]]:
    from ..app import TangoTuiApp
    from ..widgets.dep_tree import DepTree
    from ..widgets.fast_table import FixedWidthTable
    from ..widgets.filter_bar import FilterBar
    from ..widgets.line_table import LineTable
    from ..widgets.log_lines import LogLines
    from ..widgets.log_view import LogView
    from ..widgets.runs_table import RunsTable
    from ..widgets.steps_table import StepsTable
    from .log import LogScreen
    from .run import RunScreen
    from .runs import RunsScreen
    from .step import DepsList, StepScreen

    return [
        ("Runs", [RunsScreen, RunsTable, LineTable, FilterBar]),
        ("Run", [RunScreen, StepsTable, FixedWidthTable, DepTree]),
        ("Step", [StepScreen, DepsList]),
        ("Log pane", [LogView, LogLines, LogScreen]),
        ("Everywhere", [TangoTuiApp]),
    ]


def _own_bindings(cls: type) -> list[Binding]:
    out = []
    for b in cls.__dict__.get("BINDINGS", []):
        out.append(b if isinstance(b, Binding) else Binding(*b))
    return out


class HelpScreen(ModalScreen[None]):
    """Lists every binding, grouped by where it applies; the covered screen's group first."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 100; height: 90%; border: thick $primary; background: $surface; padding: 0 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape,q,question_mark",
            "dismiss",
            "Close",
            key_display="esc",
            tooltip="Close this help",
        ),
    ]

    def __init__(self, covered: Screen[object]) -> None:
        super().__init__()
        self._covered = covered

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(self.table(), id="help-table")

    def table(self) -> Table:
        """The bindings as a Rich table."""
        table = Table(title="tango-tui keys", expand=True, show_edge=False)
        table.add_column("key", style="bold", no_wrap=True, min_width=14)
        table.add_column("does")
        groups = _groups()
        covered = type(self._covered)
        groups.sort(key=lambda g: covered not in g[1])
        for title, classes in groups:
            table.add_row(Text(title, style="bold underline"), "")
            seen: set[str] = set()
            for cls in classes:
                for b in _own_bindings(cls):
                    key = b.key_display or b.key.replace(",", ", ")
                    if key in seen:
                        continue
                    seen.add(key)
                    table.add_row(Text(key), b.tooltip or b.description or b.action)
            table.add_row("", "")
        table.add_row(Text("Anywhere", style="bold underline"), "")
        for key, doc in GENERIC:
            table.add_row(key, doc)
        return table
