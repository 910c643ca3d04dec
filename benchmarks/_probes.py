"""The tmux-driven probes of the dashboard benchmark: open a log in our app or in toolong (or
``less +G``) and time its last screenful with the memory it took, and follow a log being
appended, sampling the newest line's lag and the app's CPU.

Kept apart from ``bench_dashboard.py`` (which decides what to run and builds the table) so
each stays short.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from . import _tmux
from ._harness import OURS_PYTHON, WORKERS, percentile

SEQ = re.compile(r"seq=(\d{8}) t=(\d+\.\d+)")


def _ours_log_argv(ws: Path, log: Path) -> list[str]:
    return [
        str(OURS_PYTHON),
        str(WORKERS / "app_ours.py"),
        json.dumps({"ws": str(ws), "log": str(log)}),
    ]


def _toolong_argv(python: Path, log: Path) -> list[str]:
    return [str(python.parent / "tl"), str(log)]


def _open_log(
    argv: list[str], marker: str, timeout: float, also: str = ""
) -> dict[str, Any] | None:
    """Launch; time until ``marker`` (and ``also``) are on screen; peak and anonymous RSS."""
    app = _tmux.TmuxApp(argv, env={"PYTHONPATH": str(WORKERS)})
    peak_anon = 0.0

    def seen(text: str) -> bool:
        nonlocal peak_anon
        try:
            peak_anon = max(peak_anon, app.memory_mb().get("RssAnon", 0.0))
        except OSError:
            pass
        return marker in text and also in text

    try:
        t0 = app.start()
        t = app.wait_for(seen, timeout, every=0.005)
        if t is None:
            print(f"[bench] {argv[0]}: {marker} never showed; screen:\n{app.capture()}")
            return None
        # Let a lazy indexer settle a moment, then read the peak (VmHWM is a high-water mark).
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            seen("")
            time.sleep(0.05)
        mem = app.memory_mb()
        return {
            "shown_s": t - t0,
            "peak_rss_mb": mem["VmHWM"],
            "anon_mb": max(peak_anon, mem["RssAnon"]),
        }
    finally:
        app.stop()


def _follow(
    argv: list[str], log: Path, rate: int, seconds: float, mode: str = "batch"
) -> dict[str, Any] | None:
    """Open ``log``, append ``rate`` lines/s for ``seconds`` (``mode``: ``batch`` = 100 lines a
    write, ``line`` = one write per line); newest-line lag samples and CPU%."""
    app = _tmux.TmuxApp(argv, env={"PYTHONPATH": str(WORKERS)})
    try:
        app.start()
        if app.wait_for(lambda t: "FOLLOW-START" in t, 60) is None:
            print(f"[bench] {argv[0]}: follow log never opened; screen:\n{app.capture()}")
            return None
        time.sleep(1.0)  # settle: start-up work is not part of following
        cpu0, t0 = app.cpu_seconds(), time.monotonic()
        writer = subprocess.Popen(
            [
                sys.executable,
                str(WORKERS / "log_appender.py"),
                str(log),
                str(rate),
                str(seconds),
                mode,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        lags: list[float] = []
        never = 0
        while writer.poll() is None:
            before = time.monotonic()
            text = app.capture()
            at = (before + time.monotonic()) / 2
            found = [(int(s), float(t)) for s, t in SEQ.findall(text)]
            if found:
                lags.append(at - max(found)[1])
            elif time.monotonic() - t0 > 1.0:
                never += 1
            time.sleep(0.05)
        cpu1, t1 = app.cpu_seconds(), time.monotonic()
        wrote = json.loads(writer.stdout.read().strip().splitlines()[-1])
        return {
            "lag_p50": percentile(lags, 50),
            "lag_p95": percentile(lags, 95),
            "cpu_pct": 100 * (cpu1 - cpu0) / (t1 - t0),
            "rate": wrote["rate"],
            "samples": len(lags),
            "no_line_samples": never,
            "lags": lags,
        }
    finally:
        app.stop()


def _fresh_follow_log(path: Path) -> None:
    with open(path, "w") as f:
        f.writelines(f"2026-11-29 07:00:00,000 INFO  warm-up line {i}\n" for i in range(1000))
        f.write("2026-11-29 07:00:00,000 INFO  FOLLOW-START\n")


def _less_open(log: Path, marker: str) -> float | None:
    app = _tmux.TmuxApp(["less", "+G", str(log)])
    try:
        t0 = app.start()
        t = app.wait_for(lambda text: marker in text, 60, every=0.002)
        return None if t is None else t - t0
    finally:
        app.stop()
