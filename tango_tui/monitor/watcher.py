"""File events of a workspace directory, debounced into :class:`ChangeBatch` callbacks.

:class:`WorkspaceWatcher` runs a watchdog observer (inotify by default, polling with
``poll_interval`` for NFS, where inotify never sees other machines' writes) on a handful of
directories chosen so that the watch stays cheap however big the workspace grows
(:mod:`._watch_plan` says which, and which events each asks the kernel for):

* the root, non-recursively (``runs/``/``cache/`` appearing, ``latest``, markers, Tango's
  ``stepinfo.sqlite``);
* ``runs/``, recursively: one directory per run plus the ``steps/<uid>/`` of uncacheable steps,
  never a result tree (step links are symlinks and are not followed); when polling, ``runs/``
  alone, and the reconcile (one ``stat`` per ``run.json``) runs at the poll interval instead;
* ``cache/``, top level only (a step directory appearing or vanishing); result trees inside it can
  be huge and are never watched recursively;
* the step directories given to :meth:`WorkspaceWatcher.watch_steps` (the open run's steps),
  non-recursively, at most :data:`MAX_STEP_WATCHES` of them (each watch is a thread in watchdog;
  the run record covers the others).

In a tango-tui workspace no watch asks for in-place writes (every record is replaced by a
rename), so a busy run's log lines cost nothing here. The files given to
:meth:`WorkspaceWatcher.watch_file` (logs being tailed) are not watched by events: the worker
stats them every ``file_tick`` seconds while there are any, every ``busy_file_tick`` seconds
while one keeps changing (:mod:`._watch_files`).

watchdog's handler only puts the raw event on a queue (it never blocks, see ENVIRONMENT.md's
deadlock note); a worker thread of ours collects events for ``debounce`` seconds, maps them to
run names, step ids and files (:mod:`._watch_events`), re-arms watches when directories appear or
vanish, and calls the callback once per burst; a tick that finds a tailed file changed calls it
at once. Every ``reconcile_interval`` seconds it also compares a light snapshot (the ``runs/``
listing, watched step records, and the ``run.json`` stats of the runs that may still change) with
the previous one, so a missed event only delays an update. Runs the reader found settled
(finished, or registered without an executor; see :mod:`._activity`) are stat-ed only by a full
pass every ``full_reconcile_interval`` seconds, so an idle dashboard on 10,000 finished runs does
not stat 10,000 files every few seconds.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from watchdog.events import FileSystemEvent
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserverVFS

from ._activity import activity_for
from ._inotify import make_observer
from ._snapshot import LightSnapshot, seen_by, take_snapshot
from ._watch_events import TANGO_DB_FILES, ChangeBatch, QueueHandler, event_paths, map_path
from ._watch_files import BUSY_FILE_TICK, FILE_TICK, TailedFiles
from ._watch_plan import WatchKey, WatchSet, plan_watches

__all__ = ["MAX_STEP_WATCHES", "TANGO_DB_FILES", "ChangeBatch", "WorkspaceWatcher"]

logger = logging.getLogger(__name__)

FULL_RECONCILE_INTERVAL = 60.0
"""Seconds between reconciles that stat every run's record (settled runs included)."""

MAX_STEP_WATCHES = 128
"""How many step directories are watched at once (the first ones given to ``watch_steps``)."""

FIRST_LISTING_WAIT = 5.0
"""Longest wait for the reader's first listing before arming the recursive runs/ watch (s)."""

_STOP = object()
_RESYNC = object()  # look again at which directories to watch
_WAKE = object()  # a file is tailed now: start ticking


class WorkspaceWatcher:
    """Watches a workspace directory and reports debounced :class:`ChangeBatch` es.

    Args:
        root: The workspace directory (it may not exist yet: its nearest existing parent is
            watched until it appears).
        callback: Called from the watcher's own thread with each non-empty batch. It must not
            block (post a message and return) and must not call :meth:`stop`.
        poll_interval: ``None`` for inotify; seconds between polls for polling (NFS).
        debounce: Seconds to collect events after the first one of a burst before calling back.
        reconcile_interval: Seconds between light reconciliations that catch missed events.
        full_reconcile_interval: Seconds between reconciliations that also stat the records of
            settled runs.
        file_tick: Seconds between two stats of the files given to :meth:`watch_file` (in both
            modes) while they are quiet: the most the first change after a pause waits.
        busy_file_tick: The same right after a stat that found a change: how often a file that
            keeps growing is reported.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        callback: Callable[[ChangeBatch], None],
        poll_interval: float | None = None,
        debounce: float = 0.05,
        *,
        reconcile_interval: float = 5.0,
        full_reconcile_interval: float = FULL_RECONCILE_INTERVAL,
        file_tick: float = FILE_TICK,
        busy_file_tick: float = BUSY_FILE_TICK,
    ):
        self.root = Path(os.path.abspath(root))
        self.callback = callback
        self.poll_interval = poll_interval
        self.debounce = debounce
        # Polling: runs/ is polled non-recursively (new and deleted runs) and run records are
        # checked by the reconcile at the poll interval; one stat per run instead of a recursive
        # snapshot of every run directory, which is what costs on NFS with thousands of runs.
        self.reconcile_interval = (
            reconcile_interval if poll_interval is None else min(reconcile_interval, poll_interval)
        )
        self.full_reconcile_interval = max(full_reconcile_interval, self.reconcile_interval)
        self.file_tick = file_tick
        self.busy_file_tick = max(busy_file_tick, file_tick)
        self._next_full = 0.0
        self._activity = activity_for(self.root)
        self._flagged: set[str] = set()  # runs named by events since the last reconcile
        self._runs_recursive = poll_interval is None
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._handler = QueueHandler(self._queue)
        self._watches = WatchSet(self._handler)
        self._tailed = TailedFiles()
        self._observer: BaseObserver | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # guards the wanted steps, set from the app's thread
        self._steps: list[str] = []
        self._snapshot: LightSnapshot | None = None
        self._root_present = False
        self._ours = False  # a tango-tui workspace (its marker exists), checked at each re-arm
        self._stopped = False
        self._defer_runs = False

    # ----- public API --------------------------------------------------------------------
    @property
    def watched_dirs(self) -> list[tuple[str, bool]]:
        """``(directory, recursive)`` of every watch currently armed (for tests and debugging)."""
        return sorted({(d, r) for d, r, _ in self._watches.armed})

    @property
    def watches(self) -> list[WatchKey]:
        """``(directory, recursive, asks for in-place writes)`` of every watch armed now."""
        return sorted(self._watches.armed)

    @property
    def events_received(self) -> int:
        """How many file events the observer handed over so far (for tests and benchmarks)."""
        return self._handler.received

    def start(self) -> None:
        """Start the observer and the worker thread."""
        if self._thread is not None:
            raise RuntimeError("WorkspaceWatcher.start() called twice")
        if self.poll_interval is None:
            self._observer = make_observer()  # watchdog's inotify minus its rename stall
        else:
            self._observer = PollingObserverVFS(
                stat=os.lstat, listdir=os.scandir, polling_interval=self.poll_interval
            )
        self._observer.daemon = True
        # The recursive watch of runs/ walks every run directory (about a second on 10,000
        # runs): the worker arms it, so start() (called while the app mounts) stays quick.
        self._defer_runs = self._runs_recursive
        self._sync_watches()
        self._observer.start()
        if self._defer_runs and self._activity.has_reader:
            # The reader is about to read every run.json: the catch-up after arming compares
            # with what it saw, rather than stat-ing 10,000 records here, on the app's thread,
            # before its first screen.
            with self._lock:
                steps = self._steps[:MAX_STEP_WATCHES]
            self._snapshot = take_snapshot(self.root, steps, stat_runs=False)
        else:
            self._snapshot = self._take_snapshot()
        self._thread = threading.Thread(target=self._run, name="tango-tui-watcher", daemon=True)
        self._thread.start()

    def watch_steps(self, uids: Iterable[str]) -> None:
        """Watch these steps' directories (replacing the previous set); the first
        :data:`MAX_STEP_WATCHES` are watched, the rest rely on the run record and the reconcile."""
        with self._lock:
            self._steps = list(dict.fromkeys(uids))
        self._queue.put(_RESYNC)

    def watch_file(self, path: str | os.PathLike[str]) -> None:
        """Report changes of ``path`` (a log being tailed) in ``ChangeBatch.files``.

        Takes the file's first ``stat`` in this thread, so a write landing right after the call
        is reported (a reader may read the file after calling this and miss nothing); from then
        on the worker stats it every ``file_tick`` (``busy_file_tick``) seconds.
        """
        self._tailed.add(path)
        self._queue.put(_WAKE)

    def unwatch_file(self, path: str | os.PathLike[str]) -> None:
        """Stop reporting ``path``."""
        self._tailed.discard(path)

    def stop(self) -> None:
        """Stop the worker and the observer and join both. Call it from a thread other than the
        callback's (an app: ``await asyncio.to_thread(watcher.stop)``)."""
        self._stopped = True
        self._queue.put(_STOP)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        if self._observer is not None:
            self._observer.stop()
            if self._observer.is_alive():
                self._observer.join()

    # ----- worker --------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            try:
                self._loop()
                return
            except Exception:  # a watcher that dies silently would freeze the view
                logger.exception("tango-tui watcher of %s failed; carrying on", self.root)
                time.sleep(min(1.0, self.reconcile_interval))  # no hot loop on a lasting error

    def _arm_deferred(self) -> None:
        """Arm the recursive runs/ watch, then report what changed while it was being armed.

        If a reader of the same workspace exists in this process, first wait (at most
        :data:`FIRST_LISTING_WAIT` seconds) for its first listing: walking 10,000 run directories
        meanwhile would compete with it for the disk and the GIL and delay the first paint.
        Nothing is lost meanwhile: the full reconcile below reports what changed since the
        reader read each record (runs it did not read, or that appeared after :meth:`start`,
        are reported too).
        """
        if not self._defer_runs:
            return
        activity = self._activity
        if activity.has_reader:
            deadline = time.monotonic() + FIRST_LISTING_WAIT
            # Short waits: stop() must not be held up by a reader that never lists.
            while not activity.listed.wait(0.05):
                if self._stopped or time.monotonic() > deadline:
                    break
        self._defer_runs = False
        if self._snapshot is not None and activity.has_reader:
            seen_by(self._snapshot, activity.seen())
        batch = self._sync_watches()
        batch.merge(self._reconcile(full=True))
        batch.merge(self._sync_watches())  # the reconcile may have seen directories come or go
        self._deliver(batch)

    def _deliver(self, batch: ChangeBatch) -> None:
        if batch and not self._stopped:
            try:
                self.callback(batch)
            except Exception:
                logger.exception("tango-tui watcher callback failed on %s", batch)

    def _loop(self) -> None:
        self._arm_deferred()
        now = time.monotonic()
        next_reconcile = now + self.reconcile_interval
        next_tick = now
        while True:
            wake = min(next_reconcile, next_tick) if self._tailed else next_reconcile
            try:
                item = self._queue.get(timeout=max(0.0, wake - time.monotonic()))
            except queue.Empty:
                item = None
            if item is _STOP:
                return
            batch = ChangeBatch()
            resync = False
            if item is not None and item is not _WAKE:
                # Collect the rest of the burst; a fixed window bounds the latency of a flood.
                items = [item]
                deadline = time.monotonic() + self.debounce
                while (left := deadline - time.monotonic()) > 0:
                    try:
                        items.append(self._queue.get(timeout=left))
                    except queue.Empty:
                        break
                if any(i is _STOP for i in items):
                    return
                for i in items:
                    if i is _RESYNC:
                        resync = True
                    elif isinstance(i, FileSystemEvent):
                        resync |= self._map_event(i, batch)
                self._flagged |= batch.runs
            now = time.monotonic()
            if now >= next_tick:
                changed = self._tailed.changed()
                next_tick = now + (self.busy_file_tick if changed else self.file_tick)
                batch.files |= changed
            if now >= next_reconcile:
                next_reconcile = now + self.reconcile_interval
                batch.merge(self._reconcile())
                resync = True
            if resync:
                batch.merge(self._sync_watches())
            self._deliver(batch)

    def _map_event(self, event: FileSystemEvent, batch: ChangeBatch) -> bool:
        """Add ``event`` to ``batch``; True if the set of directories to watch may have changed."""
        resync = False
        paths = event_paths(event)
        if event.is_directory and event.event_type in ("deleted", "moved"):
            # A watched directory that went away: inotify dropped its watch, so forget ours and
            # let the re-arm below watch it afresh if it comes back (even under the same name).
            resync |= self._watches.forget(self._observer, paths[0])
        tailed = self._tailed.paths() if self._tailed else set()
        for raw in paths:
            path = Path(raw)
            if path in tailed:  # replaced or removed: say so now rather than at the next tick
                batch.files.add(path)
            resync |= map_path(self.root, self._ours, path, event, batch)
        return resync

    def _reconcile(self, full: bool = False) -> ChangeBatch:
        new = self._take_snapshot(None if full else self._snapshot)
        old, self._snapshot = self._snapshot, new
        return new.diff(old) if old is not None else ChangeBatch(rescan=True)

    def _take_snapshot(self, old: LightSnapshot | None = None) -> LightSnapshot:
        with self._lock:
            steps = self._steps[:MAX_STEP_WATCHES]
        now = time.monotonic()
        full = old is None or now >= self._next_full
        flagged, self._flagged = self._flagged, set()
        if full:
            self._next_full = now + self.full_reconcile_interval
            return take_snapshot(self.root, steps)

        def recheck(names: list[str]) -> list[str]:
            return [*self._activity.active(names), *flagged]

        return take_snapshot(self.root, steps, old=old, recheck=recheck)

    # ----- watches -------------------------------------------------------------------------
    def _sync_watches(self) -> ChangeBatch:
        """Arm and disarm watches to match what exists now; a rescan batch if the root came or
        went. Runs in the worker (and in start(), before the worker exists)."""
        batch = ChangeBatch()
        observer = self._observer
        if observer is None or self._stopped:
            return batch
        # A directory created between looking and arming sends no event to the new watch (say
        # the root's parents made by `mkdir -p` while the nearest one is being armed): look
        # again after arming until nothing more is wanted (bounded: a watch may keep failing).
        for _ in range(4):
            present = os.path.isdir(self.root)
            self._ours = os.path.exists(self.root / "tango-tui.json")
            if present != self._root_present:
                self._root_present = present
                batch.rescan = True
            with self._lock:
                steps = self._steps[:MAX_STEP_WATCHES]
            wanted = plan_watches(
                self.root,
                steps,
                ours=self._ours,
                runs_recursive=self._runs_recursive,
                defer_runs=self._defer_runs,
            )
            if wanted == set(self._watches.armed):
                break
            self._watches.arm(observer, wanted)
        return batch
