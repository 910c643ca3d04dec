"""Benchmark of ``tango_tui.monitor.logfile.LogFile`` at the data layer (no Textual).

Figures (issue 5's log targets: last line < 0.3 s, anonymous RSS < 100 MB, follow lag p95
< 250 ms at < 30% of a core):

* **open**: in a fresh process, ``LogFile(path).open()`` + ``tail(50)`` on a ~1 GB / ~7.3 M-line
  log (the time until the last line could be drawn), then peak RSS (VmHWM) and anonymous RSS
  (RssAnon); then the full background line count (``scan()``), "go to line" in the middle, and
  a backward search for a string that only occurs on the first line (the worst case).
* **follow**: a separate writer process appends 10,000 lines/s, one ``write`` per line, each line
  carrying its write time; this process calls ``refresh()`` + ``tail(50)`` every ``--interval``
  seconds (a stand-in for the watcher's debounced events) and records newest-line lag = read
  time - write time, and its own CPU time (``getrusage``) over the wall time.
* **follow through the watcher**: the same writer, but the reads are driven by what the app
  uses: a ``WorkspaceWatcher`` (inotify) with ``watch_file(log)``, one ``refresh()`` +
  ``tail(50)`` per callback naming the log. CPU is the whole process's (the watcher's and
  watchdog's threads included), split per thread from ``/proc/self/task``, plus how many file
  events reached the watcher (one write per line is what a line-buffered logger does: 10,000
  writes a second).

Usage::

    .venv/bin/python -m benchmarks.bench_logfile [--size-mb 1024] [--follow-seconds 10]
    .venv/bin/python -m benchmarks.bench_logfile --follow-only   # the two follow figures alone

Prints a table and writes ``benchmarks/results/logfile.json``. The big log is kept in
``/tmp/tango-tui-bench/`` and reused while its size matches.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ._logfile_follow import follow, follow_watched

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results" / "logfile.json"
DATA = Path("/tmp/tango-tui-bench")

_LINE = (
    "2026-11-29 07:{m:02d}:{s:02d},{ms:03d} INFO  tango_tui.step[fancy-llama-{seq:07d}] "
    "epoch={e} batch={b:05d} loss={loss:.6f} lr=3.0e-04 tokens/s={t:5d} {pad}\n"
)
FIRST = "2026-11-29 07:00:00,000 INFO  FIRST-LINE-ONLY-HERE run started\n"


def status_kb(field: str) -> int:
    """A ``kB`` field of /proc/self/status (0 where /proc is missing)."""
    try:
        for row in Path("/proc/self/status").read_text().splitlines():
            if row.startswith(field + ":"):
                return int(row.split()[1])
    except OSError:
        pass
    return 0


def make_log(path: Path, size: int) -> int:
    """Write a log of about ``size`` bytes (lines of ~147 bytes); return its line count."""
    block_lines = [
        _LINE.format(
            m=i // 600 % 60,
            s=i // 10 % 60,
            ms=i % 1000,
            seq=i,
            e=i // 1000,
            b=i % 100_000,
            loss=1 / (i + 1),
            t=10_000 + i % 50_000,
            pad="." * (i * 7919 % 41),
        )
        for i in range(20_000)
    ]
    block = "".join(block_lines).encode()
    lines = 1
    with open(path, "wb") as f:
        f.write(FIRST.encode())
        written = len(FIRST)
        while written + len(block) <= size:
            f.write(block)
            written += len(block)
            lines += len(block_lines)
    return lines


def worker_open(path: Path) -> dict[str, Any]:
    """Runs in a fresh process: open + tail, memory, then count, go-to-line and search."""
    t0 = time.perf_counter()
    from tango_tui.monitor.logfile import LogFile

    t_import = time.perf_counter()
    log = LogFile(path).open()
    last = log.tail(50)
    t_tail = time.perf_counter()
    assert last and last[-1].complete
    out: dict[str, Any] = {
        "import_s": t_import - t0,
        "open_tail50_s": t_tail - t_import,
        "hwm_after_tail_mb": status_kb("VmHWM") / 1024,
        "anon_after_tail_mb": status_kb("RssAnon") / 1024,
    }
    t = time.perf_counter()
    log.scan()
    out["scan_s"] = time.perf_counter() - t
    out["lines"] = log.line_count
    t = time.perf_counter()
    middle = log.offset_of_line((log.line_count or 2) // 2)
    assert middle is not None and log.lines_after(middle, 50)
    out["goto_middle_s"] = time.perf_counter() - t
    t = time.perf_counter()
    hit = log.search("first-line-only-here", log.size, backwards=True)
    out["search_back_whole_file_s"] = time.perf_counter() - t
    assert hit is not None and hit.offset == 0
    out["hwm_mb"] = status_kb("VmHWM") / 1024
    out["anon_mb"] = status_kb("RssAnon") / 1024
    count = log._count  # two 8-byte arrays: line index and offset per checkpoint
    out["checkpoints_kb"] = (len(count.lines_at) + len(count.offsets)) * 8 / 1024
    log.close()
    return out


def _follow_rows(followed: dict[str, Any], watched: dict[str, Any]) -> list[tuple[str, str, str]]:
    by_thread = ", ".join(f"{k} {v}" for k, v in watched["cpu_percent_by_thread"].items())
    return [
        (
            f"follow {followed['rate_lines_s']:,.0f} lines/s: lag p50",
            f"{followed['lag_p50_ms']:.1f} ms",
            "",
        ),
        ("follow: lag p95", f"{followed['lag_p95_ms']:.1f} ms", "< 250 ms"),
        (
            "follow: oldest new line's lag p50 / p95",
            (
                f"{followed['oldest_new_line_lag_p50_ms']:.1f} / "
                f"{followed['oldest_new_line_lag_p95_ms']:.1f} ms"
            ),
            "(includes the refresh period)",
        ),
        ("follow: reader CPU", f"{followed['cpu_percent_of_core']:.1f} % of a core", "< 30 %"),
        (
            "follow: lines written / counted",
            f"{followed['lines_written']:,} / {followed['lines_counted']:,}",
            "equal",
        ),
        (
            "follow through the watcher: lag p50 / p95",
            f"{watched['lag_p50_ms'] or 0:.1f} / {watched['lag_p95_ms'] or 0:.1f} ms",
            "< 250 ms",
        ),
        (
            "  CPU, watcher + watchdog threads included",
            f"{watched['cpu_percent_of_core']:.1f} % of a core",
            "",
        ),
        ("  by thread (% of a core)", by_thread, ""),
        (
            "  file events reaching the watcher / callbacks",
            f"{watched['events_received']} / {watched['callbacks']}",
            "",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="size of the big log")
    parser.add_argument("--runs", type=int, default=3, help="fresh processes for the open figure")
    parser.add_argument("--follow-seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=10_000.0, help="lines/s appended")
    parser.add_argument("--interval", type=float, default=0.05, help="refresh period (s)")
    parser.add_argument("--follow-only", action="store_true", help="only the two follow figures")
    parser.add_argument("--worker-open", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker_open:
        print(json.dumps(worker_open(args.worker_open)))
        return 0

    DATA.mkdir(parents=True, exist_ok=True)
    if args.follow_only:
        followed = follow(DATA / "follow.log", args.rate, args.follow_seconds, args.interval)
        watched = follow_watched(DATA / "follow-watched.log", args.rate, args.follow_seconds)
        rows = _follow_rows(followed, watched)
        width = max(len(r[0]) for r in rows)
        for name, value, target in rows:
            print(f"  {name:<{width}}  {value:>28}  {target}")
        print(json.dumps({"follow": followed, "follow_watched": watched, "load": os.getloadavg()}))
        return 0
    big = DATA / f"log-{args.size_mb}mb.log"
    size = args.size_mb * 2**20
    free = shutil.disk_usage(DATA).free
    if not big.exists() or abs(big.stat().st_size - size) > 8 * 2**20:  # block-sized slack
        if free < size * 1.5:
            print(f"not enough space in {DATA} for a {args.size_mb} MB log ({free >> 20} MB free)")
            return 1
        t = time.perf_counter()
        make_log(big, size)
        print(
            f"[bench] wrote {big} ({big.stat().st_size >> 20} MB) in {time.perf_counter() - t:.1f} s"
        )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    runs = []
    for _ in range(args.runs):
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_logfile", "--worker-open", str(big)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    opened = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    followed = follow(DATA / "follow.log", args.rate, args.follow_seconds, args.interval)
    watched = follow_watched(DATA / "follow-watched.log", args.rate, args.follow_seconds)

    rows = [
        ("log size", f"{big.stat().st_size / 2**20:,.0f} MB, {opened['lines']:,.0f} lines", ""),
        (
            "open + tail(50) (median of fresh processes)",
            f"{opened['open_tail50_s'] * 1000:.1f} ms",
            "< 300 ms",
        ),
        ("  import of tango_tui.monitor.logfile", f"{opened['import_s'] * 1000:.1f} ms", ""),
        ("peak RSS after tail", f"{opened['hwm_after_tail_mb']:.1f} MB", ""),
        ("anonymous RSS after tail", f"{opened['anon_after_tail_mb']:.1f} MB", "< 100 MB"),
        ("full line count (background scan)", f"{opened['scan_s']:.2f} s", ""),
        ("go to the middle line + 50 lines", f"{opened['goto_middle_s'] * 1000:.1f} ms", ""),
        ("backward search over the whole file", f"{opened['search_back_whole_file_s']:.2f} s", ""),
        (
            "peak / anonymous RSS after all of it",
            f"{opened['hwm_mb']:.1f} / {opened['anon_mb']:.1f} MB",
            "anon < 100 MB",
        ),
        ("line index size", f"{opened['checkpoints_kb']:.0f} KB", ""),
        *_follow_rows(followed, watched),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"\nLogFile benchmark ({platform.node()}, {os.cpu_count()} CPUs, warm page cache)")
    for name, value, target in rows:
        print(f"  {name:<{width}}  {value:>28}  {target}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "logfile",
                "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                },
                "log": {"path": str(big), "size_bytes": big.stat().st_size, **opened, "runs": runs},
                "follow": followed,
                "follow_watched": watched,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nwrote {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
