"""Messages that carry data up (from thread workers and the watcher) to the screens."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual.message import Message


@dataclass
class Changes:
    """What changed on disk since the last refresh (merged from one or more watcher batches)."""

    runs: set[str] = field(default_factory=set)
    """Names of runs whose records changed."""
    steps: set[str] = field(default_factory=set)
    """Unique ids of steps whose records or progress changed."""
    files: set[Path] = field(default_factory=set)
    """Watched files (logs) that changed."""
    rescan: bool = False
    """True when the watcher could not say what changed (overflow, reconcile): reload all."""
    all_steps: bool = False
    """Any step may have changed (Tango 1.x's database was written): reload step views."""

    def __bool__(self) -> bool:
        return bool(self.runs or self.steps or self.files or self.rescan or self.all_steps)

    def merge(self, other: Changes) -> None:
        """Fold ``other`` into this set of changes."""
        self.runs |= other.runs
        self.steps |= other.steps
        self.files |= other.files
        self.rescan = self.rescan or other.rescan
        self.all_steps = self.all_steps or other.all_steps


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
