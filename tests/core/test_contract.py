"""The Workspace contracts of issue 2 (items 1-5 and 10), one test body for both workspaces.

Every test here runs against MemoryWorkspace and LocalWorkspace(tmp_path): the same assertions
prove both. The cross-process test (three processes, one step body) is LocalWorkspace only,
since a MemoryWorkspace is not shared between processes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import textwrap
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))
from core_steps import Add, Boom, Fresh, WaitForWaiters, lines

from tango_tui import (
    LocalStepCache,
    LocalWorkspace,
    MemoryStepCache,
    MemoryWorkspace,
    Run,
    StepCache,
    StepInfo,
    StepState,
    StepStateError,
    Workspace,
    run_steps,
)
from tango_tui.core import RunExistsError, RunSort, RunStatus, StepInfoSort


@pytest.fixture(params=["memory", "local"])
def ws(request: pytest.FixtureRequest, tmp_path: Path) -> Workspace:
    if request.param == "memory":
        return MemoryWorkspace()
    return LocalWorkspace(tmp_path / "ws")


def finish(ws: Workspace, step: Any, value: Any) -> Any:
    ws.step_starting(step)
    return ws.step_finished(step, value)


# ----- 1. the abstract base and its members --------------------------------------------------
def test_register_run_invents_unique_readable_names(ws: Workspace) -> None:
    names = {ws.register_run([Add(a=i, b=0, step_name="s")]).name for i in range(20)}
    assert len(names) == 20
    for name in names:
        assert name.count("-") >= 1 and name.replace("-", "").isalpha()  # "fancy-llama"
    assert set(ws.registered_runs()) == names
    assert ws.num_registered_runs() == 20


def test_register_run_refuses_an_existing_name(ws: Workspace) -> None:
    first = ws.register_run([Add(a=1, b=2, step_name="x")], name="mine")
    with pytest.raises(RunExistsError, match="'mine'"):
        ws.register_run([Add(a=3, b=4, step_name="y")], name="mine")
    # The old run is intact (Tango would have wiped it).
    assert list(ws.registered_run("mine").steps) == ["x"]
    assert ws.registered_run("mine").start_date == first.start_date


def test_registered_run_and_step_info_key_errors(ws: Workspace) -> None:
    with pytest.raises(KeyError):
        ws.registered_run("nope")
    with pytest.raises(KeyError):
        ws.step_info("Add-doesnotexist")
    step = Add(a=1, b=2)
    info = ws.step_info(step)  # a Step is always answerable
    assert info.state is StepState.INCOMPLETE and info.unique_id == step.unique_id


def test_state_transitions(ws: Workspace) -> None:
    step = Add(a=1, b=2)
    for wrong in (ws.step_finished, ws.step_failed):
        with pytest.raises(StepStateError):
            wrong(step, ValueError("x")) if wrong == ws.step_failed else wrong(step, 3)
    ws.step_starting(step)
    assert ws.step_info(step).state is StepState.RUNNING
    with pytest.raises(StepStateError):
        ws.step_starting(step)
    ws.step_failed(step, ValueError("bad"))
    info = ws.step_info(step)
    assert info.state is StepState.FAILED and info.error == "ValueError: bad"
    with pytest.raises(StepStateError):
        ws.step_failed(step, ValueError("again"))
    ws.step_starting(step)  # FAILED may start again
    assert ws.step_info(step).attempt == 2
    assert ws.step_finished(step, 3) == 3
    assert ws.step_info(step).state is StepState.COMPLETED
    with pytest.raises(StepStateError):
        ws.step_starting(step)
    with pytest.raises(StepStateError):
        ws.step_finished(step, 3)


def test_iterator_result_is_stored_and_a_fresh_iterator_returned(ws: Workspace) -> None:
    step = Add(a=1, b=2)
    out = finish(ws, step, (i * i for i in range(4)))
    assert list(out) == [0, 1, 4, 9]
    assert ws.step_cache[step] == [0, 1, 4, 9]


def test_step_result_for_run(ws: Workspace) -> None:
    a = Add(a=1, b=2, step_name="a")
    run = run_steps(ws, [a], name="r")
    assert run.status is RunStatus.COMPLETED
    assert ws.step_result_for_run("r", "a") == 3
    with pytest.raises(KeyError):
        ws.step_result_for_run("nope", "a")
    with pytest.raises(KeyError):
        ws.step_result_for_run("r", "nope")


def test_work_dir_capture_logs_step_cache_and_url(ws: Workspace) -> None:
    step = Add(a=1, b=2)
    work = ws.work_dir(step)
    assert work.is_dir()
    (work / "f").write_text("x")
    if isinstance(ws, LocalWorkspace):  # persistent per step, so a restarted step can resume
        assert ws.work_dir(step) == work and (work / "f").read_text() == "x"
    run = ws.register_run([step], name="logged")
    ctx = ws.capture_logs_for_run(run.name)
    assert isinstance(ctx, contextlib.AbstractContextManager)
    with ctx:
        logging.getLogger("contract").info("inside the run")
    assert isinstance(ws.step_cache, StepCache)
    assert isinstance(
        ws.step_cache, MemoryStepCache if isinstance(ws, MemoryWorkspace) else LocalStepCache
    )
    again = Workspace.from_url(ws.url)
    assert type(again) is type(ws) and again.url == ws.url


def test_listing(ws: Workspace) -> None:
    a = Add(a=1, b=2, step_name="alpha")
    b = Add(a=a, b=1, step_name="beta")
    c = Boom(x=3, step_name="gamma")
    for name, targets in (("run-one", [b]), ("run-two", [c]), ("other", [a])):
        run_steps(ws, targets, name=name)
    assert ws.num_registered_runs() == 3 and ws.num_registered_runs(match="RUN") == 2
    assert [
        r.name for r in ws.search_registered_runs(sort_by=RunSort.NAME, sort_descending=False)
    ] == ["other", "run-one", "run-two"]
    newest = ws.search_registered_runs(sort_by=RunSort.START_DATE)
    assert [r.name for r in newest] == ["other", "run-two", "run-one"]
    assert [r.name for r in ws.search_registered_runs(sort_by=RunSort.NAME, start=1, stop=2)] == [
        "run-one"
    ]
    assert ws.num_steps() == 3
    assert ws.num_steps(state=StepState.FAILED) == 1
    assert [i.step_name for i in ws.search_step_info(match="gam")] == ["gamma"]
    ids = [
        i.unique_id
        for i in ws.search_step_info(sort_by=StepInfoSort.UNIQUE_ID, sort_descending=False)
    ]
    assert ids == sorted(ids)
    ws.remove_step(c.unique_id)
    assert ws.num_steps() == 2
    with pytest.raises(KeyError):
        ws.remove_step(c.unique_id)
    ws.remove_step(a.unique_id)
    assert a not in ws.step_cache


# ----- 2. registration and URLs --------------------------------------------------------------
def test_registry_and_urls(tmp_path: Path) -> None:
    assert Workspace.by_name("local") is LocalWorkspace
    assert Workspace.by_name("memory") is MemoryWorkspace
    assert isinstance(Workspace.from_url(str(tmp_path / "plain")), LocalWorkspace)
    local = Workspace.from_url(f"local://{tmp_path / 'viaurl'}")
    assert isinstance(local, LocalWorkspace) and local.dir == tmp_path / "viaurl"
    assert Workspace.from_url(local.url).url == local.url
    mem = Workspace.from_url("memory://")
    assert isinstance(mem, MemoryWorkspace) and mem.url == "memory://"
    assert Workspace.from_url("memory://") is not mem  # a fresh one each time, as Tango's
    with pytest.raises(ValueError, match=r"'nosuch'.*local://.*memory://"):
        Workspace.from_url("nosuch://x")


# ----- 3. Run --------------------------------------------------------------------------------
def test_run_maps_target_names_to_step_infos(ws: Workspace) -> None:
    a = Add(a=1, b=2)
    b = Add(a=a, b=3)
    run = ws.register_run([b], name="named")
    assert isinstance(run, Run)
    assert list(run.steps) == [b.unique_id]  # unnamed target: its name is its unique id
    assert run.start_date.tzinfo is not None and run.start_date.utcoffset() == timedelta(0)
    assert set(run.plan) == {a.unique_id, b.unique_id}
    done = run_steps(ws, {"top": b}, name="ran")
    assert list(done.steps) == ["top"] and isinstance(done.steps["top"], StepInfo)
    assert done.steps["top"].state is StepState.COMPLETED
    assert done.status is RunStatus.COMPLETED and done.end_date is not None
    assert done.end_date >= done.start_date and done.end_date.tzinfo is not None
    assert done.owner is None


# ----- 4. StepInfo ---------------------------------------------------------------------------
def test_step_info_fields_state_duration_and_json(ws: Workspace) -> None:
    dep = Add(a=1, b=2, step_name="dep")
    step = Add(a=dep, b=5, step_name="top", step_metadata={"k": "v"})
    assert step.result(ws) == 8
    info = ws.step_info(step)
    assert (
        info.unique_id == step.unique_id
        and info.step_class_name == "Add"
        and info.step_name == "top"
    )
    assert info.dependencies == {dep.unique_id} and info.cacheable and info.version is None
    assert info.config == {"a": {"type": "ref", "ref": dep.unique_id}, "b": 5}
    assert info.metadata == {"k": "v"}
    assert info.platform is not None and info.platform.host and info.platform.user
    assert info.environment is not None and info.environment.python and info.environment.command
    assert info.start_time.tzinfo is UTC or info.start_time.utcoffset() == timedelta(0)
    assert info.duration is not None and info.duration >= timedelta(0)
    assert info.state is StepState.COMPLETED
    assert StepInfo.from_json_dict(info.to_json_dict()) == info
    fresh = Fresh(value=1)
    fresh.result(ws)
    assert ws.step_info(fresh).state is StepState.UNCACHEABLE


# ----- 5. Step with a workspace --------------------------------------------------------------
def test_result_never_reruns_a_cached_step(ws: Workspace, tmp_path: Path) -> None:
    log = str(tmp_path / "runs.log")
    step = Add(a=Add(a=1, b=1, log=log), b=1, log=log)
    assert step.result(ws) == 3 and step.result(ws) == 3
    assert run_steps(ws, [step]).plan[step.unique_id].reason.value == "cached"
    assert len(lines(log)) == 2


def test_failed_step_can_run_again(ws: Workspace, tmp_path: Path) -> None:
    flag = tmp_path / "fixed"

    class Flaky(Add):
        def run(self, a: Any, b: Any, log: str | None = None) -> Any:  # type: ignore[override]
            if not flag.exists():
                raise RuntimeError("not yet")
            return a + b

    step = Flaky(a=1, b=2)
    with pytest.raises(RuntimeError):
        step.result(ws)
    flag.touch()
    assert step.result(ws) == 3
    assert ws.step_info(step).attempt == 2


# ----- cross-process: one body for three callers ---------------------------------------------
CALLER = textwrap.dedent(
    """
    import os, sys, types
    sys.path.insert(0, sys.argv[1])
    from core_steps import WaitForWaiters
    import tango_tui.core._runner as runner
    from tango_tui import LocalWorkspace

    marker = os.path.join(sys.argv[3], str(os.getpid()))
    real_sleep = runner.time.sleep

    def sleep(seconds):
        # Instrumentation only: announce that this process is waiting for another one.
        if not os.path.exists(marker):
            open(marker, "w").close()
        real_sleep(seconds)

    runner.time = types.SimpleNamespace(sleep=sleep)
    step = WaitForWaiters(log=sys.argv[4], markers=sys.argv[3], n=2)
    print(step.result(LocalWorkspace(sys.argv[2])))
    """
)


def test_three_processes_run_one_step_body_once(tmp_path: Path) -> None:
    root, markers, log = tmp_path / "ws", tmp_path / "waiting", tmp_path / "executions.log"
    markers.mkdir()
    LocalWorkspace(root)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CALLER, str(HERE), str(root), str(markers), str(log)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=90) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [o[1] for o in outs]
    assert [o[0].strip() for o in outs] == ["once"] * 3
    assert len(lines(log)) == 1  # the body ran exactly once
    # The two others really waited for it while it ran (the body held on until they did).
    assert len(os.listdir(markers)) == 2
    step = WaitForWaiters(log=str(log), markers=str(markers), n=2)
    assert LocalWorkspace(root).step_info(step).state is StepState.COMPLETED


class BrokenStream(Add):
    """Returns a generator that fails half-way."""

    def run(self, a: Any, b: Any, log: str | None = None) -> Any:  # type: ignore[override]
        def items() -> Any:
            yield a
            raise OSError(5, "stream broke")

        return items()


def test_a_generator_failing_half_way_fails_the_step(ws: Workspace) -> None:
    step = BrokenStream(a=1, b=2)
    with pytest.raises(OSError, match="stream broke"):
        step.result(ws)
    info = ws.step_info(step)
    assert info.state is StepState.FAILED and "stream broke" in info.error
    assert step not in ws.step_cache


def test_a_result_without_a_completed_record_is_adopted_not_rerun(
    ws: Workspace, tmp_path: Path
) -> None:
    log = str(tmp_path / "log")
    step = Add(a=40, b=2, log=log, step_name="s")
    ws.step_cache[step] = 42  # stored by an attempt that never recorded COMPLETED
    assert ws.step_info(step).state is not StepState.COMPLETED
    run = run_steps(ws, [step], name="adopt")
    assert lines(log) == []  # the body did not run again
    assert ws.step_info(step).state is StepState.COMPLETED
    row = run.plan[step.unique_id]
    assert (row.state, row.reason.value, run.status) == (
        StepState.COMPLETED,
        "cached",
        RunStatus.COMPLETED,
    )
    assert step.result(ws) == 42
