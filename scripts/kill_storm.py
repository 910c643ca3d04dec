#!/usr/bin/env python
"""Kill storm: SIGKILL workers running real steps on one LocalWorkspace, then prove nothing is lost.

Usage::

    python scripts/kill_storm.py [--seconds 120] [--executions 500] [--workers 4] [--seed N] [--dir D]

``--workers`` (>= 4) forked processes run ``run_steps`` on small pipelines of real
:class:`tango_tui.Step` subclasses. Pipelines overlap: every job's total also needs the previous
job's mix (most likely being computed by another worker right now) and one of a few shared "hub"
steps, so workers contend for the same steps. The parent SIGKILLs a random worker at random,
jittered moments (most of a step's time goes to its body, its records and its result writes, so
kills land in all of them) and starts a new worker in its place, until ``--executions`` step bodies
have started or ``--seconds`` have passed. Then it kills the rest and checks:

* every record parses (every ``step.json`` and ``run.json`` through the library and the monitor,
  every JSON file under the workspace by hand);
* no step body ran twice at the same time: each body appends ``start uid pid t`` and
  ``end uid pid t`` lines (``O_APPEND``, ``time.monotonic``) to a journal outside the workspace; per
  step the intervals never overlap (a killed execution ends at the moment its kill was sent);
* no step shows RUNNING without a live owner (checked right after each kill, and at the end);
* every COMPLETED step's result reads back intact (results embed a checksum of their inputs and
  value, and equal an independent recomputation);
* a final rerun (``run_steps`` over all targets) completes the rest.

It prints its figures and exits 1 on any violation.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import json
import multiprocessing
import os
import random
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Iterable
from multiprocessing.connection import wait as wait_sentinels
from pathlib import Path
from typing import Any

from tango_tui import LocalWorkspace, RunStatus, Step, StepState, run_steps

JOURNAL_ENV = "KILL_STORM_JOURNAL"
KNOWN_BUG = "known bug"
"""Prefix of the violations of the two bugs this storm found (fixed in core 92b8ebf; regression
tests in tests/crash/test_kill_storm.py): a kill after the result marker but before the COMPLETED
record left the step CRASHED forever while its result was used (every later run over it ended
FAILED); a run that took a result published before its record ended with that row RUNNING/'ran'."""
CRASHED_WITH_RESULT = f"{KNOWN_BUG} A (CRASHED with its result in the cache)"
RUNNING_ROW = f"{KNOWN_BUG} B (finished run has a RUNNING row for a step it waited for)"
HUBS = 5
"""How many hub steps every job shares."""
BATCH = 3
"""Jobs handed to a worker at a time."""


# ----- steps -----------------------------------------------------------------------------------
def _digest(*parts: Any) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _wrap(kind: str, inputs: str, value: Any) -> dict[str, Any]:
    """A result that carries a checksum of its inputs and of itself."""
    return {"kind": kind, "inputs": inputs, "value": value, "check": _digest(kind, inputs, value)}


def result_is_sound(result: Any) -> bool:
    """Whether a result's embedded checksum matches its content."""
    return (
        isinstance(result, dict)
        and set(result) == {"kind", "inputs", "value", "check"}
        and result["check"] == _digest(result["kind"], result["inputs"], result["value"])
    )


def _journal(event: str, uid: str) -> None:
    path = os.environ.get(JOURNAL_ENV)
    if path:
        # One small O_APPEND write per line: lines from several processes never interleave.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{event} {uid} {os.getpid()} {time.monotonic():.6f}\n".encode())
        finally:
            os.close(fd)


class _Journaled(Step):
    """A step whose body is journaled and does a little work (so kills land inside it)."""

    def run(self, **kwargs: Any) -> Any:  # type: ignore[override]
        _journal("start", self.unique_id)
        value = self.compute(**kwargs)
        self.progress(1, 2)
        time.sleep(random.uniform(0.0, 0.015))
        self.progress(2, 2)
        _journal("end", self.unique_id)
        return value

    @staticmethod
    def compute(**kwargs: Any) -> Any:
        raise NotImplementedError


class Gen(_Journaled):
    """``size`` pseudo-random numbers from ``seed`` (JSON result, up to ~200 KB)."""

    VERSION = "1"

    @staticmethod
    def compute(seed: int, size: int) -> dict[str, Any]:  # type: ignore[override]
        rnd = random.Random(seed)
        return _wrap("gen", _digest(seed, size), [rnd.randrange(10**6) for _ in range(size)])


class Mix(_Journaled):
    """Mixes a generator's numbers with a hub's (a tuple: stored as a pickle)."""

    VERSION = "1"
    FORMAT = "pickle"

    @staticmethod
    def compute(a: dict[str, Any], b: dict[str, Any], salt: int) -> dict[str, Any]:  # type: ignore[override]
        hub = b["value"]
        value = tuple(
            (x * 31 + hub[i % len(hub)] + salt) % 1_000_003 for i, x in enumerate(a["value"])
        )
        return _wrap("mix", _digest(a["check"], b["check"], salt), value)


class Total(_Journaled):
    """Sums mixes (this job's and the previous job's)."""

    VERSION = "1"

    @staticmethod
    def compute(parts: list[dict[str, Any]]) -> dict[str, Any]:  # type: ignore[override]
        value = [sum(p["value"]) for p in parts]
        return _wrap("total", _digest(*(p["check"] for p in parts)), value)


def _size(seed: int) -> int:
    return random.Random(seed * 7919).choice([50, 500, 2_000, 8_000, 30_000])


def hub(h: int) -> Gen:
    """Shared hub step ``h``."""
    return Gen(seed=1_000_000 + h, size=_size(h))


def mix(j: int) -> Mix:
    """Job ``j``'s mix."""
    return Mix(a=Gen(seed=j, size=_size(j)), b=hub(j % HUBS), salt=j)


def total(j: int) -> Total:
    """Job ``j``'s target: its mix plus the previous job's (shared with job ``j - 1``)."""
    parts = [mix(j)] if j == 0 else [mix(j), mix(j - 1)]
    return Total(parts=parts, step_name=f"total-{j}")


def expected(step: Step, memo: dict[str, Any]) -> Any:
    """The result ``step`` must have, computed here without any workspace."""
    if step.unique_id not in memo:

        def resolve(v: Any) -> Any:
            if isinstance(v, Step):
                return expected(v, memo)
            if isinstance(v, list):
                return [resolve(x) for x in v]
            return v

        compute = type(step).compute  # type: ignore[attr-defined]
        memo[step.unique_id] = compute(**{k: resolve(v) for k, v in step.kwargs.items()})
    return memo[step.unique_id]


def all_steps(jobs: Iterable[int]) -> dict[str, Step]:
    """Every step of ``jobs`` (targets and dependencies) by unique id."""
    out: dict[str, Step] = {}
    stack: list[Step] = [total(j) for j in jobs]
    while stack:
        s = stack.pop()
        if s.unique_id not in out:
            out[s.unique_id] = s
            stack.extend(s.dependencies)
    return out


# ----- workers ---------------------------------------------------------------------------------
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


def worker_main(ws_dir: str, journal: str, errors: str, spawn: int, jobs: list[int]) -> None:
    """A worker process: run each job (its total and the previous job's) as one run.

    Each finished job is appended to ``<journal>.jobs`` so the parent can hand a killed worker's
    unfinished jobs to the next one.
    """
    os.environ[JOURNAL_ENV] = journal
    random.seed(os.getpid() ^ spawn)
    ws = LocalWorkspace(ws_dir)
    for j in jobs:
        targets = {f"total-{j}": total(j)}
        if j > 0:
            targets[f"total-{j - 1}"] = total(j - 1)
        try:
            run = run_steps(ws, targets, name=f"s{spawn}-j{j}")
            problem = classify_run(ws, run, all_steps(range(j + 1)))
        except Exception:  # noqa: BLE001 -- reported to the parent as a violation
            problem = traceback.format_exc().replace("\n", " | ")
        if problem:
            with open(errors, "a") as f:
                f.write(f"worker {spawn} (pid {os.getpid()}) job {j}: {problem}\n")
        fd = os.open(journal + ".jobs", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(fd, f"{j}\n".encode())
        os.close(fd)
    os._exit(0)  # skip atexit/finalizers of the forked copy of the parent


# ----- the storm -------------------------------------------------------------------------------
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


def _open_bodies(journal: list[tuple[str, str, int, float]], pid: int) -> set[str]:
    started: dict[str, int] = {}
    for event, uid, p, _ in journal:
        if p == pid:
            started[uid] = started.get(uid, 0) + (1 if event == "start" else -1)
    return {u for u, n in started.items() if n > 0}


class Storm:
    """The parent: keeps ``workers`` processes busy and kills them at random."""

    def __init__(self, root: Path, *, seconds: float, executions: int, workers: int, seed: int):
        if workers < 4:
            raise ValueError(f"--workers must be at least 4, got {workers}")
        self.root, self.seconds, self.target, self.n_workers = root, seconds, executions, workers
        self.ws_dir, self.journal, self.errors = (
            root / "ws",
            root / "journal.txt",
            root / "errors.txt",
        )
        self.rng = random.Random(seed)
        self.ctx = multiprocessing.get_context("fork")
        self.live: dict[int, Any] = {}  # pid -> Process
        self.killed: dict[int, float] = {}  # pid -> monotonic time just before SIGKILL was sent
        self.next_job = 0
        self.requeued: list[int] = []  # jobs of killed workers, handed out again first
        self.jobs_of: dict[int, list[int]] = {}  # pid -> jobs given to it
        self.report = StormReport()
        self.ws = LocalWorkspace(self.ws_dir)

    def _spawn(self) -> None:
        jobs, self.requeued = self.requeued[:BATCH], self.requeued[BATCH:]
        while len(jobs) < BATCH:
            jobs.append(self.next_job)
            self.next_job += 1
        self.report.spawns += 1
        p = self.ctx.Process(
            target=worker_main,
            args=(str(self.ws_dir), str(self.journal), str(self.errors), self.report.spawns, jobs),
        )
        p.start()
        assert p.pid is not None
        self.live[p.pid] = p
        self.jobs_of[p.pid] = jobs

    def _reap(self) -> None:
        for pid, p in list(self.live.items()):
            if not p.is_alive():
                p.join()
                del self.live[pid]
                if p.exitcode != 0:
                    self.report.violations.append(f"worker pid {pid} exited with {p.exitcode}")

    def _kill(self, pid: int) -> None:
        p = self.live.pop(pid)
        self.killed[pid] = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        p.join()
        self.report.kills += 1
        done = (
            set(Path(f"{self.journal}.jobs").read_text().split())
            if Path(f"{self.journal}.jobs").exists()
            else set()
        )
        jobs = self.jobs_of.pop(pid)
        self.requeued += [j for j in jobs if str(j) not in done]
        open_bodies = _open_bodies(read_journal(self.journal), pid)
        self.report.kills_in_body += bool(open_bodies)
        # Every step the dead worker may have been in (its body, its records, its result) must
        # read as not RUNNING now, unless a live worker has claimed it since.
        suspects = open_bodies | set(all_steps([*jobs, *(j - 1 for j in jobs if j > 0)]))
        self.report.liveness_checks += len(suspects)
        for uid in suspects:
            try:
                info = self.ws.step_info(uid)
            except KeyError:
                continue  # never started
            except Exception as e:  # noqa: BLE001
                self.report.violations.append(f"step {uid} unreadable after a kill: {e}")
                continue
            if info.state is StepState.RUNNING and (
                info.owner is None or info.owner.pid not in self.live
            ):
                self.report.violations.append(
                    f"step {uid} reads RUNNING right after its owner {pid} was killed"
                )

    def executions(self) -> int:
        """Step bodies started so far."""
        try:
            with open(self.journal, "rb") as f:
                return sum(1 for line in f if line.startswith(b"start"))
        except FileNotFoundError:
            return 0

    def run(self) -> StormReport:
        """Storm, then verify; returns the report."""
        t0 = time.monotonic()
        deadline = t0 + self.seconds
        try:
            while time.monotonic() < deadline and self.executions() < self.target:
                self._reap()
                while len(self.live) < self.n_workers:
                    self._spawn()
                # Jittered kill moments: mostly mid-step, sometimes two kills in quick succession.
                pause = self.rng.choice([self.rng.uniform(0.0, 0.02), self.rng.uniform(0.03, 0.3)])
                wait_sentinels([p.sentinel for p in self.live.values()], timeout=pause)
                self._reap()
                if self.live:
                    self._kill(self.rng.choice(sorted(self.live)))
        finally:
            for pid in list(self.live):
                self._kill(pid)
        self.report.storm_seconds = time.monotonic() - t0
        self.report.jobs = self.next_job
        verify(self)
        return self.report


# ----- verification ----------------------------------------------------------------------------
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
    storm: Storm, steps: dict[str, Step], memo: dict[str, Any], *, final: bool
) -> None:
    """Steps and runs through the library and the monitor; results of completed steps."""
    from tango_tui.monitor.source import open_source

    report, ws = storm.report, LocalWorkspace(storm.ws_dir)
    for uid in sorted(os.listdir(storm.ws_dir / "cache")):
        if uid.startswith("."):
            continue
        if not (storm.ws_dir / "cache" / uid / "step.json").exists():
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
    runs = sorted(n for n in os.listdir(storm.ws_dir / "runs") if not n.startswith(".tmp-"))
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
    src = open_source(storm.ws_dir)
    rows = src.list_runs()
    for row in rows[:50]:  # the monitor's view of the newest runs, steps overlaid
        src.run_detail(row.name)
    for p in src.problems:
        report.violations.append(f"monitor: {p.path}: {p.problem}")
    if any(r.status is RunStatus.RUNNING for r in rows):
        report.violations.append("monitor lists a RUNNING run after every worker died")


def verify(storm: Storm) -> None:
    """All the checks of the module docstring, and the final rerun."""
    report = storm.report
    if storm.errors.exists():
        for line in storm.errors.read_text().splitlines():
            head, _, problem = line.partition(": ")
            report.violations.append(
                f"{problem} ({head})" if problem.startswith(KNOWN_BUG) else f"worker: {line}"
            )
    jobs = range(storm.next_job)
    steps, memo = all_steps(jobs), dict[str, Any]()
    check_files(storm.ws_dir, report)
    check_records(storm, steps, memo, final=False)
    before = sum(1 for e in read_journal(storm.journal) if e[0] == "start")
    os.environ[JOURNAL_ENV] = str(storm.journal)
    t = time.monotonic()
    try:
        run = run_steps(
            storm.ws, {f"total-{j}": total(j) for j in jobs}, name="final-rerun", parallelism=4
        )
    finally:
        os.environ.pop(JOURNAL_ENV, None)
    report.rerun_seconds = time.monotonic() - t
    report.rerun_executions = (
        sum(1 for e in read_journal(storm.journal) if e[0] == "start") - before
    )
    final_problem = classify_run(storm.ws, run, steps)
    if final_problem:
        report.violations.append(f"{final_problem} (final rerun)")
    check_records(storm, steps, memo, final=True)
    check_overlaps(read_journal(storm.journal), storm.killed, report)
    report.executions -= report.rerun_executions
    report.completed_bodies -= report.rerun_executions


def run_storm(
    root: Path,
    *,
    seconds: float = 120.0,
    executions: int = 500,
    workers: int = 4,
    seed: int | None = None,
) -> StormReport:
    """Run a storm in ``root`` (workspace ``root/ws``, journal ``root/journal.txt``)."""
    seed = random.randrange(2**32) if seed is None else seed
    return Storm(
        Path(root), seconds=seconds, executions=executions, workers=workers, seed=seed
    ).run()


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns 1 on any violation."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=120.0, help="stop the storm after this long")
    p.add_argument("--executions", type=int, default=500, help="stop after this many step bodies")
    p.add_argument("--workers", type=int, default=4, help="worker processes (>= 4)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--dir", type=Path, default=None, help="where to work (default: a new temp dir)")
    ns = p.parse_args(argv)
    if ns.workers < 4:
        p.error("--workers must be at least 4")
    root = ns.dir or Path(tempfile.mkdtemp(prefix="kill-storm-"))
    seed = random.randrange(2**32) if ns.seed is None else ns.seed
    print(f"kill storm in {root} (seed {seed})", flush=True)
    report = run_storm(
        root, seconds=ns.seconds, executions=ns.executions, workers=ns.workers, seed=seed
    )
    print("\n".join(report.lines()))
    kinds: dict[str, int] = {}
    for v in report.violations:
        kind = v.split(":")[0] if v.startswith(KNOWN_BUG) else "other"
        kinds[kind] = kinds.get(kind, 0) + 1
    for kind, n in sorted(kinds.items()):
        print(f"violations of kind {kind!r}: {n}")
    for v in report.violations[:30]:
        print(f"VIOLATION: {v[:300]}")
    return 1 if report.violations else 0


if __name__ == "__main__":
    sys.exit(main())
