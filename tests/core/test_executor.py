"""run_steps: dependency order, failure propagation with reasons, worker processes, interruption."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from core_steps import Add, Boom, Die, Fresh, Gate, Interrupt, lines

from tango_tui import LocalWorkspace, MemoryWorkspace, Run, Step, Workspace, run_steps
from tango_tui.core import RunStatus, StepReason, StepState

try:
    import tango_tui.core._local  # noqa: F401

    HAVE_LOCAL = True
except ImportError:  # CORE-B's module not there yet
    HAVE_LOCAL = False
needs_local = pytest.mark.skipif(
    not HAVE_LOCAL, reason="tango_tui.core._local (LocalWorkspace) cannot be imported yet"
)


@pytest.fixture(params=["memory", "local"])
def ws(request: pytest.FixtureRequest, tmp_path: Path) -> Workspace:
    if request.param == "memory":
        return MemoryWorkspace()
    if not HAVE_LOCAL:
        pytest.skip("tango_tui.core._local (LocalWorkspace) cannot be imported yet")
    return LocalWorkspace(tmp_path / "ws")


def rows(run: Run) -> dict[str, tuple[StepState, StepReason, str | None]]:
    """``{step name: (state, reason, blocked_by)}`` from the run's plan."""
    return {r.name: (r.state, r.reason, r.blocked_by) for r in run.plan.values()}


def test_dependency_order_and_each_step_once(ws: Workspace, tmp_path: Path) -> None:
    log = str(tmp_path / "log")
    base = Add(a=1, b=1, log=log, step_name="base")
    left = Add(a=base, b=10, log=log, step_name="left")
    right = Add(a=base, b=100, log=log, step_name="right")
    top = Add(a=left, b=right, log=log, step_name="top")
    run = run_steps(ws, {"top": top}, name="diamond")
    order = [line.split()[0] for line in lines(log)]
    assert sorted(order) == ["base", "left", "right", "top"]
    assert order[0] == "base" and order[-1] == "top"
    assert run.status is RunStatus.COMPLETED and ws.step_result_for_run("diamond", "top") == 114
    assert {r.reason for r in run.plan.values()} == {StepReason.RAN}
    assert {r.state for r in run.plan.values()} == {StepState.COMPLETED}
    assert all(
        r.start_time and r.end_time and r.end_time >= r.start_time for r in run.plan.values()
    )
    assert run.plan[top.unique_id].target and not run.plan[base.unique_id].target


def failing_pipeline(log: str) -> dict[str, Step]:
    ok = Add(a=1, b=2, log=log, step_name="ok")
    boom = Boom(x=ok, log=log, step_name="boom")
    after = Add(a=boom, b=1, log=log, step_name="after")
    later = Add(a=after, b=1, log=log, step_name="later")
    alone = Add(a=5, b=5, log=log, step_name="alone")
    return {"later": later, "alone": alone}


def test_failure_blocks_dependents_and_independent_steps_go_on(
    ws: Workspace, tmp_path: Path
) -> None:
    log = str(tmp_path / "log")
    targets = failing_pipeline(log)
    run = run_steps(ws, targets, name="broken")  # does not raise: the Run says what failed
    boom_uid = next(r.unique_id for r in run.plan.values() if r.name == "boom")
    assert rows(run) == {
        "ok": (StepState.COMPLETED, StepReason.RAN, None),
        "boom": (StepState.FAILED, StepReason.RAN, None),
        "after": (StepState.INCOMPLETE, StepReason.DEPENDENCY_FAILED, boom_uid),
        "later": (StepState.INCOMPLETE, StepReason.DEPENDENCY_FAILED, boom_uid),
        "alone": (StepState.COMPLETED, StepReason.RAN, None),
    }
    assert run.plan[boom_uid].error == "ValueError: boom 3"
    assert run.status is RunStatus.FAILED and run.end_date is not None and run.owner is None
    assert sorted(line.split()[0] for line in lines(log)) == ["alone", "boom", "ok"]
    if isinstance(ws, LocalWorkspace):
        out = (ws.dir / "runs" / "broken" / "out.log").read_text()
        assert f"Step 'after' not run: it depends on step 'boom' ({boom_uid}), which failed" in out
        assert "Step 'boom' failed: ValueError: boom 3" in out

    again = run_steps(ws, failing_pipeline(log), name="again")
    assert rows(again)["ok"] == (StepState.COMPLETED, StepReason.CACHED, None)
    assert rows(again)["alone"] == (StepState.COMPLETED, StepReason.CACHED, None)
    assert rows(again)["boom"] == (StepState.FAILED, StepReason.RAN, None)
    assert ws.step_info(boom_uid).attempt == 2


def test_uncacheable_dependency(ws: Workspace, tmp_path: Path) -> None:
    log = str(tmp_path / "log")
    fresh = Fresh(value=2, log=log, step_name="fresh")
    targets = {"x": Add(a=fresh, b=1), "y": Add(a=fresh, b=2)}
    run = run_steps(ws, targets, name="one")
    assert len(lines(log)) == 1  # computed once for both dependents in this process
    assert rows(run)["fresh"] == (StepState.UNCACHEABLE, StepReason.RAN, None)
    again = run_steps(ws, targets, name="two")
    assert len(lines(log)) == 1  # both dependents cached: not needed at all
    assert rows(again)["fresh"][1] is StepReason.CACHED
    assert again.status is RunStatus.COMPLETED


def test_target_names_from_dict_keys_or_step_names(ws: Workspace) -> None:
    named = Add(a=1, b=2, step_name="given")
    run = run_steps(ws, {"renamed": named, "other": Add(a=3, b=4)})
    assert set(run.steps) == {"renamed", "other"} and named.name == "given"  # not mutated
    run2 = run_steps(ws, [named])
    assert list(run2.steps) == ["given"]
    assert rows(run2)["given"][1] is StepReason.CACHED


class RunStatusProbe(Step):
    """Returns what the workspace says about the run while the step executes."""

    def run(self, run_name: str) -> Any:  # type: ignore[override]
        run = self.workspace.registered_run(run_name)
        return [run.status.value, run.owner.pid if run.owner else None]


def test_run_is_recorded_running_while_it_executes(ws: Workspace) -> None:
    run = run_steps(ws, {"probe": RunStatusProbe(run_name="live")}, name="live")
    assert ws.step_result_for_run("live", "probe") == ["running", os.getpid()]
    assert run.status is RunStatus.COMPLETED and run.owner is None


class Counting(MemoryWorkspace):
    """Counts update_run calls and when they happened."""

    def __init__(self) -> None:
        super().__init__()
        self.updates: list[float] = []

    def update_run(self, run: Run) -> None:
        self.updates.append(time.monotonic())
        super().update_run(run)


class Slowish(Step):
    def run(self, i: int) -> int:  # type: ignore[override]
        time.sleep(0.01)  # some work, so the run lasts several recorder intervals
        return i


def test_run_record_updates_are_rate_limited() -> None:
    ws = Counting()
    targets = {f"s{i}": Slowish(i=i) for i in range(60)}
    run = run_steps(ws, targets)
    assert run.status is RunStatus.COMPLETED
    gaps = [b - a for a, b in zip(ws.updates[1:-2], ws.updates[2:-1])]
    # First write (RUNNING), then at most one per ~0.3 s, then the final one: 120 row changes,
    # far fewer writes.
    assert len(ws.updates) < 120
    assert all(g >= 0.25 for g in gaps)


def test_memory_workspace_falls_back_to_one_process(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="tango_tui.core._executor"):
        run = run_steps(MemoryWorkspace(), {"a": Add(a=1, b=2)}, parallelism=3)
    assert run.status is RunStatus.COMPLETED
    assert any("one at a time" in r.getMessage() for r in caplog.records)


def test_interrupt_writes_a_final_status_and_reraises(ws: Workspace) -> None:
    targets = {"first": Add(a=1, b=2), "stop": Interrupt(), "never": Add(a=9, b=9)}
    with pytest.raises(KeyboardInterrupt):
        run_steps(ws, targets, name="stopped")
    run = ws.registered_run("stopped")
    assert run.status is RunStatus.INCOMPLETE and run.end_date is not None and run.owner is None
    assert rows(run)["first"] == (StepState.COMPLETED, StepReason.RAN, None)
    assert rows(run)["stop"][:2] == (StepState.FAILED, StepReason.RAN)
    assert rows(run)["never"][1] is StepReason.NOT_REACHED


# ----- worker processes ----------------------------------------------------------------------
@needs_local
def test_parallel_steps_overlap_in_worker_processes(tmp_path: Path) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    log, a_up, b_up = str(tmp_path / "log"), str(tmp_path / "a-up"), str(tmp_path / "b-up")
    # Each waits for the other to have started: only possible if they run at the same time.
    a = Gate(value=1, log=log, touch=a_up, until=b_up, step_name="a")
    b = Gate(value=2, log=log, touch=b_up, until=a_up, step_name="b")
    fresh = Fresh(value=10, log=log, step_name="fresh")
    top = Add(
        a=Add(a=a, b=fresh, step_name="ua"), b=Add(a=b, b=fresh, step_name="ub"), step_name="top"
    )
    run = run_steps(ws, {"top": top}, name="par", parallelism=2)
    assert run.status is RunStatus.COMPLETED, rows(run)
    assert ws.step_result_for_run("par", "top") == 23
    by_name: dict[str, list[int]] = {}
    for line in lines(log):
        name, pid = line.split()
        by_name.setdefault(name, []).append(int(pid))
    assert by_name["a"] != by_name["b"] and os.getpid() not in by_name["a"] + by_name["b"]
    # The uncacheable dependency was recomputed in each worker that needed it.
    assert len(by_name["fresh"]) == 2 and os.getpid() not in by_name["fresh"]
    assert rows(run)["fresh"] == (StepState.UNCACHEABLE, StepReason.RAN, None)
    assert (ws.dir / ws.registered_run("par").plan[a.unique_id].log_file).is_file()


@needs_local
def test_parallel_failure_and_dead_worker(tmp_path: Path) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    log = str(tmp_path / "log")
    die = Die(step_name="die")
    targets = {
        **failing_pipeline(log),
        "after_die": Add(a=die, b=1, step_name="after_die"),
    }
    run = run_steps(ws, targets, name="par-fail", parallelism=2)
    r = rows(run)
    assert run.status is RunStatus.FAILED
    assert r["boom"][:2] == (StepState.FAILED, StepReason.RAN)
    assert r["later"][1] is StepReason.DEPENDENCY_FAILED and r["alone"][0] is StepState.COMPLETED
    assert r["die"][0] in (StepState.CRASHED, StepState.FAILED) and r["die"][1] is StepReason.RAN
    assert "worker process died" in (run.plan[die.unique_id].error or "")
    assert r["after_die"] == (StepState.INCOMPLETE, StepReason.DEPENDENCY_FAILED, die.unique_id)
    # The dead attempt is seen as crashed and can run again (here it dies again, just as dead).
    assert ws.step_info(die).state is StepState.CRASHED


# ----- waiting on another process's step -----------------------------------------------------
HOLDER = """
import sys
sys.path.insert(0, sys.argv[1])
from core_steps import Gate
from tango_tui import LocalWorkspace
Gate(value=5, log=sys.argv[3], until=sys.argv[4]).result(LocalWorkspace(sys.argv[2]))
"""


@needs_local
def test_waiter_takes_over_a_step_whose_process_was_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import signal
    import subprocess
    import threading
    import types

    from core_steps import wait_for

    import tango_tui.core._runner as runner_module

    root, log, release = tmp_path / "ws", str(tmp_path / "log"), str(tmp_path / "release")
    ws = LocalWorkspace(root)
    step = Gate(value=5, log=log, until=release)
    env = {**os.environ, "PYTHONPATH": str(HERE.parent.parent)}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(HERE), str(root), log, release], env=env
    )
    try:
        assert wait_for(lambda: len(lines(log)) == 1)  # the other process is inside the body
        polls: list[float] = []
        real_sleep = time.sleep
        monkeypatch.setattr(
            runner_module,
            "time",
            types.SimpleNamespace(sleep=lambda s: (polls.append(s), real_sleep(s))),
        )
        out: list[Any] = []
        waiter = threading.Thread(target=lambda: out.append(step.result(ws)))
        waiter.start()
        assert wait_for(lambda: len(polls) >= 2)  # waiting on the RUNNING step, not running it
        assert len(lines(log)) == 1
        holder.send_signal(signal.SIGKILL)
        holder.wait(30)
        Path(release).touch()
        waiter.join(30)
        assert not waiter.is_alive() and out == [5]
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    assert len(lines(log)) == 2  # the killed attempt, then ours
    info = ws.step_info(step)
    assert info.state is StepState.COMPLETED and info.attempt == 2
    assert max(polls) <= 0.2  # the backoff is capped


def test_chain_of_uncacheable_dependencies_not_needed_when_cached(
    ws: Workspace, tmp_path: Path
) -> None:
    log = str(tmp_path / "log")
    inner = Fresh(value=1, log=log, step_name="inner")
    outer = Fresh(value=inner, log=log, step_name="outer")
    targets = {"top": Add(a=outer, b=1)}
    assert run_steps(ws, targets).status is RunStatus.COMPLETED
    assert [line.split()[0] for line in lines(log)] == ["inner", "outer"]
    again = run_steps(ws, targets)
    assert len(lines(log)) == 2
    assert rows(again)["inner"][1] is rows(again)["outer"][1] is StepReason.CACHED


class Chatty(Step):
    """Prints, logs and reports progress."""

    def run(self, n: int) -> int:  # type: ignore[override]
        print("hello from print")
        logging.getLogger("chatty").info("hello from logging")
        for _ in self.track(range(n), desc="items"):
            pass
        return n


def test_step_output_and_progress_are_recorded(ws: Workspace) -> None:
    step = Chatty(n=3, step_name="chatty")
    run = run_steps(ws, [step], name="talk")
    assert run.status is RunStatus.COMPLETED
    progress = ws.step_progress(step)
    assert (
        progress is not None and progress.done == progress.total == 3 and progress.desc == "items"
    )
    if isinstance(ws, LocalWorkspace):
        log_file = run.plan[step.unique_id].log_file
        text = (ws.dir / log_file).read_text()
        assert "hello from print" in text and "hello from logging" in text
        assert "Starting step 'chatty'" in text


INTERRUPTED = """
import json, sys
sys.path.insert(0, sys.argv[1])
from core_steps import Add, InterruptParent
from tango_tui import LocalWorkspace, run_steps
ws = LocalWorkspace(sys.argv[2])
stop = InterruptParent(log=sys.argv[3], until=sys.argv[4], step_name="stop")
targets = {"stop": stop, "after": Add(a=stop, b=1, step_name="after")}
try:
    run_steps(ws, targets, name="ctrl-c", parallelism=2)
    print("no interrupt")
except KeyboardInterrupt:
    run = ws.registered_run("ctrl-c")
    rows = {r.name: [r.state.value, r.reason.value] for r in run.plan.values()}
    print(json.dumps({"status": run.status.value, "rows": rows, "owner": run.owner is None}))
"""


@needs_local
def test_ctrl_c_during_a_parallel_run(tmp_path: Path) -> None:
    import json
    import subprocess

    log = tmp_path / "log"
    env = {**os.environ, "PYTHONPATH": str(HERE.parent.parent)}
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            INTERRUPTED,
            str(HERE),
            str(tmp_path / "ws"),
            str(log),
            str(tmp_path / "never"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["status"] == "incomplete" and out["owner"]
    assert out["rows"]["stop"][0] in ("crashed", "failed") and out["rows"]["stop"][1] == "ran"
    assert out["rows"]["after"][1] == "not reached"
    worker = int(lines(log)[0])
    assert (
        not Path(f"/proc/{worker}").exists()
        or "Z" in Path(f"/proc/{worker}/stat").read_text().split()[2]
    )
