"""What a stored result flushes to disk, in which order, and what a damaged unvouched result does.

The fsync budget of one step start+finish is three (data, marker, step directory), and each comes
before the COMPLETED record is written; step records themselves are never fsynced.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from local_steps import Echo

from tango_tui import LocalWorkspace
from tango_tui.core import RecordError, StepState
from tango_tui.core._format import RESULT_DIR, RESULT_MARKER, STEP_RECORD


def fd_path(fd: int) -> str:
    return os.readlink(f"/proc/self/fd/{fd}")


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_three_fsyncs_all_before_the_completed_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    step = Echo(value={"a": 1})
    step_dir = ws.step_dir(step)
    events: list[tuple[str, str]] = []
    real_fsync, real_replace, real_rename = os.fsync, os.replace, os.rename

    def fsync(fd: int) -> None:
        events.append(("fsync", fd_path(fd)))
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        events.append(("rename", os.fspath(dst)))
        real_replace(src, dst)

    def rename(src: str, dst: str) -> None:
        events.append(("rename", os.fspath(dst)))
        real_rename(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "rename", rename)
    ws.step_starting(step)
    assert not [e for e in events if e[0] == "fsync"]  # starting flushes nothing
    events.clear()
    ws.step_finished(step, {"a": 1})
    monkeypatch.undo()

    fsyncs = [(i, p) for i, (kind, p) in enumerate(events) if kind == "fsync"]
    assert len(fsyncs) == 3, events
    record = events.index(("rename", str(step_dir / STEP_RECORD)))
    result = events.index(("rename", str(step_dir / RESULT_DIR)))
    marker = events.index(("rename", str(step_dir / RESULT_MARKER)))
    (data_i, data), (marker_i, marker_tmp), (dir_i, dir_path) = fsyncs
    assert os.path.basename(data).startswith("data.") and data_i < result < marker
    assert RESULT_MARKER in os.path.basename(marker_tmp) and marker_i < marker
    assert dir_path == str(step_dir) and marker < dir_i < record
    assert ws.step_info(step).state is StepState.COMPLETED and ws.step_cache[step] == {"a": 1}


def test_a_damaged_result_without_completed_record_is_replaced(tmp_path: Path) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    step = Echo(value=7)
    ws.step_starting(step)
    ws.step_cache[step] = 7  # stored, then the attempt "died" before its COMPLETED record
    ws.step_failed(step, RuntimeError("killed"))
    for f in (ws.step_dir(step) / RESULT_DIR).iterdir():
        f.unlink()  # as if a power cut lost the result/ rename but kept the marker
    assert step.result(ws) == 7
    info = ws.step_info(step)
    assert info.state is StepState.COMPLETED and info.attempt == 2


def test_a_damaged_result_of_a_completed_step_is_reported(tmp_path: Path) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    step = Echo(value=8)
    assert step.result(ws) == 8
    data = next((ws.step_dir(step) / RESULT_DIR).iterdir())
    data.write_text("9")
    with pytest.raises(RecordError, match="checksum|bytes"):
        step.result(ws)
