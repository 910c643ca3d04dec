"""What one step start+finish costs on a LocalWorkspace, split into its phases.

Usage: ``python scripts/step_cycle_cost.py [--dir DIR] [-n N] [--value-size B]``. Runs
``step_starting`` + ``step_finished(step, value)`` of N fresh cacheable steps in a temporary
workspace under DIR (the filesystem is what matters: ext4 vs tmpfs). The file-system calls the
library makes through :mod:`os` are wrapped to count and time them, so each cycle splits into:

* ``fsync``: flushes (one per small result: its marker; two for a ``result/`` directory);
* ``create``: ``os.open(O_CREAT)`` and ``os.mkdir`` (new inodes: on ext4 these cost far more
  than a rename or a read);
* ``other``: every other wrapped call (rename, unlink, read-only open, write, close, flock);
* ``python``: the rest (encoding, bookkeeping).

It also times a lone fsync of a small new file there. ``--value-size B`` stores a string of B
characters (above the inline limit, 16 KiB, the result gets its own ``result/`` directory).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from tango_tui import LocalWorkspace, Step


class Value(Step):
    """Returns its argument."""

    def run(self, value: Any) -> Any:  # type: ignore[override]
        return value


class Meter:
    """Per-kind call counts and seconds, for the current cycle."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.seconds: dict[str, float] = {}

    def reset(self) -> None:
        self.calls.clear()
        self.seconds.clear()

    def wrap(self, module: Any, name: str, kind: Callable[..., str]) -> None:
        real = getattr(module, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                k = kind(*args, **kwargs)
                self.calls[k] = self.calls.get(k, 0) + 1
                self.seconds[k] = self.seconds.get(k, 0.0) + time.perf_counter() - t0

        setattr(module, name, timed)


def _open_kind(path: Any, flags: int, *args: Any, **kwargs: Any) -> str:
    return "create" if flags & os.O_CREAT else "other"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where the workspace goes")
    parser.add_argument("-n", type=int, default=300, help="step cycles to time")
    parser.add_argument("--value-size", type=int, default=0, help="store a string this long")
    args = parser.parse_args()
    real_fsync = os.fsync
    meter = Meter()
    meter.wrap(os, "fsync", lambda *a: "fsync")
    meter.wrap(os, "open", _open_kind)
    meter.wrap(os, "mkdir", lambda *a, **k: "create")
    for name in ("rename", "replace", "unlink", "write", "close", "read", "scandir"):
        meter.wrap(os, name, lambda *a, **k: "other")
    meter.wrap(fcntl, "flock", lambda *a: "other")
    kinds = ("fsync", "create", "other")
    with tempfile.TemporaryDirectory(dir=args.dir) as root:
        ws = LocalWorkspace(root)
        cycles: list[float] = []
        starts: list[float] = []
        per_kind: dict[str, list[float]] = {k: [] for k in kinds}
        counts: dict[str, list[int]] = {k: [] for k in kinds}
        for i in range(args.n):
            value: Any = "v" * args.value_size if args.value_size else i
            step = Value(value=value if args.value_size == 0 else f"{i}:{value}")
            meter.reset()
            t0 = time.perf_counter()
            ws.step_starting(step)
            t1 = time.perf_counter()
            ws.step_finished(step, value)
            t2 = time.perf_counter()
            cycles.append(t2 - t0)
            starts.append(t1 - t0)
            for k in kinds:
                per_kind[k].append(meter.seconds.get(k, 0.0))
                counts[k].append(meter.calls.get(k, 0))
        lone = []
        for i in range(min(args.n, 100)):
            path = os.path.join(root, f"probe.{i}")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, b"{}")
            t0 = time.perf_counter()
            real_fsync(fd)
            lone.append(time.perf_counter() - t0)
            os.close(fd)

    def ms(values: list[float]) -> str:
        return f"{statistics.median(values) * 1000:.2f} ms"

    python = [c - sum(per_kind[k][i] for k in kinds) for i, c in enumerate(cycles)]
    finishes = [c - s for c, s in zip(cycles, starts, strict=True)]
    print(
        f"dir {args.dir}: {args.n} cycles, median {ms(cycles)} "
        f"(start {ms(starts)}, finish {ms(finishes)}), p90 "
        f"{sorted(cycles)[int(len(cycles) * 0.9)] * 1000:.2f} ms"
    )
    for k in kinds:
        print(f"  {k:7s} {statistics.mode(counts[k])} calls, median {ms(per_kind[k])} per cycle")
    print(f"  python  median {ms(python)} per cycle (the rest, incl. the wrappers' own cost)")
    print(f"  one fsync of a small new file there: median {ms(lone)}")


if __name__ == "__main__":
    main()
