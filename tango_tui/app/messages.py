"""Messages that carry data up (from thread workers and the watcher) to the screens."""

from __future__ import annotations

from typing import Any

from textual.message import Message

from ..monitor.watcher import ChangeBatch

Changes = ChangeBatch
"""What changed on disk since the last refresh: the watcher's own batch type, merged by the inbox."""


class WorkspaceChanged(Message):
    """Something in the workspace changed; the receiver drains the pending changes.

    Posted from the watcher thread. A burst of them collapses into one (``can_replace``), and
    nothing is lost because the changes themselves wait in :class:`~tango_tui.app.live.ChangeInbox`.
    """

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, WorkspaceChanged)


class Loaded(Message):
    """Base of the results a thread worker posts back: ``data`` or an ``error`` to show."""

    def __init__(self, key: Any, data: Any = None, error: str | None = None) -> None:
        super().__init__()
        self.key = key
        """What was loaded (a run name, a unique id...)."""
        self.data = data
        """The loaded value, or None on error."""
        self.error = error
        """A message naming the path and the problem, if loading failed."""


class RunsLoaded(Loaded):
    """The list of runs (``data``: list of RunRow; ``key``: None)."""


class RunDetailLoaded(Loaded):
    """A run's steps (``data``: RunDetail; ``key``: run name)."""


class StepInfoLoaded(Loaded):
    """A step's full record (``data``: (StepInfo, Progress | None); ``key``: unique id)."""
