"""The inotify observer without watchdog's stall behind a paired rename (monitor/_inotify.py).

The stall: watchdog holds an ``IN_MOVED_FROM`` for its pairing delay; if its emitter thread has
already taken that event as the queue's head, it sleeps the whole delay although the
``MOVED_TO`` paired it meanwhile, and every later event waits too. The tests set the pairing
delay to a minute, so a stall is a timeout here, not a matter of milliseconds.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
from pathlib import Path

import pytest
from watchdog.events import FileSystemEvent, FileSystemEventHandler

from tango_tui import LocalWorkspace, Step
from tango_tui.monitor import _inotify
from tango_tui.monitor._inotify import PromptDelayQueue, make_observer
from tango_tui.monitor.watcher import ChangeBatch, WorkspaceWatcher

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux")


def _get_in_thread(q: PromptDelayQueue[str]) -> queue.SimpleQueue[str | None]:
    out: queue.SimpleQueue[str | None] = queue.SimpleQueue()
    threading.Thread(target=lambda: out.put(q.get()), daemon=True).start()
    return out


def test_removing_a_held_head_releases_what_is_behind_it_at_once() -> None:
    q: PromptDelayQueue[str] = PromptDelayQueue(delay=60.0)
    q.put("moved-from", delay=True)
    got = _get_in_thread(q)  # blocks on the held head
    q.put("next")
    assert q.remove(lambda e: e == "moved-from") == "moved-from"
    assert got.get(timeout=10) == "next"  # not after the 60 s delay


def test_a_held_head_is_not_handed_out_and_close_wakes_the_reader() -> None:
    q: PromptDelayQueue[str] = PromptDelayQueue(delay=60.0)
    q.put("held", delay=True)
    q.put("behind")
    got = _get_in_thread(q)
    with pytest.raises(queue.Empty):
        got.get(timeout=0.3)  # still held (FIFO order is kept)
    assert q.find(lambda e: e == "held") == "held"
    q.close()
    assert got.get(timeout=10) is None


def test_due_elements_come_in_order_and_clear_empties() -> None:
    q: PromptDelayQueue[int] = PromptDelayQueue(delay=0.0)
    for i in range(3):
        q.put(i, delay=True)  # a zero delay is due at once
    assert [q.get() for _ in range(3)] == [0, 1, 2]
    q.put(7)
    q.clear()
    assert q.find(lambda e: True) is None and q.remove(lambda e: True) is None


class _Collect(FileSystemEventHandler):
    def __init__(self) -> None:
        self.events: queue.SimpleQueue[FileSystemEvent] = queue.SimpleQueue()

    def on_any_event(self, event: FileSystemEvent) -> None:
        self.events.put(event)


def test_every_renamed_directory_arrives_without_waiting_for_the_pairing_delay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One rename at a time, each awaited, as a dashboard sees run registrations. With watchdog's
    # own queue about one rename in 30 hits the race and holds every event for the pairing
    # delay (seen: 1 of 30 took the full delay), a minute here: far beyond the wait below.
    monkeypatch.setattr(_inotify, "MOVE_PAIRING_DELAY", 60.0)
    handler = _Collect()
    observer = make_observer(timeout=0.1)
    assert type(observer).__name__ == "PromptInotifyObserver"
    observer.schedule(handler, str(tmp_path), recursive=True)
    observer.start()
    try:
        for i in range(60):
            tmp = tmp_path / f".tmp-run{i:02d}"
            tmp.mkdir()
            (tmp / "run.json").write_text("{}")
            os.rename(tmp, tmp_path / f"run{i:02d}")
            while True:
                event = handler.events.get(timeout=20)  # queue.Empty = a stall
                dest = os.fsdecode(getattr(event, "dest_path", "") or "")
                if event.event_type == "moved" and dest.endswith(f"run{i:02d}"):
                    break
    finally:
        observer.stop()
        observer.join(timeout=10)
    assert not observer.is_alive()


class Add(Step):
    def run(self, x: int) -> int:  # type: ignore[override]
        return x + 1


def test_the_workspace_watcher_reports_each_registered_run_by_events_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The whole chain a dashboard relies on: the real library registers runs (a directory built
    # under a temporary name, then renamed), the watcher reports each one through the prompt
    # observer. Reconciles are pushed out of the test's reach, so only events can deliver. (The
    # stall itself needs GIL contention to show; the queue tests above pin it down exactly.)
    monkeypatch.setattr(_inotify, "MOVE_PAIRING_DELAY", 60.0)
    ws = LocalWorkspace(tmp_path / "ws")
    batches: queue.SimpleQueue[ChangeBatch] = queue.SimpleQueue()
    watcher = WorkspaceWatcher(
        ws.dir, batches.put, reconcile_interval=600.0, full_reconcile_interval=600.0
    )
    watcher.start()
    try:
        for i in range(25):
            name = f"run{i:02d}"
            ws.register_run([Add(x=i)], name)
            while name not in batches.get(timeout=20).runs:  # queue.Empty = a stall
                pass
    finally:
        watcher.stop()
