"""Benchmark: the monitor's run listing on 10,000 runs and run detail on 1,000 steps.

Prints figures (never asserted in tests). Usage: ``python benchmarks/monitor_listing.py [DIR]``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "monitor"))

import wsfactory as wf

from tango_tui.core._liveness import current_owner
from tango_tui.core._model import StepReason, StepState
from tango_tui.monitor.source import open_source


def timed(label: str, fn, repeat: int = 3) -> None:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    print(f"{label:55s} {best * 1000:9.1f} ms")


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="tt-bench-"))
    wf.init(root)
    plan = [wf.row(f"S{i}-x", StepState.COMPLETED) for i in range(5)]
    t = time.perf_counter()
    for i in range(10_000):
        wf.write_run(
            root,
            f"run-{i:05d}",
            plan,
            start=wf.T0 + timedelta(seconds=i),
            end=wf.T0,
            status="completed",
        )
    print(f"wrote 10,000 runs in {time.perf_counter() - t:.1f} s under {root}")
    big = [
        wf.row(
            f"Step{i}-x",
            StepState.INCOMPLETE,
            StepReason.PENDING,
            dependencies=(f"Step{i - 1}-x",) if i else (),
        )
        for i in range(1000)
    ]
    wf.write_run(root, "big", big, owner=current_owner())
    for i in range(1000):
        wf.write_step(
            root,
            wf.running_info(f"Step{i}-x", wf.DEAD_OWNER)
            if i % 2
            else wf.StepInfo(unique_id=f"Step{i}-x", step_class_name="Step"),
        )
    timed(
        "open_source + first list_runs (10,001 runs, cold)",
        lambda: open_source(root).list_runs(),
        1,
    )
    src = open_source(root)
    src.list_runs()
    timed("list_runs again (stat each, reuse rows)", src.list_runs)
    timed("refresh_runs({one name})", lambda: src.refresh_runs({"run-00042"}))
    src2 = open_source(root)
    timed("run_detail of a 1,000-step live run (cold)", lambda: src2.run_detail("big"), 1)
    timed("run_detail of a 1,000-step live run (warm)", lambda: src2.run_detail("big"))


if __name__ == "__main__":
    main()
