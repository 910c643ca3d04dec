"""The ``counts`` summary of ``run.json``: written before the plan, matching it, optional on read."""

from __future__ import annotations

import json
from pathlib import Path

from local_steps import Echo

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
