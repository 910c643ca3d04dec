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
    assert lock_key(real.layout.step_lock(step.unique_id)) == lock_key(linked.layout.step_lock(step.unique_id))
    real.step_starting(step)
    with pytest.raises(StepStateError, match="already running in this process"):
        linked.step_starting(step)
    assert linked.step_finished(step, "shared") == "shared"  # this process holds it, either way
    assert real.step_info(step).state is StepState.COMPLETED
