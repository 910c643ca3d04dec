"""What one step start+finish costs on a LocalWorkspace, and how much of it is fsync.

Usage: ``python scripts/step_cycle_cost.py [--dir DIR] [-n N]``. Runs ``step_starting`` +
``step_finished(step, int)`` of N fresh cacheable steps in a temporary workspace under DIR (the
filesystem is what matters: ext4 vs tmpfs), counting ``os.fsync`` calls per cycle, and also times
a lone fsync of a small new file there, so the cycle splits into CPU work and disk flushes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from typing import Any

from tango_tui import LocalWorkspace, Step


class Value(Step):
    """Returns its argument."""

    def run(self, value: Any) -> Any:  # type: ignore[override]
        return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where the workspace goes")
    parser.add_argument("-n", type=int, default=300, help="step cycles to time")
    args = parser.parse_args()
    calls = [0]
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        calls[0] += 1
        real_fsync(fd)

    os.fsync = counting_fsync  # type: ignore[assignment]
    with tempfile.TemporaryDirectory(dir=args.dir) as root:
        ws = LocalWorkspace(root)
        cycles, fsyncs = [], []
        for i in range(args.n):
            step = Value(value=i)
            before = calls[0]
            t0 = time.perf_counter()
            ws.step_starting(step)
            ws.step_finished(step, i)
            cycles.append(time.perf_counter() - t0)
            fsyncs.append(calls[0] - before)
        lone = []
        for i in range(min(args.n, 100)):
            path = os.path.join(root, f"probe.{i}")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, b"{}")
            t0 = time.perf_counter()
            real_fsync(fd)
            lone.append(time.perf_counter() - t0)
            os.close(fd)
    ms = 1000.0
    cycles.sort()
    print(
        f"dir {args.dir}: {args.n} cycles, median {statistics.median(cycles) * ms:.2f} ms, "
        f"p90 {cycles[int(len(cycles) * 0.9)] * ms:.2f} ms; fsyncs per cycle {statistics.mode(fsyncs)}; "
        f"one fsync of a small new file: median {statistics.median(lone) * ms:.2f} ms"
    )


if __name__ == "__main__":
    main()
