"""The workspace library, side by side: tango-tui's LocalWorkspace vs ai2-tango 1.3.2's.

Method: every sample is a fresh process (``workers/lib_ours.py`` in the project's venv,
``workers/lib_tango.py`` in ``benchmarks/.venvs/tango``), the two sides alternate A/B/B/A within
one run, and a row shows the median over the samples. Times are taken inside the worker after its
imports (interpreter start and imports are reported separately, and the whole fresh-process wall
time of the 2,000-run listing has its own row). "Cold" means a fresh process; the OS page cache is
warm (the workspaces were just written), as on a machine where the job is writing them.

Operations (identical on both sides):
  * register: ``register_run`` of a 10-step chain (all 10 are targets), median of n per process;
  * cycle: ``step_starting`` + ``step_finished(step, int)`` of a fresh cacheable step, per step;
  * list: a fresh ``LocalWorkspace(dir)`` + ``registered_runs()`` on a workspace of R runs of 10
    registered steps each; "deep" also reads every step's state (Tango's Run loads every StepInfo
    eagerly; ours loads them lazily, so "deep" is the like-for-like figure);
  * step_info: ``step_info(unique_id)`` on the 200-run workspace, median of 100 lookups;
  * run_steps: 100 trivial cacheable steps (10 independent chains of 10). Ours:
    ``run_steps(ws, targets, parallelism=N)``. Tango: ``tango.cli.execute_step_graph`` (what
    ``tango run`` calls) with the default in-process ``Executor`` at parallelism 1 and the
    ``MulticoreExecutor`` (``tango run -j 2``: one ``tango`` subprocess per step) at 2.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ._harness import OURS_PYTHON, Row, WorkerError, median, run_worker

SIZES = {
    "full": {
        "reps": 5,
        "register_n": 20,
        "cycle_n": 50,
        "list_runs": [200, 2000],
        "info_n": 100,
        "chains": 10,
        "length": 10,
        "run_reps": 3,
        "run_reps_p2": 2,
        "big_runs": 10_000,
    },
    "quick": {
        "reps": 1,
        "register_n": 5,
        "cycle_n": 10,
        "list_runs": [50, 100],
        "info_n": 20,
        "chains": 2,
        "length": 3,
        "run_reps": 1,
        "run_reps_p2": 1,
        "big_runs": 300,
    },
}


class Sides:
    """The interpreters and worker scripts of both sides (``tango`` may be None)."""

    def __init__(self, tango_python: Path | None):
        self.sides: list[tuple[str, Path, str]] = [("ours", OURS_PYTHON, "lib_ours.py")]
        if tango_python is not None:
            self.sides.append(("tango", tango_python, "lib_tango.py"))

    def alternate(self, rep: int) -> list[tuple[str, Path, str]]:
        """A/B on even repetitions, B/A on odd ones, so drift hits both sides alike."""
        return self.sides if rep % 2 == 0 else list(reversed(self.sides))


def _ab(
    sides: Sides,
    reps: int,
    work: Path,
    op: str,
    args: dict[str, Any],
    key: str,
    *,
    fresh_dir: bool,
    dirs: dict[str, Path] | None = None,
    extra: dict[str, dict[str, Any]] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Run ``op`` ``reps`` times per side, alternating; return each side's worker answers."""
    answers: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in sides.sides}
    for rep in range(reps):
        for name, python, script in sides.alternate(rep):
            if fresh_dir:
                d = work / f"{name}-{op}-{key}-{rep}"
                shutil.rmtree(d, ignore_errors=True)
            else:
                assert dirs is not None
                d = dirs[name]
            a = {"op": op, "dir": str(d), **args, **((extra or {}).get(name, {}))}
            try:
                answers[name].append(run_worker(python, script, a))
            except WorkerError as e:
                print(f"[bench] {name} {op}: {e}", flush=True)
            if fresh_dir:
                shutil.rmtree(d, ignore_errors=True)
    return answers


def _row(
    group: str,
    operation: str,
    answers: dict[str, list[dict[str, Any]]],
    field: str,
    *,
    target: str = "",
    goal_ratio: float | None = None,
    goal_abs: float | None = None,
    note: str = "",
) -> Row:
    ours = [a[field] for a in answers.get("ours", [])]
    theirs = [a[field] for a in answers.get("tango", [])]
    row = Row(
        group,
        operation,
        "s",
        median(ours),
        median(theirs),
        "ai2-tango 1.3.2",
        target,
        None,
        ours,
        theirs,
        note,
    )
    if goal_ratio is not None and row.ratio is not None:
        row.met = row.ratio >= goal_ratio
    if goal_abs is not None and row.ours is not None:
        row.met = row.ours < goal_abs
    return row


def run(size: str, work: Path, tango_python: Path | None) -> list[Row]:
    """Run the library benchmarks; return the table rows."""
    cfg = SIZES[size]
    sides = Sides(tango_python)
    reps = cfg["reps"]
    rows: list[Row] = []
    group = "library"

    def say(what: str) -> None:
        print(f"[bench] library: {what}", flush=True)

    say("register a 10-step run")
    ans = _ab(
        sides, reps, work, "register", {"n": cfg["register_n"], "steps": 10}, "r", fresh_dir=True
    )
    rows.append(_row(group, "register a 10-step run", ans, "median_s"))

    say("step start+finish")
    ans = _ab(sides, reps, work, "cycle", {"n": cfg["cycle_n"]}, "c", fresh_dir=True)
    rows.append(
        _row(
            group,
            "step start+finish (per step)",
            ans,
            "median_s",
            target=">= 50x faster",
            goal_ratio=50,
        )
    )

    # Workspaces for listing: generated once per side and size, then listed by fresh processes.
    info_dirs: dict[str, Path] = {}
    info_uids: dict[str, dict[str, Any]] = {}
    for n_runs in cfg["list_runs"]:
        say(f"generate {n_runs} runs x 10 steps")
        dirs = {name: work / f"{name}-ws-{n_runs}" for name, _, _ in sides.sides}
        uids = {
            name: {"uids_file": str(work / f"{name}-uids-{n_runs}.json")}
            for name, _, _ in sides.sides
        }
        gen_ok = {}
        for name, python, script in sides.sides:
            try:
                g = run_worker(
                    python,
                    script,
                    {
                        "op": "gen",
                        "dir": str(dirs[name]),
                        "runs": n_runs,
                        "steps": 10,
                        **uids[name],
                    },
                )
                gen_ok[name] = g["gen_s"]
            except WorkerError as e:
                print(f"[bench] {name} gen: {e}", flush=True)
        say(
            f"registered_runs() cold at {n_runs} runs (generation took "
            + ", ".join(f"{k} {v:.1f} s" for k, v in gen_ok.items())
            + ")"
        )
        ans = _ab(sides, reps, work, "list", {}, str(n_runs), fresh_dir=False, dirs=dirs)
        big = n_runs == max(cfg["list_runs"])
        rows.append(
            _row(
                group,
                f"registered_runs() cold, {n_runs:,} runs",
                ans,
                "list_s",
                target=">= 20x faster" if big else "",
                goal_ratio=20 if big else None,
            )
        )
        rows.append(
            _row(
                group,
                f"  + every step's state, {n_runs:,} runs",
                ans,
                "deep_s",
                target=">= 20x faster" if big else "",
                goal_ratio=20 if big else None,
            )
        )
        if big:
            rows.append(
                _row(
                    group,
                    f"  whole fresh process (python + import + list), {n_runs:,}",
                    ans,
                    "_wall_s",
                )
            )
            rows.append(_row(group, "  import of the library (fresh process)", ans, "import_s"))
        if n_runs == min(cfg["list_runs"]):
            info_dirs, info_uids = dirs, uids

    say("step_info lookup")
    ans = _ab(
        sides,
        reps,
        work,
        "step_info",
        {"n": cfg["info_n"]},
        "i",
        fresh_dir=False,
        dirs=info_dirs,
        extra=info_uids,
    )
    rows.append(_row(group, "step_info(uid) lookup", ans, "median_s"))

    n_steps = cfg["chains"] * cfg["length"]
    for par, n_reps in ((1, cfg["run_reps"]), (2, cfg["run_reps_p2"])):
        say(f"run_steps of {n_steps} trivial steps, parallelism {par}")
        ans = _ab(
            sides,
            n_reps,
            work,
            "run_steps",
            {"chains": cfg["chains"], "length": cfg["length"], "parallelism": par},
            f"p{par}",
            fresh_dir=True,
        )
        notes = []
        for name, answers in ans.items():
            short = [a for a in answers if a["completed"] != n_steps or a.get("error")]
            if short:
                counts = ", ".join(f"{a['completed']}/{n_steps}" for a in short)
                notes.append(
                    f"{name}: {len(short)} of {len(answers)} runs ended with failed "
                    f"steps (completed {counts})"
                )
                print(f"[bench] run_steps p{par}: {notes[-1]}", flush=True)
        rows.append(
            _row(
                group,
                f"run_steps, {n_steps} trivial steps, parallelism {par}",
                ans,
                "run_s",
                note="; ".join(notes),
            )
        )

    n_big = cfg["big_runs"]
    say(f"generate {n_big:,} runs x 10 steps (ours only)")
    only_ours = Sides(None)
    big_dir = {"ours": work / f"ours-ws-{n_big}"}
    try:
        g = run_worker(
            OURS_PYTHON,
            "lib_ours.py",
            {
                "op": "gen",
                "dir": str(big_dir["ours"]),
                "runs": n_big,
                "steps": 10,
                "uids_file": str(work / "ours-uids-big.json"),
            },
            timeout=3600,
        )
        say(f"generated in {g['gen_s']:.1f} s; listing cold")
        ans = _ab(only_ours, reps, work, "list", {}, "big", fresh_dir=False, dirs=big_dir)
        rows.append(
            _row(
                group,
                f"registered_runs() cold, {n_big:,} runs x 10 steps",
                ans,
                "list_s",
                target="< 1 s",
                goal_abs=1.0,
            )
        )
        rows.append(
            _row(
                group,
                f"  + every step's state, {n_big:,} runs",
                ans,
                "deep_s",
                target="< 1 s",
                goal_abs=1.0,
            )
        )
    except WorkerError as e:
        print(f"[bench] ours big gen: {e}", flush=True)
    return rows
