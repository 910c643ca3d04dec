"""Shared machinery of the benchmarks: interpreters, fresh-process workers, statistics, output.

Every measurement runs in a fresh subprocess (cold numbers: no warm caches inside Python, no
imports already done). A worker is a standalone script in ``workers/`` that prints one JSON object
on its last stdout line; the harness never imports the code under test itself.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORKERS = HERE / "workers"
VENVS = HERE / ".venvs"
RESULTS = HERE / "results"

OURS_PYTHON = Path(sys.executable)
"""Our side runs in the interpreter that runs the benchmarks (the project's .venv)."""

REFERENCES = {
    # name: (pip requirement(s) tried in order, module to import as a smoke check)
    "tango": (["ai2-tango==1.3.2"], "tango"),
    "toolong": (["toolong==1.5.0", "toolong>=1.5,<1.6"], "toolong"),
}


class WorkerError(RuntimeError):
    """A worker script failed; carries its command and stderr tail."""


def reference_python(name: str) -> Path | None:
    """Return the interpreter of the reference virtualenv ``name``, creating it if absent.

    Returns None (and logs why) when the install fails, so the caller still reports our side.
    """
    requirements, module = REFERENCES[name]
    venv = VENVS / name
    python = venv / "bin" / "python"
    ok_marker = venv / ".bench-installed"
    if ok_marker.exists() and python.exists():
        return python
    print(f"[bench] installing reference {name} into {venv} ...", flush=True)
    try:
        if not python.exists():
            subprocess.run(
                [sys.executable, "-m", "venv", str(venv)],
                check=True,
                capture_output=True,
                text=True,
            )
        last_error = ""
        for requirement in requirements:
            proc = subprocess.run(
                [
                    str(python),
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "--disable-pip-version-check",
                    requirement,
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode == 0:
                break
            last_error = proc.stderr.strip().splitlines()[-1:] or [""]
        else:
            print(
                f"[bench] could not install {name} ({last_error}): reporting our side only",
                flush=True,
            )
            return None
        subprocess.run(
            [str(python), "-c", f"import {module}"], check=True, capture_output=True, text=True
        )
    except (OSError, subprocess.CalledProcessError) as e:
        print(
            f"[bench] could not set up {name} in {venv}: {e}: reporting our side only", flush=True
        )
        return None
    ok_marker.write_text(requirement + "\n")
    return python


def run_worker(
    python: Path,
    script: str,
    args: dict[str, Any],
    *,
    timeout: float = 900,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> dict[str, Any]:
    """Run ``workers/<script>`` with ``python`` in a fresh process; return its JSON answer.

    The answer gets ``_wall_s``: the whole subprocess's wall time (interpreter start to exit).
    The worker runs in ``cwd`` (default: the system temporary directory), outside any git
    checkout, so both libraries' git metadata probes see the same thing.
    """
    cmd = [str(python), str(WORKERS / script), json.dumps(args)]
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(WORKERS)
    # The reference side's CLI (tango's MulticoreExecutor spawns `tango`) must be on PATH.
    full_env["PATH"] = f"{python.parent}{os.pathsep}{full_env.get('PATH', '')}"
    full_env.pop("PYTHONDONTWRITEBYTECODE", None)
    if env:
        full_env.update(env)
    t0 = time.perf_counter()
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        check=False,
        cwd=str(cwd or tempfile.gettempdir()),
    )
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise WorkerError(
            f"{script} {args.get('op', '')} with {python} exited {proc.returncode}:\n{tail}"
        )
    answer = json.loads(lines[-1])
    answer["_wall_s"] = wall
    return answer


def median(values: list[float]) -> float | None:
    """Median, or None for no values."""
    return statistics.median(values) if values else None


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100), nearest-rank on sorted values; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass
class Row:
    """One line of the result table.

    ``ours``/``theirs`` are in ``unit``; ``ratio`` is theirs/ours for "lower is better" figures
    (how many times faster or smaller ours is). ``target`` is a human-readable goal; ``met`` is
    True/False, or None when the row has no target or a side is missing.
    """

    group: str
    operation: str
    unit: str
    ours: float | None
    theirs: float | None = None
    reference: str = ""
    target: str = ""
    met: bool | None = None
    samples_ours: list[float] = field(default_factory=list)
    samples_theirs: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.ours is None or self.theirs is None or self.ours <= 0:
            return None
        return self.theirs / self.ours


def fmt(value: float | None, unit: str) -> str:
    """A figure with a sensible number of digits."""
    if value is None:
        return "-"
    if unit in ("s", "ms"):
        # Show seconds as ms when small, for readability.
        ms = value * 1000 if unit == "s" else value
        if abs(ms) < 1:
            return f"{ms * 1000:.0f} us"
        if abs(ms) < 1000:
            return f"{ms:.3g} ms" if abs(ms) < 100 else f"{ms:.0f} ms"
        return f"{ms / 1000:.2f} s"
    if unit == "%":
        return f"{value:.1f} %"
    if unit == "MB":
        return f"{value:.0f} MB" if value >= 10 else f"{value:.1f} MB"
    return f"{value:.3g} {unit}"


def table(rows: list[Row], *, markdown: bool = False) -> str:
    """Render the rows as an aligned text table (or a markdown table)."""
    head = ["operation", "ours", "reference", "ratio", "target", "met?"]
    body = []
    for r in rows:
        ratio = (
            "-" if r.ratio is None else (f"{r.ratio:.1f}x" if r.ratio >= 1 else f"{r.ratio:.2g}x")
        )
        met = {True: "yes", False: "NO", None: "-"}[r.met if r.ours is not None else None]
        ref = fmt(r.theirs, r.unit)
        if r.theirs is not None and r.reference:
            ref = f"{ref} ({r.reference})"
        body.append([r.operation, fmt(r.ours, r.unit), ref, ratio, r.target or "-", met])
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        return "\n".join(lines)
    widths = [max(len(str(c[i])) for c in [head, *body]) for i in range(len(head))]
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths)), "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(cells, widths)) for cells in body]
    return "\n".join(out)


def machine() -> dict[str, Any]:
    """A description of the machine the figures were taken on."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "mem_gb": mem_gb,
        "python": platform.python_version(),
        "platform": platform.platform(),
        # Other work on the machine skews figures: the load average says how much there was.
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_json(rows: list[Row], meta: dict[str, Any]) -> Path:
    """Write every row (with its samples) and ``meta`` to ``results/<timestamp>.json``."""
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{stamp}.json"
    data = {"meta": meta, "rows": [{**asdict(r), "ratio": r.ratio} for r in rows]}
    path.write_text(json.dumps(data, indent=1))
    return path
