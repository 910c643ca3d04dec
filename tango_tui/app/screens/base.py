"""The base of screens that show live workspace data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from textual.screen import Screen

from ..messages import Changes

if TYPE_CHECKING:
    from ..app import TangoTuiApp


class LiveScreen(Screen[None]):
    """A screen that reloads what it shows when the workspace changes.

    The app calls :meth:`workspace_changed` for every screen on the stack. The visible screen
    reacts at once; a covered screen remembers the changes and applies them when it is shown
    again, so hidden screens cost nothing while the user looks elsewhere.
    """

    def __init__(self) -> None:
        super().__init__()
        self._missed = Changes()
        self._has_missed = False

    @property
    def tango(self) -> TangoTuiApp:
        """The app, typed."""
        return cast("TangoTuiApp", self.app)

    @property
    def source(self) -> Any:
        """The workspace source."""
        return self.tango.source

    def workspace_changed(self, changes: Changes, *, active: bool) -> None:
        """Called by the app with what changed on disk."""
        if active:
            self.apply_changes(changes)
        else:
            self._missed.merge(changes)
            self._has_missed = True

    def on_screen_resume(self) -> None:
        if self._has_missed:
            missed, self._missed, self._has_missed = self._missed, Changes(), False
            self.apply_changes(missed)

    def apply_changes(self, changes: Changes) -> None:
        """React to ``changes`` (override): typically start a reload worker."""
