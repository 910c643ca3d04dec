"""What a stored result flushes to disk, in which order, and what a damaged result does.

A small JSON result is kept inline in its marker (version 2): one fsync, of the marker after its
rename. A pickled or large result keeps its ``result/`` directory (marker version 1): the data
file is flushed first, then the marker after its rename (which also makes the ``result/`` rename
durable, see ``core/_local_cache.py``). Every flush comes before the COMPLETED record is written;
step records themselves are never fsynced. Markers written before inline results existed
(version 1, ``result/``) are still read.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from local_steps import Echo, PickledEcho

from tango_tui import LocalWorkspace
from tango_tui.core import RecordError, StepState
from tango_tui.core._format import RESULT_DIR, RESULT_MARKER, STEP_RECORD
from tango_tui.core._local_cache import INLINE_LIMIT, LocalStepCache

BIG = "x" * (INLINE_LIMIT + 1)  # JSON, but too big to be kept inline


def fd_path(fd: int) -> str:
    return os.readlink(f"/proc/self/fd/{fd}")


def marker_doc(ws: LocalWorkspace, step: Echo) -> dict:
    return json.loads((ws.step_dir(step) / RESULT_MARKER).read_text())


def record_events(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
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
    return events


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_an_inline_result_costs_one_fsync_before_the_completed_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    step = Echo(value={"a": 1})
    step_dir = ws.step_dir(step)
    events = record_events(monkeypatch)
    ws.step_starting(step)
    assert not [e for e in events if e[0] == "fsync"]  # starting flushes nothing
    events.clear()
    ws.step_finished(step, {"a": 1})
    monkeypatch.undo()

    fsyncs = [(i, p) for i, (kind, p) in enumerate(events) if kind == "fsync"]
    assert len(fsyncs) == 1, events
    record = events.index(("rename", str(step_dir / STEP_RECORD)))
    marker = events.index(("rename", str(step_dir / RESULT_MARKER)))
    # The marker is flushed under its final name, after its rename and before the record's.
    assert fsyncs[0][1] == str(step_dir / RESULT_MARKER) and marker < fsyncs[0][0] < record
    assert not (step_dir / RESULT_DIR).exists()
    doc = marker_doc(ws, step)
    assert doc["version"] == 2 and doc["result"]["inline"] == '{"a":1}'
    info = ws.step_info(step)
    assert info.state is StepState.COMPLETED and ws.step_cache[step] == {"a": 1}
    assert info.result_location == f"cache/{step.unique_id}/{RESULT_MARKER}"


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
@pytest.mark.parametrize(("cls", "value"), [(PickledEcho, {"a": 1}), (Echo, BIG), (Echo, (1, 2))])
def test_a_result_directory_costs_two_fsyncs_before_the_completed_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cls: type, value: object
) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    step = cls(value=value)
    step_dir = ws.step_dir(step)
    ws.step_starting(step)
    events = record_events(monkeypatch)
    ws.step_finished(step, value)
    monkeypatch.undo()

    fsyncs = [(i, p) for i, (kind, p) in enumerate(events) if kind == "fsync"]
    assert len(fsyncs) == 2, events
    record = events.index(("rename", str(step_dir / STEP_RECORD)))
    result = events.index(("rename", str(step_dir / RESULT_DIR)))
    marker = events.index(("rename", str(step_dir / RESULT_MARKER)))
    (data_i, data), (marker_i, marker_path) = fsyncs
    assert os.path.basename(data).startswith("data.") and data_i < result < marker
    assert marker_path == str(step_dir / RESULT_MARKER) and marker < marker_i < record
    assert marker_doc(ws, step)["version"] == 1  # still readable by older tango-tui versions
    assert ws.step_info(step).state is StepState.COMPLETED and ws.step_cache[step] == value


def test_a_damaged_result_without_completed_record_is_replaced(tmp_path: Path) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    step = Echo(value=BIG)
    ws.step_starting(step)
    ws.step_cache[step] = BIG  # stored, then the attempt "died" before its COMPLETED record
    ws.step_failed(step, RuntimeError("killed"))
    for f in (ws.step_dir(step) / RESULT_DIR).iterdir():
        f.unlink()  # as if a power cut lost the result/ rename but kept the marker
    assert step.result(ws) == BIG
    info = ws.step_info(step)
    assert info.state is StepState.COMPLETED and info.attempt == 2


def test_a_damaged_result_of_a_completed_step_is_reported(tmp_path: Path) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    step = Echo(value=BIG)
    assert step.result(ws) == BIG
    data = next((ws.step_dir(step) / RESULT_DIR).iterdir())
    data.write_text('"y"')
    with pytest.raises(RecordError, match="checksum|bytes"):
        step.result(ws)


def test_a_damaged_inline_result_is_reported(tmp_path: Path) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    step = Echo(value=8)
    assert step.result(ws) == 8
    path = ws.step_dir(step) / RESULT_MARKER
    path.write_text(path.read_text().replace('"inline":"8"', '"inline":"9"'))
    with pytest.raises(RecordError, match="checksum") as err:
        step.result(ws)
    assert str(path) in str(err.value)


def test_a_version_1_result_directory_written_before_inline_results_is_read(tmp_path: Path) -> None:
    """A marker + result/ exactly as tango-tui wrote them before inline results (format v1)."""
    ws = LocalWorkspace(tmp_path / "ws")
    step = Echo(value=7)
    result_dir = ws.step_dir(step) / RESULT_DIR
    result_dir.mkdir(parents=True)
    (result_dir / "data.json").write_bytes(b"7")
    marker = {
        "format": "tango-tui.result",
        "version": 1,
        "result": {
            "format": "json",
            "files": [{"name": "data.json", "size": 1, "sha256": hashlib.sha256(b"7").hexdigest()}],
            "written": "2026-01-01T00:00:00+00:00",
        },
    }
    (ws.step_dir(step) / RESULT_MARKER).write_text(json.dumps(marker))
    assert step in ws.step_cache and ws.step_cache[step] == 7
    assert step.result(ws) == 7  # adopted from the old layout, not executed again
    assert ws.step_info(step).state is StepState.COMPLETED


def test_inline_is_refused_in_a_version_1_marker_and_newer_versions_are_refused(
    tmp_path: Path,
) -> None:
    cache = LocalStepCache(tmp_path / "cache")
    step = Echo(value=1)
    path = tmp_path / "cache" / step.unique_id / RESULT_MARKER
    path.parent.mkdir(parents=True)
    body = {"format": "json", "inline": "1", "sha256": hashlib.sha256(b"1").hexdigest()}
    path.write_text(json.dumps({"format": "tango-tui.result", "version": 1, "result": body}))
    with pytest.raises(RecordError, match="exactly one result file"):
        cache[step]
    path.write_text(json.dumps({"format": "tango-tui.result", "version": 3, "result": body}))
    with pytest.raises(RecordError, match="version 3 is newer"):
        cache[step]
    assert step not in cache


def test_storing_again_switches_layouts_cleanly(tmp_path: Path) -> None:
    cache = LocalStepCache(tmp_path / "cache")  # used on its own: no step directory yet
    step = Echo(value=0)
    cache[step] = BIG
    assert (cache.path_for_step(step) / RESULT_DIR).is_dir()
    cache[step] = 5  # inline now: the old result/ goes away with the old marker
    assert cache[step] == 5 and not (cache.path_for_step(step) / RESULT_DIR).exists()
    cache[step] = BIG
    assert cache[step] == BIG and len(cache) == 1
    assert sorted(p.name for p in cache.path_for_step(step).iterdir()) == [
        RESULT_DIR,
        RESULT_MARKER,
    ]
    del cache[step]
    assert step not in cache and len(cache) == 0
