"""The process-wide table of held step locks: one key per lock, whatever path reached it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from local_steps import Echo

from tango_tui import LocalWorkspace
from tango_tui.core import StepState, StepStateError
from tango_tui.core._step_locks import lock_key


def test_workspaces_opened_through_a_symlink_agree_on_held_locks(tmp_path: Path) -> None:
    real = LocalWorkspace(tmp_path / "real")
    os.symlink(tmp_path / "real", tmp_path / "link")
    linked = LocalWorkspace(tmp_path / "link")
    step = Echo(value="shared")
    assert lock_key(real.layout.step_lock(step.unique_id)) == lock_key(
        linked.layout.step_lock(step.unique_id)
    )
    real.step_starting(step)
    with pytest.raises(StepStateError, match="already running in this process"):
        linked.step_starting(step)
    assert linked.step_finished(step, "shared") == "shared"  # this process holds it, either way
    assert real.step_info(step).state is StepState.COMPLETED


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_neither_holds_nor_releases_its_parents_lock(tmp_path: Path) -> None:
    from tango_tui.core import _step_locks
    from tango_tui.core._liveness import lock_is_held

    ws = LocalWorkspace(tmp_path / "ws")
    step = Echo(value="forked")
    lock_path = ws.layout.step_lock(step.unique_id)
    ws.step_starting(step)
    pid = os.fork()
    if pid == 0:  # the child: report through the exit code only, never return into pytest
        code = 0
        try:
            if _step_locks.holds(lock_path) or _step_locks._HELD:
                code = 1  # it thinks it holds its parent's lock
            elif _step_locks.try_acquire(lock_path) is not None:
                code = 2  # the parent's flock did not keep it out
            else:
                _step_locks.release(lock_path)  # must not unlock the parent's lock
        except BaseException:  # noqa: BLE001 - anything at all must end the child
            code = 3
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert _step_locks.holds(lock_path) and lock_is_held(lock_path) is True
    assert ws.step_finished(step, "forked") == "forked"
    assert lock_is_held(lock_path) is False


HOLD_LOCK = (
    "import fcntl, sys; f = open(sys.argv[1], 'w'); "
    "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()"
)


def test_a_lock_held_by_another_process_refuses_the_start(tmp_path: Path) -> None:
    import subprocess

    ws = LocalWorkspace(tmp_path / "ws")
    step = Echo(value="other")
    lock_path = ws.layout.step_lock(step.unique_id)
    lock_path.parent.mkdir(parents=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            HOLD_LOCK,
            str(lock_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        with pytest.raises(StepStateError, match="another process is running it"):
            ws.step_starting(step)
    finally:
        holder.communicate(b"")  # closes its stdin: it exits, releasing the lock
    ws.step_starting(step)
    assert ws.step_finished(step, "other") == "other"
