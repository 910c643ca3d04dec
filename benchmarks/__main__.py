"""``python -m benchmarks [--quick] [--only library|dashboard]``: print the table, write JSON.

The reference sides (ai2-tango 1.3.2, toolong 1.5) are installed on first use into
``benchmarks/.venvs/``; if an install fails the runner says so and reports our side alone.
"""

from __future__ import annotations

import argparse
import os
import shutil
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
    parser.add_argument("--quick", action="store_true",
                        help="small sizes (about a minute); the default is the full set")
    parser.add_argument("--only", choices=["library", "dashboard"],
                        help="run one group only")
    parser.add_argument("--work", type=Path,
                        help="scratch directory (default: a fresh temporary one, removed after)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("--markdown", action="store_true",
                        help="also print the table as markdown (for RESULTS.md)")
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
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    meta = {"size": size, "machine": machine(), "elapsed_s": time.perf_counter() - started,
            "argv": sys.argv[1:], "loadavg_start": load_start}
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
    print(f"\n{m['nproc']} cores ({m['cpu']}), Python {m['python']}, {m['date']}; "
          f"load average at start {meta['loadavg_start']}, at end {m['loadavg']}; "
          f"took {meta['elapsed_s']:.0f} s; JSON: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
