"""A one-line filter/search input that appears on ``/`` and hides on escape."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Input


class FilterBar(Input):
    """An input that announces its text as it is typed (:class:`FilterBar.Updated`).

    Enter keeps the text and hands focus back; escape clears it and hides the bar.
    """

    DEFAULT_CSS = """
    FilterBar { display: none; height: 3; border: tall $accent; }
    FilterBar.-shown { display: block; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Clear filter", tooltip="Clear and close the filter")
    ]

    class Updated(Message):
        """The filter text changed (``done`` is True on enter/escape)."""

        def __init__(self, text: str, done: bool = False) -> None:
            super().__init__()
            self.text = text
            """The current filter text."""
            self.done = done
            """Whether the user finished typing (enter or escape)."""

    def on_mount(self) -> None:
        # Hidden, it must not take the focus (a screen's auto-focus would pick it).
        self.can_focus = False

    def open(self) -> None:
        """Show the bar and focus it."""
        self.add_class("-shown")
        self.can_focus = True
        self.focus()

    def _hide(self) -> None:
        self.remove_class("-shown")
        self.can_focus = False

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Updated(event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not self.value:
            self._hide()
        self.post_message(self.Updated(self.value, done=True))

    def action_close(self) -> None:
        """Clear the text and hide the bar."""
        self.value = ""
        self._hide()
        self.post_message(self.Updated("", done=True))
