"""The base of screens that show live workspace data."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, cast

from textual.css.query import NoMatches
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from ..messages import Changes

if TYPE_CHECKING:
    from ..app import TangoTuiApp


MIN_LOAD_GAP = 0.05
"""Shortest time between the starts of two reads of the same screen, in seconds."""
LOAD_GAP_FACTOR = 2.0
"""The gap is also at least this many times the last read's duration, so reading a big run
while its steps write fast takes at most about a third of the time."""


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
        self._load_started = 0.0
        self._load_gap = MIN_LOAD_GAP
        self._load_timer: Any = None

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
            try:
                self.apply_changes(changes)
                return
            except NoMatches:
                # The screen's widgets are being built or taken down (a batch can arrive while
                # the app closes or a screen is popped): keep the batch for when it shows again.
                pass
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
        wait = self._load_started + self._load_gap - time.monotonic()
        if wait > 0:
            if self._load_timer is None:
                self._load_timer = self.set_timer(wait, self._load_later)
            return
        self._loading = True
        self._load_started = time.monotonic()
        self._start_load()

    def _load_later(self) -> None:
        self._load_timer = None
        self.load()

    def _start_load(self) -> None:
        """Start the load worker (override)."""
        self._loading = False

    def load_done(self) -> None:
        """Call when a load result arrives (or the worker failed): start a pending reload."""
        self._loading = False
        took = time.monotonic() - self._load_started
        self._load_gap = max(MIN_LOAD_GAP, LOAD_GAP_FACTOR * took)
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
