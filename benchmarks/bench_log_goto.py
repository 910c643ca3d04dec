"""Go to line, line numbers and the search count on a ~1 GB log, in the real (headless) app.

Figures, each from pressing keys in ``App.run_test()`` on the big log of ``bench_logfile``
(``/tmp/tango-tui-bench/log-1024mb.log``, ~7.3 M lines; run ``bench_logfile`` first to make it):

* **go to the middle, cold**: ``:`` + line number + enter on a freshly opened log, until that
  line is the top line (the count runs from the start to that line in a worker thread).
* **go to the middle, counted**: the same once the whole file has been counted.
* **line numbers**: ``#`` until the last line's number is drawn (the whole count), and meanwhile
  how late a 10 ms ``asyncio.sleep`` on the UI's event loop wakes up (p50/p95/max), against the
  same measure with nothing counting: what the count costs the UI.
* **escape**: Escape in the middle of a count, until the count thread has stopped.
* **search count**: ``/`` for text on the first line only, from the top, until "match 1 of 1"
  (every byte looked at); and for text on every line, until "1,000+" (the cap).

Usage::

    .venv/bin/python -m benchmarks.bench_log_goto [--path LOG]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tango_tui.app import make_app
from tango_tui.app.screens.log import LogScreen
from tango_tui.app.widgets.log_lines import LogLines
from tango_tui.app.widgets.log_view import LogView

DEFAULT = Path("/tmp/tango-tui-bench/log-1024mb.log")


async def until(pilot: Any, condition: Any, timeout: float = 120.0) -> float:
    """Seconds until ``condition()`` holds (checked every 5 ms)."""
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > timeout:
            raise TimeoutError("condition not met")
        await pilot.pause(0.005)
    return time.perf_counter() - start


async def loop_lag(pilot: Any, seconds: float, busy: Any = None) -> list[float]:
    """Lateness (ms) of 10 ms sleeps on the app's loop for ``seconds`` (or while ``busy()``)."""
    lags = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end and (busy is None or busy()):
        t = time.perf_counter()
        await asyncio.sleep(0.01)
        lags.append((time.perf_counter() - t - 0.01) * 1000)
    return lags


def summary(lags: list[float]) -> str:
    lags = sorted(lags)
    p95 = lags[int(len(lags) * 0.95)] if lags else 0.0
    return f"p50 {statistics.median(lags):.1f} ms, p95 {p95:.1f} ms, max {lags[-1]:.1f} ms"


async def open_log(app: Any, pilot: Any, path: Path) -> LogLines:
    await until(pilot, lambda: getattr(app.screen, "loaded", False))
    app.push_screen(LogScreen(path, title=path.name))
    await until(pilot, lambda: isinstance(app.screen, LogScreen) and app.screen.query(LogLines))
    lines = app.screen.query_one(LogLines)
    await until(pilot, lambda: bool(lines.window))
    return lines


async def counted_session(path: Path, root: Path, middle: int) -> None:
    """``#`` (the whole count) with the UI loop's lateness, then what needs the count."""
    app = make_app(str(root))
    async with app.run_test(size=(120, 40)) as pilot:
        lines = await open_log(app, pilot, path)
        log = lines.logfile
        idle = await loop_lag(pilot, 2.0)
        t = time.perf_counter()
        lines.action_toggle_numbers()  # as "#" does, without the Pilot's wait for idle
        counting = await loop_lag(pilot, 120.0, busy=lambda: log.line_count is None)
        await until(pilot, lambda: log.line_count is not None)
        print(
            f"line numbers: whole count {time.perf_counter() - t:.2f} s, {log.line_count:,} lines"
        )
        print(f"  UI loop lateness idle:     {summary(idle)}")
        print(f"  UI loop lateness counting: {summary(counting)}")

        await pilot.press("colon", *str(middle))
        t = time.perf_counter()
        await pilot.press("enter")
        await until(pilot, lambda: lines.window[0].offset == log.offset_of_line(middle))
        print(f"go to line {middle:,}, counted: {(time.perf_counter() - t) * 1000:.0f} ms")

        view = app.screen.query_one(LogView)
        await pilot.press("g", "slash", *"FIRST-LINE-ONLY-HERE")
        t = time.perf_counter()
        await pilot.press("enter")
        await until(pilot, lambda: "match 1 of 1;" in view.search_status)
        print(f"search count, 1 match, on the first line: {time.perf_counter() - t:.2f} s")
        await pilot.press("g", "slash", *"epoch=")
        t = time.perf_counter()
        await pilot.press("enter")
        await until(pilot, lambda: "1,000+" in view.search_status)
        print(f"search count, a match on every line: {(time.perf_counter() - t) * 1000:.0f} ms")


async def cold_session(path: Path, root: Path, middle: int) -> None:
    """Go to the middle with nothing counted; then Escape in the middle of a count."""
    for escape in (False, True):
        app = make_app(str(root))
        async with app.run_test(size=(120, 40)) as pilot:
            lines = await open_log(app, pilot, path)
            log = lines.logfile
            await pilot.press("colon", *str(middle))
            t = time.perf_counter()
            await pilot.press("enter")
            if not escape:
                await until(
                    pilot, lambda ln=lines: ln.goto_line is None and ln.window[0].offset > 0
                )
                took = time.perf_counter() - t
                assert lines.window[0].offset == log.offset_of_line(middle)
                print(f"go to line {middle:,}, cold: {took:.2f} s")
                continue
            await until(pilot, lambda lf=log: lf.scan_progress > 0.2)
            await pilot.press("escape")
            at_escape = log.counted_lines
            await pilot.pause(0.5)
            later = log.counted_lines
            await pilot.pause(1.0)
            print(
                f"escape at {at_escape / log.approx_line_count:.0%} of the count: "
                f"{later - at_escape:,} more lines counted after it, "
                f"{log.counted_lines - later:,} in the second after"
            )


async def session(path: Path, root: Path, total: int) -> None:
    await cold_session(path, root, total // 2)
    await counted_session(path, root, total // 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=DEFAULT)
    args = parser.parse_args()
    path: Path = args.path
    if not path.exists():
        raise SystemExit(f"{path}: missing; `python -m benchmarks.bench_logfile` makes it")
    with open(path, "rb") as f:  # warm the page cache, as a log being written is
        total = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 24), b""))
    print(
        f"{path}: {path.stat().st_size / 2**20:,.0f} MiB, {total:,} lines; load {os.getloadavg()}"
    )
    with tempfile.TemporaryDirectory() as root:
        asyncio.run(session(path, Path(root), total))
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
