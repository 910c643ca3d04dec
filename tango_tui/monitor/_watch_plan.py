"""Which directories the watcher watches, with which events, and arming them on an observer.

Every watch asks the kernel only for what can tell us something (watchdog 7 turns a watch's
``event_filter`` into its inotify mask, so nothing else is even queued):

* creations, deletions and moves, always: a tango-tui workspace replaces every record
  (``run.json``, ``step.json``, ``progress.json``, ``result.json``, ``latest``) by an atomic
  rename, and runs appear by renaming a finished directory into ``runs/``;
* in-place modifications (``IN_MODIFY``) only where a file that matters is written in place,
  which is Tango 1.x's layout alone: ``stepinfo.sqlite`` and its journal at the root, the
  appended ``runs/<name>/out.log`` (its markers are the run's state and its progress bars the
  steps' progress), ``stepinfo.dill``/``cache-metadata.json`` in step directories. In a
  tango-tui workspace the only files written in place are logs (``runs/<name>/out.log``,
  ``.../logs/NNN.log``) and they are no run or step change; asking for their appends would make
  every line a busy run logs an event (10,000 a second at 10,000 lines/s).

A log being tailed (``watch_file``) is not watched here at all: the watcher stats it on a short
tick instead (see :mod:`._watch_files`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers.api import BaseObserver, ObservedWatch

logger = logging.getLogger(__name__)

WatchKey = tuple[str, bool, bool]
"""``(directory, recursive, in-place modifications too)`` of one watch."""

# DirModifiedEvent is left out on purpose: it only repeats the create/delete events of a
# directory's children (and would add IN_MODIFY|IN_ATTRIB|IN_CLOSE_WRITE to the mask).
STRUCTURE: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    DirCreatedEvent,
    FileDeletedEvent,
    DirDeletedEvent,
    FileMovedEvent,
    DirMovedEvent,
]
"""Events of a watch that needs only creations, deletions and moves."""

STRUCTURE_AND_WRITES: list[type[FileSystemEvent]] = [*STRUCTURE, FileModifiedEvent]
"""Events of a watch where files that matter are written in place (Tango 1.x)."""


def plan_watches(
    root: Path,
    steps: list[str],
    *,
    ours: bool,
    runs_recursive: bool,
    defer_runs: bool,
) -> set[WatchKey]:
    """The watches wanted now (looks at what exists; never raises).

    Args:
        root: The workspace directory; if it is missing, its nearest existing ancestor is
            watched (for its creation) instead.
        steps: Step ids whose directories to watch (``cache/<uid>``, not through symlinks).
        ours: A tango-tui workspace (no watch asks for in-place writes); otherwise Tango 1.x or
            not known yet, and the root, ``runs/`` and step directories ask for them.
        runs_recursive: Watch ``runs/`` recursively (inotify) or alone (polling).
        defer_runs: Leave ``runs/`` out for now (its recursive watch is armed later).
    """
    writes = not ours
    wanted: set[WatchKey] = set()
    runs = root / "runs"
    if os.path.isdir(root):
        wanted.add((str(root), False, writes))
        if os.path.isdir(runs) and not defer_runs:
            # Polled alone, runs/ holds only run directories: nothing to see written there.
            wanted.add((str(runs), runs_recursive, writes and runs_recursive))
        if os.path.isdir(root / "cache"):
            wanted.add((str(root / "cache"), False, False))  # step directories only
        for uid in steps:
            step_dir = root / "cache" / uid
            if os.path.isdir(step_dir) and not os.path.islink(step_dir):
                wanted.add((str(step_dir), False, writes))
    else:
        ancestor = root.parent
        while not os.path.isdir(ancestor) and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        wanted.add((str(ancestor), False, False))
    return wanted


class WatchSet:
    """The watches armed on one observer for one handler."""

    def __init__(self, handler: FileSystemEventHandler):
        self._handler = handler
        self.armed: dict[WatchKey, ObservedWatch] = {}
        """The watches armed now, by key."""

    def arm(self, observer: BaseObserver, wanted: set[WatchKey]) -> None:
        """Schedule the wanted watches that are missing, then unschedule the others.

        New ones first: watchdog's inotify watches of one path share one kernel watch, so a
        watch whose events change (a workspace that turned out to be tango-tui's) is replaced
        without a moment unwatched.
        """
        for key in sorted(wanted - self.armed.keys()):
            try:
                self.armed[key] = observer.schedule(
                    self._handler,
                    key[0],
                    recursive=key[1],
                    event_filter=STRUCTURE_AND_WRITES if key[2] else STRUCTURE,
                )
            except OSError as e:
                # Vanished in between, or out of inotify watches: the reconcile still covers it.
                logger.warning("cannot watch %s: %s", key[0], e)
        for key in list(self.armed):
            if key not in wanted or not os.path.isdir(key[0]):
                self._unschedule(observer, self.armed.pop(key))

    def forget(self, observer: BaseObserver | None, directory: str) -> bool:
        """Drop the watches of ``directory`` and below (it went away); True if there were any."""
        keys = [k for k in self.armed if k[0] == directory or k[0].startswith(directory + os.sep)]
        for key in keys:
            watch = self.armed.pop(key)
            if observer is not None:
                self._unschedule(observer, watch)
        return bool(keys)

    @staticmethod
    def _unschedule(observer: BaseObserver, watch: ObservedWatch) -> None:
        try:
            observer.unschedule(watch)
        except (KeyError, OSError):
            pass  # its directory vanished and watchdog already dropped it
