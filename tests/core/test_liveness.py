"""A step whose process died never shows RUNNING; a live one does and cannot be started twice."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))
from local_steps import Echo

from tango_tui.core._errors import StepStateError
from tango_tui.core._local import LocalWorkspace
from tango_tui.core._model import Owner, StepState, utc_now

# Starts the step, says so on stdout, then waits for a line on stdin before finishing it.
WORKER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {here!r})
    from local_steps import Echo
    from tango_tui.core._local import LocalWorkspace
    ws = LocalWorkspace({root!r})
    step = Echo(value={value!r})
    ws.step_starting(step)
    print("started", flush=True)
    sys.stdin.readline()
    ws.step_finished(step, {value!r})
    print("finished", flush=True)
    """
)


def _env() -> dict[str, str]:
    extra = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *([extra] if extra else [])])}


def _start_worker(root: Path, value: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER.format(here=str(HERE), root=str(root), value=value)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )


def _expect_line(proc: subprocess.Popen[str], expected: str, timeout: float = 30.0) -> None:
    """Wait (with a deadline) for the worker to print ``expected``."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], deadline - time.monotonic())
        if ready:
            line = proc.stdout.readline()
            if line.strip() == expected:
                return
            if not line:
                break
    proc.kill()
    raise AssertionError(
        f"worker never printed {expected!r}: {proc.stderr.read() if proc.stderr else ''}"
    )


def test_sigkilled_step_shows_crashed_and_can_run_again(tmp_path: Path) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    step = Echo(value="killed")
    proc = _start_worker(ws.dir, "killed")
    try:
        _expect_line(proc, "started")
        running = ws.step_info(step)
        assert running.state is StepState.RUNNING
        assert running.owner is not None and running.owner.pid == proc.pid
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    info = ws.step_info(step)
    assert info.state is StepState.CRASHED
    assert str(proc.pid) in info.crashed
    # Also through the listing a dashboard uses.
    assert [i.state for i in ws.search_step_info()] == [StepState.CRASHED]
    ws.step_starting(step)
    assert ws.step_info(step).attempt == 2
    assert ws.step_finished(step, "killed") == "killed"
    assert ws.step_info(step).state is StepState.COMPLETED
    assert ws.step_cache[step] == "killed"


def test_step_running_in_a_live_process_cannot_start_here(tmp_path: Path) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    step = Echo(value="alive")
    proc = _start_worker(ws.dir, "alive")
    try:
        _expect_line(proc, "started")
        assert ws.step_info(step).state is StepState.RUNNING
        with pytest.raises(StepStateError) as err:
            ws.step_starting(step)
        assert err.value.step_state is StepState.RUNNING
        assert str(proc.pid) in str(err.value)
        with pytest.raises(StepStateError):
            ws.step_finished(step, "alive")  # not ours to finish
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
        _expect_line(proc, "finished")
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert ws.step_info(step).state is StepState.COMPLETED
    assert ws.step_cache[step] == "alive"


def test_owner_on_another_host_is_judged_by_the_lock(tmp_path: Path) -> None:
    # A cluster sharing NFS: the pid means nothing here, the flock on the step's lock decides.
    ws = LocalWorkspace(tmp_path / "ws")
    step = Echo(value="remote")
    info = step.make_step_info()
    info.start_time = utc_now()
    info.owner = Owner(host="some-other-host.invalid", pid=1)
    ws.layout.step_dir(step.unique_id).mkdir()
    ws._write_info(info)
    assert ws.step_info(step).state is StepState.CRASHED  # nobody holds the lock
    proc = _start_worker(ws.dir, "remote")  # a live process takes the lock and runs it
    try:
        _expect_line(proc, "started")
        record = ws._read_info(step.unique_id)
        record.owner = Owner(host="some-other-host.invalid", pid=1)
        ws._write_info(record)  # pretend that process lives on another machine
        assert ws.step_info(step).state is StepState.RUNNING
    finally:
        proc.kill()
        proc.wait()
    assert ws.step_info(step).state is StepState.CRASHED


def test_live_owner_that_gave_up_the_lock_is_not_running(tmp_path: Path) -> None:
    # E.g. the final record could not be written (disk full): the process lives on, the attempt not.
    ws = LocalWorkspace(tmp_path / "ws")
    step = Echo(value="abandoned")
    ws.step_starting(step)
    assert ws.step_info(step).state is StepState.RUNNING
    ws._release(step.unique_id)
    info = ws.step_info(step)
    assert info.state is StepState.CRASHED and "lock" in info.crashed
    ws.step_starting(step)
    ws.step_finished(step, "abandoned")
    assert ws.step_info(step).state is StepState.COMPLETED


def test_run_json_of_a_killed_executor_reads_crashed(tmp_path: Path) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    run = ws.register_run([Echo(value=1, step_name="a")], name="r")
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.readline()"], stdin=subprocess.PIPE
    )
    try:
        from tango_tui.core._liveness import hostname, pid_start_time
        from tango_tui.core._model import RunStatus

        run.status = RunStatus.RUNNING
        run.owner = Owner(host=hostname(), pid=proc.pid, pid_start=pid_start_time(proc.pid))
        ws.update_run(run)
        assert ws.registered_run("r").status is RunStatus.RUNNING
        proc.kill()
        proc.wait(timeout=30)
        assert ws.registered_run("r").status is RunStatus.CRASHED
        assert (
            json.loads((ws.dir / "runs" / "r" / "run.json").read_text())["run"]["status"]
            == "running"
        )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


RACER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {here!r})
    from local_steps import Echo
    from tango_tui.core._errors import StepStateError
    from tango_tui.core._local import LocalWorkspace
    ws = LocalWorkspace({root!r})
    step = Echo(value="raced")
    print("ready", flush=True)
    sys.stdin.readline()
    try:
        ws.step_starting(step)
    except StepStateError as e:
        print("lost", e.step_state.value, flush=True)
        sys.exit(0)
    print("won", flush=True)
    sys.stdin.readline()
    ws.step_finished(step, "raced")
    """
)


def test_three_processes_starting_one_step_at_once_exactly_one_wins(tmp_path: Path) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER.format(here=str(HERE), root=str(ws.dir))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for _ in range(3)
    ]
    try:
        for p in procs:
            _expect_line(p, "ready")
        for p in procs:  # release them together
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        verdicts = []
        for p in procs:
            assert p.stdout is not None
            ready, _, _ = select.select([p.stdout], [], [], 30)
            assert ready, "a racer said nothing"
            verdicts.append(p.stdout.readline().split())
        winners = [p for p, v in zip(procs, verdicts) if v == ["won"]]
        assert len(winners) == 1, verdicts
        assert sorted(v[0] for v in verdicts) == ["lost", "lost", "won"]
        assert all(v[1] == "running" for v in verdicts if v[0] == "lost")
        assert ws.step_info(Echo(value="raced")).owner.pid == winners[0].pid
        winners[0].stdin.write("go\n")
        winners[0].stdin.flush()
        for p in procs:
            assert p.wait(timeout=30) == 0, p.stderr.read() if p.stderr else ""
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    info = ws.step_info(Echo(value="raced"))
    assert info.state is StepState.COMPLETED and info.attempt == 1
