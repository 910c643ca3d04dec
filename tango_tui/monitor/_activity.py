"""Which runs of a workspace can still change, shared by the reader and the watcher of a process.

The reader learns from each ``run.json`` it decodes whether the run is settled: no executor owns
it (``owner`` is null) and its status is not ``running`` (a finished run, or one registered
without an executor). The watcher's frequent reconcile then stats only the other runs (and runs
it knows nothing about), and leaves the settled ones to a rare full pass. A record rewritten
within :data:`SETTLE_SECONDS` is not treated as settled yet: an executor takes a freshly
registered run over within milliseconds.

The watcher also waits for the reader's first listing (:attr:`RunActivity.listed`) before
walking every run directory to arm its recursive watch: both at once would delay the first paint.
The reader leaves the stat of every ``run.json`` it read (:meth:`RunActivity.seen`), so the
watcher's catch-up after arming compares against what the reader saw instead of stat-ing every
run itself while the app starts.

Both sides find the same :class:`RunActivity` through :func:`activity_for` (keyed by the
workspace's absolute path), so the app does not have to wire them together.
"""

from __future__ import annotations

import os
import threading
import time
import weakref

SETTLE_SECONDS = 60.0
"""How long after its last rewrite a settled-looking run still counts as active."""


class RunActivity:
    """``{run name: wall-clock time from which it counts as settled}`` (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._settled_from: dict[str, float] = {}
        self._seen: dict[str, object] = {}  # run name -> stat key of the run.json it read
        self.has_reader = False
        """Whether a reader of this workspace exists in the process (it will list the runs)."""
        self.listed = threading.Event()
        """Set once that reader has finished its first listing of the runs."""

    def record(self, name: str, settled: bool, mtime: float, key: object = None) -> None:
        """What the reader learnt from run ``name``'s record (``mtime``: its modification time;
        ``key``: the stat key of the ``run.json`` it read)."""
        with self._lock:
            if key is not None:
                self._seen[name] = key
            if settled:
                self._settled_from[name] = mtime + SETTLE_SECONDS
            else:
                self._settled_from.pop(name, None)

    def forget(self, name: str) -> None:
        """Run ``name`` vanished, or its record could not be read: treat it as active."""
        with self._lock:
            self._settled_from.pop(name, None)
            self._seen.pop(name, None)

    def seen(self) -> dict[str, object]:
        """``{run name: stat key of the run.json the reader last read}`` (a copy)."""
        with self._lock:
            return dict(self._seen)

    def active(self, names: list[str], now: float | None = None) -> list[str]:
        """The names among ``names`` that are not known to be settled at ``now``."""
        now = time.time() if now is None else now
        with self._lock:
            settled = self._settled_from
            return [n for n in names if settled.get(n, now + 1.0) > now]


_REGISTRY: weakref.WeakValueDictionary[str, RunActivity] = weakref.WeakValueDictionary()
_REGISTRY_LOCK = threading.Lock()


def activity_for(root: str | os.PathLike[str]) -> RunActivity:
    """The :class:`RunActivity` of the workspace at ``root`` in this process (made on first use;
    it lives as long as a reader or watcher holds it)."""
    key = os.path.abspath(root)
    with _REGISTRY_LOCK:
        activity = _REGISTRY.get(key)
        if activity is None:
            activity = _REGISTRY[key] = RunActivity()
        return activity
