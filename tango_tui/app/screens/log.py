"""A full-screen log pane (the run's ``out.log``)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Header

from ..messages import Changes
from ..widgets.log_view import LogView
from .base import LiveScreen


class LogScreen(LiveScreen):
    """The log at ``path``, following its tail."""

    AUTO_FOCUS = "LogLines"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", tooltip="Back to the run")
    ]

    def __init__(self, path: Path, *, title: str) -> None:
        super().__init__()
        self.path = Path(path)
        """The log file shown."""
        self.title_text = title

    def compose(self) -> ComposeResult:
        yield Header()
        yield LogView(id="run-log")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self.title_text
        view = self.query_one(LogView)
        view.open(self.path, title=self.title_text)
        view.focus()

    def apply_changes(self, changes: Changes) -> None:
        self.query_one(LogView).files_changed(changes.files, rescan=changes.rescan)
