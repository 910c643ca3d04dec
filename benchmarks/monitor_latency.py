"""Benchmark: time from a run.json rewrite to the watcher's callback (inotify and polling).

Prints figures (never asserted in tests). Usage: ``python benchmarks/monitor_latency.py``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "monitor"))

import wsfactory as wf

from tango_tui.monitor.watcher import WorkspaceWatcher


def measure(poll: float | None, n: int = 20) -> None:
    root = Path(tempfile.mkdtemp(prefix="tt-lat-"))
    wf.init(root)
    wf.write_run(root, "r", [wf.row("A-1")])
    seen = threading.Event()
    watcher = WorkspaceWatcher(
        root, lambda b: seen.set() if "r" in b.runs else None, poll_interval=poll
    )
    watcher.start()
    time.sleep(0.3 if poll is None else 3 * poll)  # let the observer take its first snapshot
    lat = []
    for _ in range(n):
        seen.clear()
        t = time.perf_counter()
        wf.write_run(root, "r", [wf.row("A-1")])
        if seen.wait(10):
            lat.append(time.perf_counter() - t)
        time.sleep(0.1)  # separate bursts, so each rewrite is its own batch
    t = time.perf_counter()
    watcher.stop()
    stop = time.perf_counter() - t
    name = "inotify" if poll is None else f"polling {poll}s"
    print(
        f"{name:14s} seen {len(lat)}/{n}  median {statistics.median(lat) * 1000:6.1f} ms  "
        f"max {max(lat) * 1000:6.1f} ms  stop {stop * 1000:5.1f} ms  (debounce 50 ms included)"
    )


if __name__ == "__main__":
    measure(None)
    measure(0.5)
