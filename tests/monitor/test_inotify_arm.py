"""Arming a recursive watch with the prompt inotify observer (monitor/_inotify.py).

watchdog's own arming stats every symlink below the watched directory three times; ours reads
the entry types from ``scandir``. The watched set must be the same: every real directory, at any
depth, and no directory reached through a symlink.
"""

from __future__ import annotations

import queue
import sys
import time
from pathlib import Path

import pytest
from watchdog.events import FileSystemEvent, FileSystemEventHandler

from tango_tui.monitor._inotify import make_observer, real_subdirectories

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux")

DEADLINE = 20.0


class _Events(FileSystemEventHandler):
    def __init__(self) -> None:
        self.q: queue.SimpleQueue[FileSystemEvent] = queue.SimpleQueue()

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type == "created":
            self.q.put(event)

    def created_until(self, path: Path) -> set[str]:
        """Paths of creations up to and including ``path`` (fails after the deadline)."""
        seen: set[str] = set()
        deadline = time.monotonic() + DEADLINE
        while str(path) not in seen:
            seen.add(str(self.q.get(timeout=max(0.0, deadline - time.monotonic())).src_path))
        return seen


def _tree(tmp_path: Path) -> tuple[Path, Path]:
    top, outside = tmp_path / "runs", tmp_path / "outside"
    (top / "r1" / "steps" / "deep").mkdir(parents=True)
    (top / "r2").mkdir()
    (outside / "inner").mkdir(parents=True)
    (top / "r1" / "s0").symlink_to(outside)  # a step link: never followed
    (top / "r2" / "gone").symlink_to(tmp_path / "missing")  # dangling
    (top / "r2" / "run.json").write_text("{}")
    return top, outside


def test_real_subdirectories_lists_every_real_directory_parents_first(tmp_path: Path) -> None:
    top, _ = _tree(tmp_path)
    found = [Path(p.decode()) for p in real_subdirectories(str(top).encode())]
    assert sorted(found) == sorted(
        [top / "r1", top / "r1" / "steps", top / "r1" / "steps" / "deep", top / "r2"]
    )
    assert found.index(top / "r1") < found.index(top / "r1" / "steps")
    assert found.index(top / "r1" / "steps") < found.index(top / "r1" / "steps" / "deep")
    assert list(real_subdirectories(str(tmp_path / "nowhere").encode())) == []


def test_a_recursive_watch_sees_deep_directories_and_not_through_links(tmp_path: Path) -> None:
    top, outside = _tree(tmp_path)
    handler = _Events()
    observer = make_observer()
    observer.start()
    try:
        observer.schedule(handler, str(top), recursive=True)
        # Written through the link's target first: a watch there would report it before the
        # marker below (one inotify descriptor keeps the kernel's order).
        (outside / "inner" / "x.txt").write_text("x")
        marker = top / "r1" / "steps" / "deep" / "marker"
        marker.write_text("m")
        seen = handler.created_until(marker)
        assert not [p for p in seen if p.startswith(str(outside))], seen
        assert not [p for p in seen if "/s0/" in p], seen
        # A directory made after arming is armed too (watchdog's own path for creations).
        (top / "r3" / "steps").mkdir(parents=True)
        late = top / "r3" / "steps" / "later"
        late.write_text("l")
        assert str(late) in handler.created_until(late)
    finally:
        observer.stop()
        observer.join()
