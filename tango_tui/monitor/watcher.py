"""File events of a workspace directory, debounced into :class:`ChangeBatch` callbacks.

:class:`WorkspaceWatcher` runs a watchdog observer (inotify by default, polling with
``poll_interval`` for NFS, where inotify never sees other machines' writes) on a handful of
directories chosen so that the watch stays cheap however big the workspace grows:

* the root, non-recursively (``runs/``/``cache/`` appearing, ``latest``, markers, Tango's
  ``stepinfo.sqlite``);
* ``runs/``, recursively: one directory per run plus the ``steps/<uid>/`` of uncacheable steps,
  never a result tree (step links are symlinks and are not followed); when polling, ``runs/``
  alone, and the reconcile (one ``stat`` per ``run.json``) runs at the poll interval instead;
* ``cache/``, top level only (a step directory appearing or vanishing); result trees inside it can
  be huge and are never watched recursively;
* the step directories given to :meth:`WorkspaceWatcher.watch_steps` (the open run's steps),
  non-recursively, at most :data:`MAX_STEP_WATCHES` of them (each watch is a thread in watchdog;
  the run record covers the others);
* the parent directory of each file given to :meth:`WorkspaceWatcher.watch_file` (a log being
  tailed; the parent catches a rotation).

watchdog's handler only puts the raw event on a queue (it never blocks, see ENVIRONMENT.md's
deadlock note); a worker thread of ours collects events for ``debounce`` seconds, maps them to
run names, step ids and files, re-arms watches when directories appear or vanish, and calls the
callback once per burst. Every ``reconcile_interval`` seconds it also compares a light snapshot
(the ``runs/`` listing, watched step records and files, and the ``run.json`` stats of the runs
that may still change) with the previous one, so a missed event only delays an update. Runs the
reader found settled (finished, or registered without an executor; see :mod:`._activity`) are
stat-ed only by a full pass every ``full_reconcile_interval`` seconds, so an idle dashboard on
10,000 finished runs does not stat 10,000 files every few seconds.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
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
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch
from watchdog.observers.polling import PollingObserverVFS

from ._activity import activity_for
from ._snapshot import LightSnapshot, take_snapshot

logger = logging.getLogger(__name__)

FULL_RECONCILE_INTERVAL = 60.0
"""Seconds between reconciles that stat every run's record (settled runs included)."""

MAX_STEP_WATCHES = 128
"""How many step directories are watched at once (the first ones given to ``watch_steps``)."""

FIRST_LISTING_WAIT = 5.0
"""Longest wait for the reader's first listing before arming the recursive runs/ watch (s)."""

TANGO_DB_FILES = frozenset({"stepinfo.sqlite", "stepinfo.sqlite-wal", "stepinfo.sqlite-journal"})
"""Tango 1.x's step database and its journals: a change means any step may have changed."""

_ROOT_FILES_RESCAN = frozenset({"tango-tui.json", "settings.json", "runs", "cache"})
_IGNORED_TYPES = frozenset({"opened", "closed", "closed_no_write"})
_TMP_PREFIX = ".tmp-"  # atomic writers' temporary files: only their final rename matters
# The kinds of events we ask for: watchdog turns this into the inotify mask, so the kernel never
# queues open/access events for us. DirModifiedEvent is left out on purpose: it only repeats the
# create/delete events of a directory's children.
_EVENT_FILTER = [
    FileCreatedEvent,
    DirCreatedEvent,
    FileDeletedEvent,
    DirDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    DirMovedEvent,
]
_STOP = object()


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


class _QueueHandler(FileSystemEventHandler):
    """Hands every interesting event to our worker; runs under watchdog's lock, so never blocks."""

    def __init__(self, q: queue.SimpleQueue[object]):
        self._queue = q

    def dispatch(self, event: FileSystemEvent) -> None:
        if event.event_type in _IGNORED_TYPES:
            return
        if event.event_type == "modified" and event.is_directory:
            return
        if event.event_type != "moved" and os.path.basename(os.fsdecode(event.src_path)).startswith(
            _TMP_PREFIX
        ):
            return
        self._queue.put(event)


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
        self._next_full = 0.0
        self._activity = activity_for(self.root)
        self._flagged: set[str] = set()  # runs named by events since the last reconcile
        self._runs_recursive = poll_interval is None
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._handler = _QueueHandler(self._queue)
        self._observer: BaseObserver | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # guards the wanted steps/files, set from the app's thread
        self._steps: list[str] = []
        self._files: set[Path] = set()
        self._watches: dict[tuple[str, bool], ObservedWatch] = {}
        self._snapshot: LightSnapshot | None = None
        self._root_present = False
        self._ours = False  # a tango-tui workspace (its marker exists), checked at each re-arm
        self._stopped = False
        self._defer_runs = False
        # Watches are armed by the worker, and by watch_file in the caller's thread.
        self._arm_lock = threading.RLock()

    # ----- public API --------------------------------------------------------------------
    @property
    def watched_dirs(self) -> list[tuple[str, bool]]:
        """``(directory, recursive)`` of every watch currently armed (for tests and debugging)."""
        return sorted(self._watches)

    def start(self) -> None:
        """Start the observer and the worker thread."""
        if self._thread is not None:
            raise RuntimeError("WorkspaceWatcher.start() called twice")
        if self.poll_interval is None:
            self._observer = Observer()
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
        self._snapshot = self._take_snapshot()
        self._thread = threading.Thread(target=self._run, name="tango-tui-watcher", daemon=True)
        self._thread.start()

    def _arm_deferred(self) -> None:
        """Arm the recursive runs/ watch, then report what changed while it was being armed.

        If a reader of the same workspace exists in this process, first wait (at most
        :data:`FIRST_LISTING_WAIT` seconds) for its first listing: walking 10,000 run directories
        meanwhile would compete with it for the disk and the GIL and delay the first paint.
        Nothing is lost meanwhile: the full reconcile below reports what changed.
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
        with self._arm_lock:  # watch_file, meanwhile, waits and then finds runs/ covered
            self._defer_runs = False
            batch = self._sync_watches_locked()
        batch.merge(self._reconcile(full=True))
        batch.merge(self._sync_watches())  # the reconcile may have seen directories come or go
        self._deliver(batch)

    def _deliver(self, batch: ChangeBatch) -> None:
        if batch and not self._stopped:
            try:
                self.callback(batch)
            except Exception:
                logger.exception("tango-tui watcher callback failed on %s", batch)

    def watch_steps(self, uids: Iterable[str]) -> None:
        """Watch these steps' directories (replacing the previous set); the first
        :data:`MAX_STEP_WATCHES` are watched, the rest rely on the run record and the reconcile."""
        with self._lock:
            self._steps = list(dict.fromkeys(uids))
        self._queue.put(("resync",))

    def watch_file(self, path: str | os.PathLike[str]) -> None:
        """Report changes of ``path`` (a log being tailed) in ``ChangeBatch.files``.

        Returns once the watch covering it is armed (in this thread: a write landing right after
        the call is reported, so a reader may read the file after calling this and miss
        nothing). A directory that cannot be watched is left to the reconcile.
        """
        with self._lock:
            self._files.add(Path(os.path.abspath(path)))
        if self._thread is not None:
            pending = self._sync_watches()
            if pending:
                self._queue.put(pending)  # the root came or went meanwhile: the worker reports it

    def unwatch_file(self, path: str | os.PathLike[str]) -> None:
        """Stop reporting ``path``."""
        with self._lock:
            self._files.discard(Path(os.path.abspath(path)))
        self._queue.put(("resync",))

    def stop(self) -> None:
        """Stop the worker and the observer and join both. Call it from a thread other than the
        callback's (an app: ``await asyncio.to_thread(watcher.stop)``)."""
        with self._arm_lock:
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

    def _loop(self) -> None:
        self._arm_deferred()
        next_reconcile = time.monotonic() + self.reconcile_interval
        while True:
            timeout = max(0.0, next_reconcile - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            if item is _STOP:
                return
            batch = ChangeBatch()
            resync = False
            if item is not None:
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
                    if isinstance(i, tuple):
                        resync = True
                    elif isinstance(i, ChangeBatch):
                        batch.merge(i)
                    else:
                        resync |= self._map_event(i, batch)  # type: ignore[arg-type]
                self._flagged |= batch.runs
            if time.monotonic() >= next_reconcile:
                next_reconcile = time.monotonic() + self.reconcile_interval
                batch.merge(self._reconcile())
                resync = True
            if resync:
                batch.merge(self._sync_watches())
            self._deliver(batch)

    def _map_event(self, event: FileSystemEvent, batch: ChangeBatch) -> bool:
        """Add ``event`` to ``batch``; True if the set of directories to watch may have changed."""
        resync = False
        paths = [os.fsdecode(event.src_path)]
        dest = getattr(event, "dest_path", "")
        if dest:
            paths.append(os.fsdecode(dest))
        with self._lock:
            files = set(self._files)
        if event.is_directory and event.event_type in ("deleted", "moved"):
            # A watched directory that went away: inotify dropped its watch, so forget ours and
            # let the re-arm below watch it afresh if it comes back (even under the same name).
            resync |= self._forget_watches(paths[0])
        for raw in paths:
            path = Path(raw)
            if path in files:
                batch.files.add(path)
            resync |= self._map_path(path, event, batch)
        return resync

    def _forget_watches(self, directory: str) -> bool:
        with self._arm_lock:
            return self._forget_watches_locked(directory)

    def _forget_watches_locked(self, directory: str) -> bool:
        forgot = False
        for key in [
            k for k in self._watches if k[0] == directory or k[0].startswith(directory + os.sep)
        ]:
            watch = self._watches.pop(key)
            forgot = True
            if self._observer is not None:
                try:
                    self._observer.unschedule(watch)
                except (KeyError, OSError):
                    pass
        return forgot

    def _map_path(self, path: Path, event: FileSystemEvent, batch: ChangeBatch) -> bool:
        if path == self.root or path in self.root.parents:
            # The root (or a directory above it) appeared, vanished or moved.
            batch.rescan = True
            return True
        try:
            parts = path.relative_to(self.root).parts
        except ValueError:
            return False  # a sibling of a watched file, or outside the root
        structural = event.is_directory and event.event_type in ("created", "deleted", "moved")
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
            if not (self._ours and parts[-1].endswith(".log") and not structural):
                batch.runs.add(parts[1])
            return structural
        if top == "cache":
            batch.steps.add(parts[1])
            return structural and len(parts) == 2
        return False

    def _reconcile(self, full: bool = False) -> ChangeBatch:
        new = self._take_snapshot(None if full else self._snapshot)
        old, self._snapshot = self._snapshot, new
        return new.diff(old) if old is not None else ChangeBatch(rescan=True)

    def _take_snapshot(self, old: LightSnapshot | None = None) -> LightSnapshot:
        with self._lock:
            steps = self._steps[:MAX_STEP_WATCHES]
            files = set(self._files)
        now = time.monotonic()
        full = old is None or now >= self._next_full
        flagged, self._flagged = self._flagged, set()
        if full:
            self._next_full = now + self.full_reconcile_interval
            return take_snapshot(self.root, steps, files)

        def recheck(names: list[str]) -> list[str]:
            return [*self._activity.active(names), *flagged]

        return take_snapshot(self.root, steps, files, old=old, recheck=recheck)

    # ----- watches -------------------------------------------------------------------------
    def _wanted(self) -> set[tuple[str, bool]]:
        with self._lock:
            steps = self._steps[:MAX_STEP_WATCHES]
            files = set(self._files)
        root = self.root
        wanted: set[tuple[str, bool]] = set()
        runs = root / "runs"
        if os.path.isdir(root):
            wanted.add((str(root), False))
            if os.path.isdir(runs) and not self._defer_runs:
                wanted.add((str(runs), self._runs_recursive))
            if os.path.isdir(root / "cache"):
                wanted.add((str(root / "cache"), False))
            for uid in steps:
                step_dir = root / "cache" / uid
                if os.path.isdir(step_dir) and not os.path.islink(step_dir):
                    wanted.add((str(step_dir), False))
        else:
            ancestor = root.parent
            while not os.path.isdir(ancestor) and ancestor != ancestor.parent:
                ancestor = ancestor.parent
            wanted.add((str(ancestor), False))
        for f in files:
            parent = f.parent
            covered = self._runs_recursive and not self._defer_runs
            if covered and runs in parent.parents and os.path.isdir(runs):
                continue  # covered by the recursive watch on runs/
            if os.path.isdir(parent):
                wanted.add((str(parent), False))
        return wanted

    def _sync_watches(self) -> ChangeBatch:
        """Arm and disarm watches to match what exists now; a rescan batch if the root came or went."""
        with self._arm_lock:
            return self._sync_watches_locked()

    def _sync_watches_locked(self) -> ChangeBatch:
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
            wanted = self._wanted()
            if wanted == set(self._watches):
                break
            self._arm(observer, wanted)
        return batch

    def _arm(self, observer: BaseObserver, wanted: set[tuple[str, bool]]) -> None:
        for key in list(self._watches):
            if key not in wanted or not os.path.isdir(key[0]):
                watch = self._watches.pop(key)
                try:
                    observer.unschedule(watch)
                except (KeyError, OSError):
                    pass  # its directory vanished and watchdog already dropped it
        for key in sorted(wanted - set(self._watches)):
            try:
                self._watches[key] = observer.schedule(
                    self._handler, key[0], recursive=key[1], event_filter=_EVENT_FILTER
                )
            except OSError as e:
                # Vanished in between, or out of inotify watches: the reconcile still covers it.
                logger.warning("cannot watch %s: %s", key[0], e)
