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

It prints its figures and exits 1 on any violation. The steps are in ``_storm_steps.py``, the
report and the checks in ``_storm_checks.py``; this file holds the workers, the storm and the CLI.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import signal
import sys
import tempfile
import time
import traceback
from multiprocessing.connection import wait as wait_sentinels
from pathlib import Path
from typing import Any

# The script's own modules sit beside it (scripts/ is sys.path[0] when run as a script; a
# loader by path, like tests/crash, puts it there too).
from _storm_checks import (
    KNOWN_BUG,
    StormReport,
    check_files,
    check_overlaps,
    check_records,
    classify_run,
    read_journal,
)
from _storm_steps import JOURNAL_ENV, all_steps, total

from tango_tui import LocalWorkspace, StepState, run_steps

BATCH = 3
"""Jobs handed to a worker at a time."""


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
    check_records(storm.ws_dir, report, steps, memo, final=False)
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
    check_records(storm.ws_dir, report, steps, memo, final=True)
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
