"""The base of screens that show live workspace data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from textual.screen import Screen
from textual.worker import Worker, WorkerState

from ..messages import Changes

if TYPE_CHECKING:
    from ..app import TangoTuiApp


class LiveScreen(Screen[None]):
    """A screen that reloads what it shows when the workspace changes.

    The app calls :meth:`workspace_changed` for every screen on the stack. The visible screen
    reacts at once; a covered screen remembers the changes and applies them when it is shown
    again, so hidden screens cost nothing while the user looks elsewhere.
    """

    LOAD_GROUP = ""
    """The worker group of the screen's load worker."""

    def __init__(self) -> None:
        super().__init__()
        self._missed = Changes()
        self._has_missed = False
        self._loading = False
        self._load_again = False

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

    def load(self) -> None:
        """Read what the screen shows again, in a thread worker.

        At most one read is in flight: changes that arrive meanwhile cause exactly one more
        read when it ends. This is the backpressure that keeps a workspace written faster than
        it can be read (a step logging 10,000 lines/s) from queueing reads without end.
        """
        if self._loading:
            self._load_again = True
            return
        self._loading = True
        self._start_load()

    def _start_load(self) -> None:
        """Start the load worker (override)."""
        self._loading = False

    def load_done(self) -> None:
        """Call when a load result arrives (or the worker failed): start a pending reload."""
        self._loading = False
        if self._load_again:
            self._load_again = False
            self.load()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # A worker that died without posting its result must not block later loads.
        worker: Worker[object] = event.worker
        if worker.group == self.LOAD_GROUP and event.state in (
            WorkerState.ERROR,
            WorkerState.CANCELLED,
        ):
            self.load_done()
