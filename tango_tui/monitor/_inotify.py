"""watchdog's inotify observer without its half-second stall behind a rename.

Every atomic write in a workspace is a rename (``runs/.tmp-run.X`` -> ``runs/<name>``, a record's
temporary file -> ``run.json``/``step.json``), so the kernel reports an ``IN_MOVED_FROM``
followed by an ``IN_MOVED_TO``. watchdog 7 pairs the two in a delay queue: the ``MOVED_FROM``
is held for 0.5 s in case its ``MOVED_TO`` comes. When the ``MOVED_TO`` arrives the pair is
formed at once, *but* if watchdog's emitter thread had already taken the held ``MOVED_FROM`` as
the queue's head, its ``get()`` sleeps the whole 0.5 s without noticing that the head was paired
and removed meanwhile; every event behind it waits too (watchdog issue #649). Measured in the
dashboard: about one new run in three appeared ~500 ms late (p95 of change->screen 650 ms
instead of ~150 ms).

:class:`PromptDelayQueue` is a delay queue with the interface watchdog's move grouper uses
(``put``/``get``/``find``/``remove``/``clear``/``close``) whose ``get()`` waits on a condition
that ``put`` and ``remove`` signal, so it looks at the head again the moment the held event is
paired. An unpaired ``MOVED_FROM`` (a file moved out of the watched tree) still waits its delay,
as before. :func:`make_observer` builds an inotify observer whose watch groups use it, and falls
back to watchdog's default observer where inotify (or watchdog's layout) is not what we expect.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

logger = logging.getLogger(__name__)

T = TypeVar("T")


class PromptDelayQueue(Generic[T]):
    """A FIFO queue whose elements may be held back for ``delay`` seconds after insertion.

    ``get()`` returns the head once it is due; it blocks while the queue is empty or the head is
    held, and re-examines the head whenever an element is put or removed (so removing a held
    head releases the elements behind it at once). ``get()`` returns ``None`` once closed.
    """

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self._items: deque[tuple[T, float]] = deque()  # (element, due time)
        self._cond = threading.Condition()
        self._closed = False

    def put(self, element: T, *, delay: bool = False) -> None:
        """Append ``element``; with ``delay`` it is not handed out for ``self.delay`` seconds."""
        due = time.monotonic() + (self.delay if delay else 0.0)
        with self._cond:
            self._items.append((element, due))
            self._cond.notify_all()

    def get(self) -> T | None:
        """The head, once due; ``None`` when the queue is closed."""
        with self._cond:
            while True:
                if self._closed:
                    return None
                if not self._items:
                    self._cond.wait()
                    continue
                element, due = self._items[0]
                left = due - time.monotonic()
                if left > 0:
                    self._cond.wait(left)  # woken early by put/remove/close: look again
                    continue
                self._items.popleft()
                return element

    def find(self, predicate: Callable[[T], bool]) -> T | None:
        """The first element matching ``predicate`` (held or not), left in place."""
        with self._cond:
            for element, _due in self._items:
                if predicate(element):
                    return element
        return None

    def remove(self, predicate: Callable[[T], bool]) -> T | None:
        """Take out the first element matching ``predicate`` (held or not) and return it."""
        with self._cond:
            for i, (element, _due) in enumerate(self._items):
                if predicate(element):
                    del self._items[i]
                    self._cond.notify_all()
                    return element
        return None

    def clear(self) -> None:
        """Drop every element."""
        with self._cond:
            self._items.clear()
            self._cond.notify_all()

    def close(self) -> None:
        """Wake every waiter; ``get()`` returns ``None`` from now on."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()


def real_subdirectories(top: bytes) -> Iterator[bytes]:
    """Every directory below ``top`` (parents before children), not following symlinks.

    What watchdog's recursive arming walks, at one ``getdents`` per directory: its ``os.walk``
    stats every entry that is a symlink (to learn whether it points at a directory) and then
    ``lstat`` s it twice more to skip it, and a run directory is mostly step links. On 10,000 runs
    of 10 steps that was 300,000 system calls and ~2.5 s of CPU after the first paint; the entry
    types from ``scandir`` answer the same question for free. Directories that vanish or cannot
    be read meanwhile are skipped (as ``os.walk`` does).
    """
    stack = [top]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                subdirs = [e.path for e in it if e.is_dir(follow_symlinks=False)]
        except OSError:
            continue
        yield from subdirs
        stack.extend(reversed(subdirs))


MOVE_PAIRING_DELAY = 0.5
"""Seconds a ``MOVED_FROM`` waits for its ``MOVED_TO`` (watchdog's own figure)."""


def _prompt_observer_class() -> type[BaseObserver] | None:
    """An inotify observer class whose move grouping uses :class:`PromptDelayQueue`, or ``None``
    where watchdog's inotify backend is missing (not Linux)."""
    try:
        from watchdog.observers.inotify import (
            InotifyEmitter,
            InotifyObserver,
            InotifyWatchGroup,
        )
        from watchdog.observers.inotify_move_event_grouper import InotifyMoveEventGrouper
    except Exception:  # noqa: BLE001 - not Linux, or another watchdog layout: use the default
        return None

    class PromptGrouper(InotifyMoveEventGrouper):
        def __init__(self) -> None:
            super().__init__()
            self.delay = MOVE_PAIRING_DELAY
            self._queue = PromptDelayQueue(self.delay)  # type: ignore[assignment]

    @dataclass
    class PromptWatchGroup(InotifyWatchGroup):
        _move_event_grouper: InotifyMoveEventGrouper = field(
            default_factory=PromptGrouper, init=False
        )

        def _add_all_callbacks(self, path: bytes) -> None:
            if self.follow_symlink or not self.is_recursive:
                super()._add_all_callbacks(path)
                return
            self._add_callback(path)  # raises if the top itself cannot be watched
            for sub in real_subdirectories(path):
                self._add_callback(sub)

    class PromptEmitter(InotifyEmitter):
        def on_thread_start(self) -> None:
            self._inotify = PromptWatchGroup(
                self._inotify_fd,
                os.fsencode(self.watch.path),
                is_recursive=self.watch.is_recursive,
                event_mask=self.get_event_mask_from_filter(),
                follow_symlink=self.watch.follow_symlink,
            )

    class PromptInotifyObserver(InotifyObserver):
        """watchdog's inotify observer, with emitters whose rename pairing never stalls."""

        def __init__(self, *, timeout: float = 1.0) -> None:
            super().__init__(timeout=timeout)
            self._emitter_class = PromptEmitter

    return PromptInotifyObserver


def make_observer(**kwargs: Any) -> BaseObserver:
    """An inotify observer without the rename stall (watchdog's default observer where that
    cannot be built). watchdog is pinned below 8 because this reaches into its inotify classes;
    tests/monitor/test_inotify.py fails if a watchdog release changes them."""
    cls = _prompt_observer_class()
    if cls is not None:
        try:
            return cls(**kwargs)
        except Exception as e:  # noqa: BLE001 - fall back to watchdog's own choice
            logger.debug("prompt inotify observer unavailable: %s", e)
    return Observer(**kwargs)
