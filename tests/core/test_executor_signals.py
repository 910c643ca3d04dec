"""run_steps under signals: no orphan workers after SIGKILL, SIGTERM/SIGHUP stop a run cleanly.

Each test runs a real pipeline in a subprocess (its own session, so signals reach it alone), with
a long step (``Gate``) that waits for a file; it learns the executing pid from the step's record,
signals the executor, then checks processes, records and a rerun.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import ClassVar

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from core_steps import Add, Gate, lines, wait_for

from tango_tui import LocalWorkspace, MemoryWorkspace, run_steps
from tango_tui.core import RunStatus, StepState
from tango_tui.core._liveness import pid_start_time
from tango_tui.core._signals import STOP_SIGNALS, StopSignals

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="needs /proc and prctl"
)

PIPELINE = """
import sys
sys.path.insert(0, sys.argv[1])
from core_steps import Add, Gate
from tango_tui import LocalWorkspace, run_steps
ws = LocalWorkspace(sys.argv[2])
slow = Gate(value=1, log=sys.argv[3], until=sys.argv[4], step_name="slow")
targets = {"slow": slow, "quick": Add(a=1, b=2, step_name="quick"), "after": Add(a=slow, b=1, step_name="after")}
run_steps(ws, targets, name=sys.argv[5], parallelism=int(sys.argv[6]))
print("finished")
"""


def pipeline(tmp_path: Path) -> tuple[Gate, dict[str, object]]:
    slow = Gate(value=1, log=str(tmp_path / "log"), until=str(tmp_path / "go"), step_name="slow")
    return slow, {
        "slow": slow,
        "quick": Add(a=1, b=2, step_name="quick"),
        "after": Add(a=slow, b=1, step_name="after"),
    }


def gone(pid: int, start: int | None) -> bool:
    """Whether process ``pid`` (started at ``start``) no longer runs (a zombie counts as gone)."""
    now = pid_start_time(pid)
    return now is None or now != start


class Started:
    """The pipeline subprocess, once its slow step is inside its body."""

    def __init__(self, tmp_path: Path, run_name: str, parallelism: int):
        self.root = tmp_path / "ws"
        self.slow, _ = pipeline(tmp_path)
        env = {**os.environ, "PYTHONPATH": str(HERE.parent.parent)}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                PIPELINE,
                str(HERE),
                str(self.root),
                str(tmp_path / "log"),
                str(tmp_path / "go"),
                run_name,
                str(parallelism),
            ],
            env=env,
            start_new_session=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert wait_for(lambda: len(lines(tmp_path / "log")) == 1), (
                "the slow step never started"
            )
            info = LocalWorkspace(self.root, read_only=True).step_info(self.slow)
            assert info.state is StepState.RUNNING and info.owner is not None
            self.owner = info.owner.pid
            self.owner_start = pid_start_time(self.owner)
            assert self.owner_start is not None
            assert (self.owner != self.proc.pid) is (parallelism > 1)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate(timeout=30)
        if not gone(self.owner, getattr(self, "owner_start", None)) and hasattr(
            self, "owner_start"
        ):
            os.kill(self.owner, signal.SIGKILL)


def rerun_completes(tmp_path: Path, root: Path) -> None:
    (tmp_path / "go").touch()
    slow, targets = pipeline(tmp_path)
    run = run_steps(LocalWorkspace(root), targets, name="rerun")
    assert run.status is RunStatus.COMPLETED, run.plan
    info = LocalWorkspace(root).step_info(slow)
    assert info.state is StepState.COMPLETED and info.attempt == 2


def test_sigkill_of_the_executor_takes_its_workers_along(tmp_path: Path) -> None:
    started = Started(tmp_path, "killed", parallelism=2)
    try:
        started.proc.send_signal(signal.SIGKILL)
        started.proc.wait(30)
        assert wait_for(lambda: gone(started.owner, started.owner_start)), (
            "the worker outlived its parent"
        )
    finally:
        started.close()
    ws = LocalWorkspace(started.root, read_only=True)
    info = ws.step_info(started.slow)
    assert (
        info.state is StepState.CRASHED
        and info.owner is not None
        and info.owner.pid == started.owner
    )
    assert ws.registered_run("killed").status is RunStatus.CRASHED
    rerun_completes(tmp_path, started.root)


@pytest.mark.parametrize(
    ("sig", "parallelism", "group"),
    [(signal.SIGTERM, 2, False), (signal.SIGHUP, 1, False), (signal.SIGTERM, 2, True)],
    ids=["sigterm-parallel", "sighup-sequential", "sigterm-to-the-process-group"],
)
def test_stop_signal_ends_the_run_like_ctrl_c(
    tmp_path: Path, sig: signal.Signals, parallelism: int, group: bool
) -> None:
    started = Started(tmp_path, "stopped", parallelism=parallelism)
    try:
        if (
            group
        ):  # as timeout(1), a batch scheduler or a closing terminal may do: workers get it too
            os.killpg(started.proc.pid, sig)
        else:
            started.proc.send_signal(sig)
        _, err = started.proc.communicate(timeout=30)
        # Cleaned up, then the signal was re-sent with the default handler back: killed by it.
        assert started.proc.returncode == -sig, err
        assert wait_for(lambda: gone(started.owner, started.owner_start)), (
            "a worker outlived the run"
        )
    finally:
        started.close()
    ws = LocalWorkspace(started.root, read_only=True)
    info = ws.step_info(started.slow)
    assert info.state is StepState.FAILED, info
    assert info.error is not None and f"interrupted by {sig.name}" in info.error
    run = ws.registered_run("stopped")
    assert run.status is RunStatus.INCOMPLETE and run.end_date is not None and run.owner is None
    rows = {r.name: r for r in run.plan.values()}
    assert rows["slow"].state is StepState.FAILED and rows["after"].state is not StepState.RUNNING
    assert "Run 'stopped' incomplete" in (started.root / "runs" / "stopped" / "out.log").read_text()
    rerun_completes(tmp_path, started.root)


def test_handlers_are_restored_and_ignored_signals_left_alone() -> None:
    before = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    seen: ClassVar[list[object]] = []
    with StopSignals():
        seen.append(signal.getsignal(signal.SIGTERM))
    assert {sig: signal.getsignal(sig) for sig in STOP_SIGNALS} == before
    assert seen[0] is not before[signal.SIGTERM]

    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        with StopSignals():
            assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


class Peek(Add):
    """Records the SIGTERM handler seen while the run executes."""

    seen: ClassVar[list[object]] = []

    def run(self, a: int, b: int, log: str | None = None) -> int:  # type: ignore[override]
        Peek.seen.append(signal.getsignal(signal.SIGTERM))
        return a + b


def test_no_handler_change_outside_the_main_thread() -> None:
    before = signal.getsignal(signal.SIGTERM)
    Peek.seen = []
    worker = threading.Thread(
        target=run_steps, args=(MemoryWorkspace(), [Peek(a=1, b=1, step_name="p")])
    )
    worker.start()
    worker.join(30)
    assert not worker.is_alive() and Peek.seen == [before]
    Peek.seen = []
    run_steps(MemoryWorkspace(), [Peek(a=2, b=2, step_name="p")])
    assert Peek.seen and Peek.seen[0] is not before  # in the main thread the guard is active
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_signal_during_a_held_section_is_raised_at_its_end() -> None:
    from tango_tui.core._signals import SignalInterrupt

    reached: list[str] = []
    with StopSignals() as stop, pytest.raises(SignalInterrupt, match="interrupted by SIGTERM"):
        with stop.hold():
            signal.raise_signal(signal.SIGTERM)
            reached.append("after the signal")  # not interrupted inside the held section
            signal.raise_signal(signal.SIGTERM)  # a second one while stopping is ignored
        reached.append("not reached")
    assert reached == ["after the signal"]
