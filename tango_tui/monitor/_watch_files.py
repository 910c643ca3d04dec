"""The logs being tailed, checked by ``stat`` on a short tick instead of by file events.

A log followed at 10,000 lines a second is written up to 10,000 times a second; an inotify watch
asking for its appends turns each write into a kernel event and then into Python objects in
three of watchdog's threads and ours, all to learn what one ``stat`` tells every few tens of
milliseconds. So the watcher's worker calls :meth:`TailedFiles.changed` every
:data:`FILE_TICK` seconds, and only while at least one file is tailed: one ``stat`` per file,
compared on (inode, size, mtime), which sees an append, a truncation (even back to the same
size: the mtime moves), a replacement or rotation (another inode), a file vanishing and one
appearing. The first ``stat`` is taken by :meth:`TailedFiles.add` in the caller's thread, so a
write landing right after it returns is reported by the next tick.

While a tailed file keeps changing (the previous check saw a change too), the next check comes
after :data:`BUSY_FILE_TICK` instead: a log growing without pause is reported (and so repainted)
about 10 times a second, which halves what a followed flood costs the dashboard, while the first
change after a quiet spell is still seen within :data:`FILE_TICK`.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from ._snapshot import StatKey, stat_key

FILE_TICK = 0.05
"""Seconds between two checks of the tailed files while they are quiet (the most the first
change after a quiet spell waits to be noticed)."""

BUSY_FILE_TICK = 0.1
"""Seconds between two checks right after a check that found a change (a continuous stream)."""


class TailedFiles:
    """Thread-safe ``{path: its last stat}`` of the files given to ``watch_file``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[Path, StatKey] = {}

    def __bool__(self) -> bool:
        return bool(self._seen)

    def paths(self) -> set[Path]:
        """The tailed paths now."""
        with self._lock:
            return set(self._seen)

    def add(self, path: str | os.PathLike[str]) -> Path:
        """Tail ``path`` from its current state (``os.path.abspath`` of it, returned)."""
        key = Path(os.path.abspath(path))
        seen = stat_key(key)
        with self._lock:
            self._seen[key] = seen
        return key

    def discard(self, path: str | os.PathLike[str]) -> None:
        """Stop tailing ``path``."""
        with self._lock:
            self._seen.pop(Path(os.path.abspath(path)), None)

    def changed(self) -> set[Path]:
        """Stat every tailed file; the ones whose stat differs from the last one seen."""
        with self._lock:
            before = dict(self._seen)
        now = {path: stat_key(path) for path in before}  # no lock held while stat-ing
        changed = {path for path, seen in now.items() if seen != before[path]}
        if changed:
            with self._lock:
                for path in changed:
                    if path in self._seen:  # not un-tailed meanwhile
                        self._seen[path] = now[path]
        return changed
