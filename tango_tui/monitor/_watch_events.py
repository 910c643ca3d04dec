"""What the watcher reports (:class:`ChangeBatch`) and how a file event becomes part of one.

watchdog calls :class:`QueueHandler` under its own lock, so the handler only drops the events we
never use and queues the rest for the watcher's worker thread (never blocking: see
ENVIRONMENT.md's deadlock note). The worker maps each queued event with :func:`map_path`: a path
under ``runs/`` names a run (and, under ``runs/<run>/steps/<uid>/``, a step), a path under
``cache/`` names a step, the root's own files ask for a rescan or (Tango 1.x's step database)
for every step to be read again.
"""

from __future__ import annotations

import os
import queue
from dataclasses import dataclass, field
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler

TANGO_DB_FILES = frozenset({"stepinfo.sqlite", "stepinfo.sqlite-wal", "stepinfo.sqlite-journal"})
"""Tango 1.x's step database and its journals: a change means any step may have changed."""

_ROOT_FILES_RESCAN = frozenset({"tango-tui.json", "settings.json", "runs", "cache"})
_IGNORED_TYPES = frozenset({"opened", "closed", "closed_no_write"})
_TMP_PREFIX = ".tmp-"  # atomic writers' temporary files: only their final rename matters


@dataclass
class ChangeBatch:
    """What changed during one debounce window.

    Attributes:
        runs: Names of runs whose directory or record (or anything in their directory) changed,
            appeared or vanished.
        steps: Unique ids of steps whose directory changed (record, progress, a new log).
        files: Watched files (see ``watch_file``) that changed, appeared, vanished or were
            replaced.
        rescan: Re-read everything (the root appeared, vanished, or changed kind).
        all_steps: Any step may have changed (Tango 1.x's step database was written): re-read
            the run list's counts and the open run's steps.
    """

    runs: set[str] = field(default_factory=set)
    steps: set[str] = field(default_factory=set)
    files: set[Path] = field(default_factory=set)
    rescan: bool = False
    all_steps: bool = False

    def __bool__(self) -> bool:
        return bool(self.runs or self.steps or self.files or self.rescan or self.all_steps)

    def merge(self, other: ChangeBatch) -> None:
        """Add ``other``'s changes to this batch."""
        self.runs |= other.runs
        self.steps |= other.steps
        self.files |= other.files
        self.rescan = self.rescan or other.rescan
        self.all_steps = self.all_steps or other.all_steps


class QueueHandler(FileSystemEventHandler):
    """Hands every interesting event to the worker; runs under watchdog's lock, so never blocks.

    Attributes:
        received: How many events were queued so far (for tests and benchmarks: the watches'
            event filters decide how many the kernel sends at all).
    """

    def __init__(self, q: queue.SimpleQueue[object]):
        self._queue = q
        self.received = 0

    def dispatch(self, event: FileSystemEvent) -> None:
        """Queue ``event`` unless it is one we never use."""
        if event.event_type in _IGNORED_TYPES:
            return
        if event.event_type == "modified" and event.is_directory:
            return
        if event.event_type != "moved" and os.path.basename(os.fsdecode(event.src_path)).startswith(
            _TMP_PREFIX
        ):
            return
        self.received += 1  # one dispatching thread per observer: no lost updates
        self._queue.put(event)


def event_paths(event: FileSystemEvent) -> list[str]:
    """The source and (for a move) destination path of ``event``."""
    paths = [os.fsdecode(event.src_path)]
    dest = getattr(event, "dest_path", "")
    if dest:
        paths.append(os.fsdecode(dest))
    return paths


def is_structural(event: FileSystemEvent) -> bool:
    """Whether ``event`` made, removed or moved a directory (watches may have to follow)."""
    return event.is_directory and event.event_type in ("created", "deleted", "moved")


def map_path(
    root: Path, ours: bool, path: Path, event: FileSystemEvent, batch: ChangeBatch
) -> bool:
    """Add what ``path`` (one path of ``event``) says to ``batch``.

    Args:
        root: The workspace directory.
        ours: Whether it is a tango-tui workspace (a growing run log then is no run change).
        path: The event's source or destination path.
        event: The event.
        batch: Where the change goes.

    Returns:
        True if the set of directories to watch may have changed.
    """
    if path == root or path in root.parents:
        # The root (or a directory above it) appeared, vanished or moved.
        batch.rescan = True
        return True
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return False  # outside the root
    structural = is_structural(event)
    top = parts[0]
    if len(parts) == 1:
        if top in TANGO_DB_FILES:
            batch.all_steps = True
        elif top in _ROOT_FILES_RESCAN:
            batch.rescan = True
            return True
        return False
    if top == "runs":
        if len(parts) >= 4 and parts[2] == "steps":
            batch.steps.add(parts[3])
        # A growing log does not change a tango-tui run's row (run.json does), so it is not
        # a run change; in a Tango 1.x run, out.log's markers are where the status comes from.
        if not (ours and parts[-1].endswith(".log") and not structural):
            batch.runs.add(parts[1])
        return structural
    if top == "cache":
        batch.steps.add(parts[1])
        return structural and len(parts) == 2
    return False
