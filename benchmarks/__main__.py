"""``python -m benchmarks [--quick] [--only library|dashboard]``: print the table, write JSON.

The reference sides (ai2-tango 1.3.2, toolong 1.5) are installed on first use into
``benchmarks/.venvs/``; if an install fails the runner says so and reports our side alone.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import bench_library
from ._harness import Row, machine, reference_python, table, write_json


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes (about a minute); the default is the full set",
    )
    parser.add_argument(
        "--only",
        choices=["library", "dashboard", "logfile"],
        help="run one group only (logfile: LogFile at the data layer, no UI)",
    )
    parser.add_argument(
        "--work",
        type=Path,
        help="scratch directory (default: a fresh temporary one, removed after)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument(
        "--markdown", action="store_true", help="also print the table as markdown (for RESULTS.md)"
    )
    args = parser.parse_args(argv)
    size = "quick" if args.quick else "full"

    work = args.work or Path(tempfile.mkdtemp(prefix="tango-tui-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"[bench] {size} run, scratch directory {work}", flush=True)
    started = time.perf_counter()
    load_start = [round(x, 2) for x in os.getloadavg()]
    rows: list[Row] = []
    shared: dict[str, Any] = {}
    try:
        if args.only in (None, "library"):
            tango = reference_python("tango")
            rows += bench_library.run(size, work, tango)
            shared["big_ws"] = work / f"ours-ws-{bench_library.SIZES[size]['big_runs']}"
        if args.only in (None, "dashboard"):
            from . import bench_dashboard

            toolong = reference_python("toolong")
            rows += bench_dashboard.run(size, work, toolong, shared)
        if args.only in (None, "logfile"):
            rows += _logfile(size)
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    meta = {
        "size": size,
        "machine": machine(),
        "elapsed_s": time.perf_counter() - started,
        "argv": sys.argv[1:],
        "loadavg_start": load_start,
    }
    print()
    print(table(rows))
    for r in rows:
        if r.note:
            print(f"note: {r.operation.strip()}: {r.note}")
    if args.markdown:
        print()
        print(table(rows, markdown=True))
    path = write_json(rows, meta)
    m = meta["machine"]
    print(
        f"\n{m['nproc']} cores ({m['cpu']}), Python {m['python']}, {m['date']}; "
        f"load average at start {meta['loadavg_start']}, at end {m['loadavg']}; "
        f"took {meta['elapsed_s']:.0f} s; JSON: {path}"
    )
    return 0


def _logfile(size: str) -> list[Row]:
    """Run ``bench_logfile.py`` (the LogFile data layer, no Textual) and take its key figures."""
    from ._harness import REPO, RESULTS

    print("[bench] logfile: LogFile at the data layer (benchmarks/bench_logfile.py)", flush=True)
    argv = (
        ["--size-mb", "100", "--runs", "1", "--follow-seconds", "2"]
        if size == "quick"
        else ["--size-mb", "1024", "--runs", "3", "--follow-seconds", "10"]
    )
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_logfile", *argv], cwd=REPO, check=False
    )
    out = RESULTS / "logfile.json"
    if proc.returncode != 0 or not out.exists():
        print(f"[bench] bench_logfile exited {proc.returncode}: no logfile figures")
        return []
    data = json.loads(out.read_text())
    lg, fo = data["log"], data["follow"]
    mb = lg["size_bytes"] / 1e9
    return [
        Row(
            "logfile",
            f"LogFile.open() + tail(50), {mb:.3g} GB log (no UI)",
            "s",
            lg["open_tail50_s"],
            target="< 0.3 s",
            met=lg["open_tail50_s"] < 0.3,
        ),
        Row(
            "logfile",
            "  anonymous RSS after the tail (no UI)",
            "MB",
            lg["anon_after_tail_mb"],
            target="< 100 MB",
            met=lg["anon_after_tail_mb"] < 100,
        ),
        Row(
            "logfile",
            f"LogFile follow {fo['rate_lines_s']:,.0f} lines/s: lag p95 (no UI)",
            "ms",
            fo["lag_p95_ms"],
        ),
        Row("logfile", "  CPU of the reader (no UI, % of a core)", "%", fo["cpu_percent_of_core"]),
    ]


if __name__ == "__main__":
    sys.exit(main())
