"""The cold run listing: head-only decoding of run.json, older records, entries that are not runs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import wsfactory as wf
from wsfactory import T0

from tango_tui.core import _format as fmt
from tango_tui.core._errors import RecordError, WorkspaceError
from tango_tui.core._local import LocalWorkspace
from tango_tui.core._model import RunStatus, StepState
from tango_tui.core._step import Step
from tango_tui.monitor._plan import summarize_run
from tango_tui.monitor.source import open_source


class Echo(Step):
    def run(self, value: Any) -> Any:  # type: ignore[override]
        return value


def _library_run(root: Path, name: str) -> Path:
    """A run registered by the real library, then finished with one failed step."""
    ws = LocalWorkspace(root)
    a = Echo(value=1, step_name="a")
    run = ws.register_run([Echo(value=a, step_name="b")], name=name)
    run.plan[a.unique_id].state = StepState.FAILED
    run.status, run.end_date = RunStatus.FAILED, T0
    ws.update_run(run)
    return root / "runs" / name / "run.json"


def test_a_library_record_is_listed_from_its_head(tmp_path: Path) -> None:
    path = _library_run(tmp_path, "r")
    src = open_source(tmp_path)
    [row] = src.list_runs()
    assert (row.status, row.n_steps) == (RunStatus.FAILED, 2)
    assert row.counts == {StepState.FAILED: 1, StepState.INCOMPLETE: 1}
    assert row.log_path == tmp_path / "runs" / "r" / "out.log"
    # Only the head was decoded: the listing kept no plan rows.
    assert src._reader.runs._records["r"][1].plan is None
    # The detail still reads every row.
    detail = src.run_detail("r")
    assert sorted(s.state.value for s in detail.steps) == ["failed", "incomplete"]
    assert summarize_run(str(path), path.read_bytes()).plan is None


def test_an_older_record_without_counts_is_counted_from_its_rows(tmp_path: Path) -> None:
    path = _library_run(tmp_path, "old")
    doc = json.loads(path.read_text())
    del doc["run"]["counts"]
    path.write_text(json.dumps(doc, separators=(",", ":")))
    src = open_source(tmp_path)
    [row] = src.list_runs()
    assert row.counts == {StepState.FAILED: 1, StepState.INCOMPLETE: 1} and row.n_steps == 2
    assert src._reader.runs._records["old"][1].plan is not None  # decoded whole


def test_a_misleading_plan_key_before_the_real_one_falls_back_to_a_full_decode(
    tmp_path: Path,
) -> None:
    """An owner object with a "plan" key (a hand-made record) must not cut the head short."""
    wf.init(tmp_path)
    body = {
        "name": "odd",
        "start_date": T0.isoformat(),
        "end_date": T0.isoformat(),
        "status": "completed",
        "owner": {"host": "h", "pid": 1, "plan": {"x": 1}},
        "targets": {"plan": "A-1"},
        "counts": {"completed": 5},
        "plan": {"A-1": wf.row("A-1").to_json_dict()},
    }
    path = tmp_path / "runs" / "odd" / "run.json"
    path.parent.mkdir()
    fmt.write_record(path, fmt.RUN_FORMAT, {"run": body}, fsync=False)
    rec = summarize_run(str(path), path.read_bytes())
    assert rec.targets == {"plan": "A-1"} and rec.plan is not None
    assert rec.state_counts == {StepState.COMPLETED: 1}  # counted from the rows it has


def test_bad_counts_are_a_problem_naming_the_record(tmp_path: Path) -> None:
    path = _library_run(tmp_path, "r")
    path.write_bytes(path.read_bytes().replace(b'"counts":{', b'"counts":{"running":-3,', 1))
    src = open_source(tmp_path)
    [row] = src.list_runs()
    assert row.problem == "run record's counts are not step counts"
    assert [(p.path, p.problem) for p in src.problems] == [(str(path), row.problem)]
    with pytest.raises(RecordError):
        summarize_run(str(path), path.read_bytes())


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda e: e.write_text("not a run"), "a file stands where a run directory belongs"),
        (lambda e: os.symlink("../nowhere", e), "a dangling symlink stands where"),
        (lambda e: os.symlink(e.name, e), "a symlink loop stands where"),
    ],
    ids=["file", "dangling-symlink", "looping-symlink"],
)
def test_an_entry_of_runs_that_is_not_a_run_is_a_problem(
    tmp_path: Path, make: Any, problem: str
) -> None:
    wf.init(tmp_path)
    wf.write_run(tmp_path, "good", [wf.row("A-1")], end=T0, status="completed")
    entry = tmp_path / "runs" / "odd"
    make(entry)
    src = open_source(tmp_path)
    assert [r.name for r in src.list_runs()] == ["good"]
    assert [p.path for p in src.problems] == [str(entry)]
    assert src.problems[0].problem.startswith(problem)
    # Still said after an incremental refresh of another run, and when asked for directly.
    src.refresh_runs({"good"})
    assert [p.path for p in src.problems] == [str(entry)]
    with pytest.raises(WorkspaceError) as e:
        src.run_detail("odd")
    assert str(entry) in str(e.value)


def test_a_symlink_to_a_run_directory_is_a_run(tmp_path: Path) -> None:
    wf.init(tmp_path)
    wf.write_run(tmp_path, "real", [wf.row("A-1")], end=T0, status="completed")
    os.symlink("real", tmp_path / "runs" / "alias")
    src = open_source(tmp_path)
    assert sorted(r.name for r in src.list_runs()) == ["alias", "real"]
    assert src.problems == []


def test_a_truncated_record_is_a_problem_even_if_its_head_is_whole(tmp_path: Path) -> None:
    path = _library_run(tmp_path, "r")
    raw = path.read_bytes()
    for cut in (1, 2, len(raw) - raw.index(b',"plan":{') - 12):
        path.write_bytes(raw[:-cut])
        src = open_source(tmp_path)
        [row] = src.list_runs()
        assert row.problem is not None and "not valid JSON" in row.problem, (cut, row)
        assert [p.path for p in src.problems] == [str(path)]
