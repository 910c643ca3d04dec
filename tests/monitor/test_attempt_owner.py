"""A run's rows are overlaid only with its own step attempts (not a rerun's, not an earlier run's)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import wsfactory as wf
from wsfactory import T0

from tango_tui.core._liveness import boot_id, current_owner, hostname, pid_start_time
from tango_tui.core._model import Owner, StepInfo, StepReason, StepState
from tango_tui.monitor.source import open_source


def owner_of(proc: subprocess.Popen[bytes]) -> Owner:
    return Owner(
        host=hostname(), pid=proc.pid, pid_start=pid_start_time(proc.pid), boot_id=boot_id()
    )


@contextlib.contextmanager
def live_process() -> Iterator[subprocess.Popen[bytes]]:
    """A real child process that lives until the block ends (it waits on its stdin)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        yield proc
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)


def dead_owner() -> Owner:
    """The owner record of a real process that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    owner = Owner(
        host=hostname(), pid=proc.pid, pid_start=pid_start_time(proc.pid), boot_id=boot_id()
    )
    proc.wait(timeout=10)
    return owner


def hold_lock(root: Path, uid: str) -> int:
    """Hold the step's lock, as the executor does for a whole attempt."""
    fd = os.open(root / "cache" / uid / "lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def set_mtime(path: Path, when: datetime) -> None:
    os.utime(path, (when.timestamp(), when.timestamp()))


def info(uid: str, state: StepState, start: datetime, owner: Owner, **kw: object) -> StepInfo:
    end = start + timedelta(seconds=5) if state in (StepState.COMPLETED, StepState.FAILED) else None
    return StepInfo(
        unique_id=uid,
        step_class_name=uid.split("-")[0],
        start_time=start,
        end_time=end,
        owner=owner,
        attempt=1,
        **kw,  # type: ignore[arg-type]
    )


def test_rerun_does_not_leak_into_the_crashed_run(tmp_path: Path) -> None:
    """The demo rerun: the old run crashed in `train`; the new run completed `train` and is
    running `evaluate` in a live worker. The old run's rows keep what happened in it."""
    wf.init(tmp_path)
    old_owner, new_worker_done = dead_owner(), dead_owner()
    me = current_owner()
    plan_old = [
        wf.row("Prep-1"),
        wf.row("Train-2", StepState.RUNNING, StepReason.RAN, start_time=T0 + timedelta(seconds=6)),
        wf.row("Evaluate-3", StepState.INCOMPLETE, StepReason.PENDING, dependencies=("Train-2",)),
    ]
    old = wf.write_run(tmp_path, "old", plan_old, owner=old_owner, status="running")
    set_mtime(old, T0 + timedelta(seconds=8))  # its last rewrite, just before it died
    new_start = T0 + timedelta(minutes=5)
    plan_new = [
        wf.row("Prep-1", StepState.COMPLETED, StepReason.CACHED),
        wf.row("Train-2", StepState.INCOMPLETE, StepReason.PENDING),
        wf.row("Evaluate-3", StepState.INCOMPLETE, StepReason.PENDING, dependencies=("Train-2",)),
    ]
    wf.write_run(tmp_path, "new", plan_new, start=new_start, owner=me, status="running")
    wf.write_step(tmp_path, info("Prep-1", StepState.COMPLETED, T0, old_owner))
    wf.write_step(
        tmp_path,
        info("Train-2", StepState.COMPLETED, new_start + timedelta(seconds=1), new_worker_done),
    )
    with live_process() as worker:  # the new run's worker: a child of this (the run's) process
        wf.write_step(
            tmp_path,
            info(
                "Evaluate-3", StepState.RUNNING, new_start + timedelta(seconds=9), owner_of(worker)
            ),
        )
        fd = hold_lock(tmp_path, "Evaluate-3")
        try:
            src = open_source(tmp_path)
            old_rows = {s.name: s for s in src.run_detail("old").steps}
            new_rows = {s.name: s for s in src.run_detail("new").steps}
        finally:
            os.close(fd)
    assert old_rows["train"].state == StepState.CRASHED
    assert old_rows["train"].start_time == T0 + timedelta(seconds=6)
    assert old_rows["evaluate"].state == StepState.INCOMPLETE
    assert old_rows["evaluate"].reason == StepReason.NOT_REACHED
    assert old_rows["evaluate"].error is None
    assert new_rows["train"].state == StepState.COMPLETED
    assert new_rows["evaluate"].state == StepState.RUNNING


def test_crashed_run_whose_worker_lives_on_shows_it_running(tmp_path: Path) -> None:
    """The run's process died but its worker (now nobody's child) still runs the step, started
    within the run's lifetime: the step is running, never 'crashed'."""
    wf.init(tmp_path)
    run_owner = dead_owner()
    plan = [wf.row("Train-1", StepState.INCOMPLETE, StepReason.PENDING)]
    rec = wf.write_run(tmp_path, "r", plan, owner=run_owner, status="running")
    set_mtime(rec, T0 + timedelta(seconds=30))
    with live_process() as worker:
        wf.write_step(
            tmp_path,
            info("Train-1", StepState.RUNNING, T0 + timedelta(seconds=10), owner_of(worker)),
        )
        fd = hold_lock(tmp_path, "Train-1")
        try:
            detail = open_source(tmp_path).run_detail("r")
        finally:
            os.close(fd)
    assert detail.run.status.value == "crashed"
    assert detail.steps[0].state == StepState.RUNNING and detail.steps[0].error is None


def test_live_run_ignores_another_runs_worker_and_earlier_attempts(tmp_path: Path) -> None:
    wf.init(tmp_path)
    me = current_owner()
    start = datetime.now(UTC) - timedelta(minutes=1)
    plan = [
        wf.row("Shared-1", StepState.INCOMPLETE, StepReason.PENDING),
        wf.row("Old-2", StepState.INCOMPLETE, StepReason.PENDING),
    ]
    # An earlier run's failed attempt of Old-2: this run has not tried it yet.
    wf.write_step(
        tmp_path, info("Old-2", StepState.FAILED, start - timedelta(hours=1), me, error="E: x")
    )
    with live_process() as run_a, live_process() as worker_b:
        wf.write_run(tmp_path, "a", plan, start=start, owner=owner_of(run_a), status="running")
        wf.write_run(tmp_path, "b", plan[:1], start=start, owner=me, status="running")
        wf.write_step(
            tmp_path,
            info("Shared-1", StepState.RUNNING, start + timedelta(seconds=2), owner_of(worker_b)),
        )
        fd = hold_lock(tmp_path, "Shared-1")
        try:
            src = open_source(tmp_path)
            a = {s.unique_id: s for s in src.run_detail("a").steps}
            b = {s.unique_id: s for s in src.run_detail("b").steps}
        finally:
            os.close(fd)
    # worker_b is a child of this process (run b's owner), not of run a's process.
    assert (
        a["Shared-1"].state == StepState.INCOMPLETE and a["Shared-1"].reason == StepReason.PENDING
    )
    assert a["Old-2"].state == StepState.INCOMPLETE and a["Old-2"].error is None
    assert b["Shared-1"].state == StepState.RUNNING
