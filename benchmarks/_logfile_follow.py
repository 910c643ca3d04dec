"""The follow half of ``bench_logfile.py``: a separate process appends lines at a steady rate
while ``LogFile`` (polled, or driven by the real watcher) reads the newest line; lag, CPU
(per thread for the watcher) and the number of file events are measured.

Kept apart from ``bench_logfile.py`` (the big-log open/tail figures and the table) so each stays
short.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

WRITER = r"""
import os, sys, time
path, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
fd = os.open(path, os.O_WRONLY | os.O_APPEND)
pad = "x" * 90
start = time.time()
seq = 0
while True:
    now = time.time()
    if now - start >= seconds:
        break
    due = int((now - start) * rate)
    while seq < due:  # one write per line, like a line-buffered logger
        os.write(fd, f"ts={time.time():.6f} seq={seq:08d} INFO train.loop {pad}\n".encode())
        seq += 1
    time.sleep(0.001)
os.close(fd)
print(seq)
"""


def follow(path: Path, rate: float, seconds: float, interval: float) -> dict[str, Any]:
    """Append ``rate`` lines/s from another process; measure newest-line lag and our CPU."""
    from tango_tui.monitor.logfile import ChangeKind, LogFile

    path.write_bytes(b"")
    log = LogFile(path).open()
    log.scan()  # a finished count, which refresh() then keeps current (as the widget would)
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(rate), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    lags: list[float] = []  # newest line on screen: now - its write time
    worst: list[float] = []  # the oldest line that is new in this refresh (waited longest)
    shown_end = 0
    usage0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    while writer.poll() is None:
        change = log.refresh()
        if change.kind is ChangeKind.APPENDED:
            shown = [ln for ln in log.tail(50) if ln.complete]
            now = time.time()
            if shown:
                lags.append(now - float(shown[-1].text[3:20]))
                first_new = log.lines_after(shown_end, 1)
                if first_new and first_new[0].complete:
                    worst.append(now - float(first_new[0].text[3:20]))
                shown_end = shown[-1].end
        time.sleep(interval)
    usage1, wall1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    written = int(writer.communicate()[0].strip() or 0)
    log.refresh()
    counted = log.line_count
    log.close()
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    lags.sort()
    worst.sort()
    return {
        "rate_lines_s": rate,
        "seconds": seconds,
        "poll_interval_s": interval,
        "lines_written": written,
        "lines_counted": counted,
        "samples": len(lags),
        "lag_p50_ms": 1000 * statistics.median(lags) if lags else None,
        "lag_p95_ms": 1000 * lags[int(0.95 * (len(lags) - 1))] if lags else None,
        "lag_max_ms": 1000 * lags[-1] if lags else None,
        "oldest_new_line_lag_p50_ms": 1000 * statistics.median(worst) if worst else None,
        "oldest_new_line_lag_p95_ms": 1000 * worst[int(0.95 * (len(worst) - 1))] if worst else None,
        "cpu_percent_of_core": 100 * cpu / (wall1 - wall0),
    }


def _thread_cpu() -> dict[int, float]:
    """CPU seconds (user + system) of each thread of this process, by native thread id."""
    out: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        out[int(task.name)] = (int(fields[11]) + int(fields[12])) / tick
    return out


def follow_watched(path: Path, rate: float, seconds: float) -> dict[str, Any]:
    """Append ``rate`` lines/s from another process; read on each watcher callback naming the log.

    The watcher watches an empty workspace directory beside the log (as the app does when a log
    outside the workspace is open); all of its cost, watchdog's threads included, is in this
    process, so the CPU figure is the data layer's whole cost of following.
    """
    from tango_tui.monitor.logfile import ChangeKind, LogFile
    from tango_tui.monitor.watcher import WorkspaceWatcher

    path.write_bytes(b"")
    workspace = path.parent / "follow-workspace"
    workspace.mkdir(exist_ok=True)
    log = LogFile(path).open()
    log.scan()
    changed = threading.Event()
    calls = 0

    def on_change(batch: Any) -> None:
        nonlocal calls
        if path in batch.files:
            calls += 1
            changed.set()

    watcher = WorkspaceWatcher(workspace, on_change)
    watcher.start()
    watcher.watch_file(path)
    lags: list[float] = []
    try:
        names = {t.native_id: t.name for t in threading.enumerate()}
        cpu0, usage0 = _thread_cpu(), resource.getrusage(resource.RUSAGE_SELF)
        wall0 = time.perf_counter()
        events0 = getattr(watcher, "events_received", None)
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(rate), str(seconds)],
            stdout=subprocess.PIPE,
            text=True,
        )
        while writer.poll() is None:
            if not changed.wait(0.1):
                continue
            changed.clear()
            if log.refresh().kind is ChangeKind.APPENDED:
                shown = [ln for ln in log.tail(50) if ln.complete]
                if shown:
                    lags.append(time.time() - float(shown[-1].text[3:20]))
        wall1 = time.perf_counter()
        usage1, cpu1 = resource.getrusage(resource.RUSAGE_SELF), _thread_cpu()
        events1 = getattr(watcher, "events_received", None)
        names.update({t.native_id: t.name for t in threading.enumerate()})
        written = int(writer.communicate()[0].strip() or 0)
    finally:
        watcher.stop()
        log.close()
    wall = wall1 - wall0
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    per_thread = {
        names.get(tid, str(tid)): round(100 * (cpu1[tid] - cpu0.get(tid, 0.0)) / wall, 1)
        for tid in cpu1
    }
    lags.sort()
    return {
        "rate_lines_s": rate,
        "seconds": seconds,
        "lines_written": written,
        "callbacks": calls,
        "events_received": None if events0 is None else events1 - events0,  # type: ignore[operator]
        "samples": len(lags),
        "lag_p50_ms": 1000 * statistics.median(lags) if lags else None,
        "lag_p95_ms": 1000 * lags[int(0.95 * (len(lags) - 1))] if lags else None,
        "cpu_percent_of_core": 100 * cpu / wall,
        "cpu_percent_by_thread": {k: v for k, v in per_thread.items() if v > 0},
    }
