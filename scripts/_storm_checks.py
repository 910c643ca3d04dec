"""The kill storm's checks: its report, its journal, and the verification of a workspace after the
storm (see ``scripts/kill_storm.py`` for what is checked and why).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
from pathlib import Path
from typing import Any

from _storm_steps import expected, result_is_sound

from tango_tui import LocalWorkspace, RunStatus, Step, StepState

KNOWN_BUG = "known bug"
"""Prefix of the violations of the two bugs this storm found (fixed in core 92b8ebf; regression
tests in tests/crash/test_kill_storm.py): a kill after the result marker but before the COMPLETED
record left the step CRASHED forever while its result was used (every later run over it ended
FAILED); a run that took a result published before its record ended with that row RUNNING/'ran'."""
CRASHED_WITH_RESULT = f"{KNOWN_BUG} A (CRASHED with its result in the cache)"
RUNNING_ROW = f"{KNOWN_BUG} B (finished run has a RUNNING row for a step it waited for)"


def classify_run(ws: LocalWorkspace, run: Any, steps: dict[str, Step]) -> str | None:
    """None for a run that ended COMPLETED with every row COMPLETED, else what is wrong."""
    bad = {u: r.state for u, r in run.plan.items() if r.state is not StepState.COMPLETED}
    if run.status is RunStatus.COMPLETED and not bad:
        return None
    text = f"run {run.name} ended {run.status.value}: { ({u: s.value for u, s in bad.items()}) }"
    if bad and all(s is StepState.CRASHED and steps[u] in ws.step_cache for u, s in bad.items()):
        return f"{CRASHED_WITH_RESULT}: {text}"
    if run.status is RunStatus.COMPLETED and all(s is StepState.RUNNING for s in bad.values()):
        return f"{RUNNING_ROW}: {text}"
    return text


@dataclasses.dataclass
class StormReport:
    """Figures and violations of one storm."""

    executions: int = 0
    """Step bodies started during the storm (the rerun's are counted apart)."""
    completed_bodies: int = 0
    kills: int = 0
    kills_in_body: int = 0
    liveness_checks: int = 0
    """Step records read right after a kill (none may read RUNNING without a live owner)."""
    spawns: int = 0
    jobs: int = 0
    max_concurrent: int = 0
    reexecuted_steps: int = 0
    runs: int = 0
    crashed_runs: int = 0
    crashed_steps: int = 0
    crashed_with_result: int = 0
    """Steps killed between their result and their COMPLETED record (adopted by the rerun)."""
    dirs_without_record: int = 0
    leftover_tmp_files: int = 0
    storm_seconds: float = 0.0
    rerun_seconds: float = 0.0
    rerun_executions: int = 0
    steps_checked: int = 0
    violations: list[str] = dataclasses.field(default_factory=list)

    def lines(self) -> list[str]:
        """Human-readable figures."""
        d = dataclasses.asdict(self)
        d["violations"] = len(self.violations)
        return [
            f"{k:>20}: {v:.2f}" if isinstance(v, float) else f"{k:>20}: {v}" for k, v in d.items()
        ]


def read_journal(path: Path) -> list[tuple[str, str, int, float]]:
    """``(event, uid, pid, t)`` for every journal line."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        event, uid, pid, t = line.split()
        out.append((event, uid, int(pid), float(t)))
    return out


def check_overlaps(
    journal: list[tuple[str, str, int, float]], killed: dict[int, float], report: StormReport
) -> None:
    """No two executions of one step overlap in time; fills executions and max_concurrent."""
    open_at: dict[tuple[str, int], float] = {}
    intervals: dict[str, list[tuple[float, float, int]]] = {}
    for event, uid, pid, t in journal:
        if event == "start":
            open_at[(uid, pid)] = t
            report.executions += 1
        else:
            report.completed_bodies += 1
            start = open_at.pop((uid, pid), None)
            if start is None:
                report.violations.append(f"journal: end of {uid} by pid {pid} without a start")
                continue
            intervals.setdefault(uid, []).append((start, t, pid))
    for (uid, pid), start in open_at.items():
        end = killed.get(pid)
        if end is None:
            report.violations.append(
                f"journal: {uid} started by pid {pid}, never ended, never killed"
            )
            continue
        intervals.setdefault(uid, []).append((start, end, pid))
    edges = []
    for uid, spans in intervals.items():
        spans.sort()
        report.reexecuted_steps += len(spans) > 1
        for (s1, e1, p1), (s2, _, p2) in itertools.pairwise(spans):
            if s2 < e1:
                report.violations.append(
                    f"step {uid}: body of pid {p2} started while pid {p1}'s ran"
                )
        edges += [(s, 1) for s, _, _ in spans] + [(e, -1) for _, e, _ in spans]
    level = 0
    for _, d in sorted(edges, key=lambda x: (x[0], x[1])):
        level += d
        report.max_concurrent = max(report.max_concurrent, level)


def check_files(ws_dir: Path, report: StormReport) -> None:
    """Every JSON file under the workspace parses as a versioned record; counts temp leftovers."""
    for dirpath, dirs, files in os.walk(ws_dir):
        tmp_dirs = [d for d in dirs if d.startswith(".tmp-")]
        report.leftover_tmp_files += len(tmp_dirs)  # a result directory never renamed into place
        dirs[:] = [d for d in dirs if d not in tmp_dirs]
        for name in files:
            path = Path(dirpath, name)
            if name.startswith(".tmp-"):
                report.leftover_tmp_files += 1  # a writer killed before its rename: never read
                continue
            data = path.read_bytes()  # every file reads
            # Result files are the user's data, checked through the cache for COMPLETED steps.
            if name.endswith(".json") and Path(dirpath).name != "result":
                try:
                    doc = json.loads(data)
                    assert isinstance(doc, dict) and doc["format"].startswith("tango-tui.")
                except Exception as e:  # noqa: BLE001
                    report.violations.append(f"{path}: not a valid record: {e!r}")


def check_records(
    ws_dir: Path,
    report: StormReport,
    steps: dict[str, Step],
    memo: dict[str, Any],
    *,
    final: bool,
) -> None:
    """Steps and runs through the library and the monitor; results of completed steps.

    Args:
        ws_dir: The storm's workspace.
        report: Where figures and violations go.
        steps: Every step of the storm's jobs, by unique id.
        memo: Results recomputed so far by :func:`~_storm_steps.expected` (filled in).
        final: Whether this is the check after the final rerun (everything must be COMPLETED).
    """
    from tango_tui.monitor.source import open_source

    ws = LocalWorkspace(ws_dir)
    for uid in sorted(os.listdir(ws_dir / "cache")):
        if uid.startswith("."):
            continue
        if not (ws_dir / "cache" / uid / "step.json").exists():
            # Killed between creating the step's directory and writing its first record.
            report.dirs_without_record += not final
            continue
        try:
            info = ws.step_info(uid)
        except Exception as e:  # noqa: BLE001
            report.violations.append(f"step record {uid}: {e}")
            continue
        if info.state is StepState.CRASHED and steps[uid] in ws.step_cache:
            # Killed between its result and its COMPLETED record: the next run that needs it
            # adopts the result. Fine before the rerun; after it, the rerun failed to.
            if final:
                report.violations.append(f"{CRASHED_WITH_RESULT}: {uid} (after the final rerun)")
            report.crashed_with_result += not final
            continue
        if info.state is StepState.RUNNING:
            report.violations.append(f"step {uid} shows RUNNING after every worker died")
        if info.state is StepState.FAILED:
            report.violations.append(f"step {uid} FAILED: {info.error}")
        report.crashed_steps += (info.state is StepState.CRASHED) and not final
        if final and info.state is not StepState.COMPLETED:
            report.violations.append(f"step {uid} is {info.state} after the final rerun")
        if info.state is StepState.COMPLETED:
            report.steps_checked += not final
            try:
                value = ws.step_cache[steps[uid]]
            except Exception as e:  # noqa: BLE001
                report.violations.append(
                    f"step {uid} is COMPLETED but its result does not load: {e!r}"
                )
                continue
            if not result_is_sound(value) or value != expected(steps[uid], memo):
                report.violations.append(f"step {uid}: result damaged or wrong")
    runs = sorted(n for n in os.listdir(ws_dir / "runs") if not n.startswith(".tmp-"))
    report.runs = len(runs) - final
    for name in runs:
        try:
            run = ws.registered_run(name)
            dict(run.steps)  # every target's record parses too
        except Exception as e:  # noqa: BLE001
            report.violations.append(f"run {name}: {e}")
            continue
        if run.status is RunStatus.RUNNING:
            report.violations.append(f"run {name} shows RUNNING after every worker died")
        report.crashed_runs += (run.status is RunStatus.CRASHED) and not final
    src = open_source(ws_dir)
    rows = src.list_runs()
    for row in rows[:50]:  # the monitor's view of the newest runs, steps overlaid
        src.run_detail(row.name)
    for p in src.problems:
        report.violations.append(f"monitor: {p.path}: {p.problem}")
    if any(r.status is RunStatus.RUNNING for r in rows):
        report.violations.append("monitor lists a RUNNING run after every worker died")
