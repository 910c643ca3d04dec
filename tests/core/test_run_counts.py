"""The ``counts`` summary of ``run.json``: written before the plan, matching it, optional on read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from local_steps import Echo

from tango_tui.core._errors import RecordError
from tango_tui.core._local import LocalWorkspace
from tango_tui.core._model import RunStatus, StepState


def test_counts_are_written_before_the_plan_and_match_it(tmp_path: Path) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    a = Echo(value=1, step_name="a")
    b = Echo(value=a, step_name="b")
    run = ws.register_run([b], name="r")
    path = ws.dir / "runs" / "r" / "run.json"
    raw = path.read_text()
    body = json.loads(raw)["run"]
    assert body["counts"] == {"incomplete": 2}
    assert raw.index('"counts":{') < raw.index(',"plan":{')  # readers may decode the head only
    run.plan[a.unique_id].state = StepState.COMPLETED
    run.status = RunStatus.FAILED
    ws.update_run(run)
    body = json.loads(path.read_text())["run"]
    assert body["counts"] == {"completed": 1, "incomplete": 1}
    assert sum(body["counts"].values()) == len(body["plan"])


def test_a_record_without_counts_still_reads(tmp_path: Path) -> None:
    """Records written before the key existed (or by hand) read as before."""
    ws = LocalWorkspace(tmp_path / "ws")
    ws.register_run([Echo(value=1, step_name="a")], name="old")
    path = ws.dir / "runs" / "old" / "run.json"
    doc = json.loads(path.read_text())
    del doc["run"]["counts"]
    path.write_text(json.dumps(doc))
    run = ws.registered_run("old")
    assert run.counts() == {StepState.INCOMPLETE: 1}
    assert list(ws.registered_runs()) == ["old"]


def _two_step_run(tmp_path: Path) -> tuple[LocalWorkspace, Echo, Path]:
    ws = LocalWorkspace(tmp_path / "ws")
    a = Echo(value=1, step_name="a")
    ws.register_run([Echo(value=a, step_name="b")], name="r")
    return ws, a, ws.dir / "runs" / "r" / "run.json"


def test_counts_come_from_the_head_without_decoding_the_plan(tmp_path: Path) -> None:
    ws, _, path = _two_step_run(tmp_path)
    raw = path.read_bytes()
    # Garble the plan (the head stays intact): decoding the plan now fails loudly, so counts()
    # answering proves it never decoded it.
    path.write_bytes(raw[: raw.rfind(b',"plan":{')] + b',"plan":{"bogus":[1,}}}')
    for run in (ws.registered_run("r"), ws.registered_runs()["r"]):
        assert run.counts() == {StepState.INCOMPLETE: 2}
        with pytest.raises(RecordError, match="plan"):
            len(run.plan)


def test_counts_follow_the_plan_once_it_is_decoded(tmp_path: Path) -> None:
    ws, a, _ = _two_step_run(tmp_path)
    run = ws.registered_run("r")
    run.plan[a.unique_id].state = StepState.COMPLETED  # decodes the plan, then changes a row
    assert run.counts() == {StepState.COMPLETED: 1, StepState.INCOMPLETE: 1}


def test_unusable_counts_in_the_head_fall_back_to_the_plan(tmp_path: Path) -> None:
    ws, _, path = _two_step_run(tmp_path)
    for bad in ({"exploded": 2}, {"incomplete": -1}, {"incomplete": "2"}, [2]):
        doc = json.loads(path.read_text())
        doc["run"]["counts"] = bad
        path.write_text(json.dumps(doc, separators=(",", ":")))
        assert ws.registered_run("r").counts() == {StepState.INCOMPLETE: 2}, bad
