"""Listing decodes only the head of ``run.json``; the plan is decoded, and checked, on first use."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from local_steps import Echo

from tango_tui.core._errors import RecordError
from tango_tui.core._local import LocalWorkspace
from tango_tui.core._model import StepState
from tango_tui.core._run_records import LazyPlan, _split_head


def _workspace(tmp_path: Path) -> tuple[LocalWorkspace, Echo, Echo]:
    ws = LocalWorkspace(tmp_path / "ws")
    a = Echo(
        value=1, step_name="plan"
    )  # a target literally named "plan" must not confuse the split
    b = Echo(value=a, step_name="b")
    ws.register_run({"plan": a, "b": b}, name="r")
    return ws, a, b


def test_listing_leaves_the_plan_undecoded_until_used(tmp_path: Path) -> None:
    ws, a, b = _workspace(tmp_path)
    run = ws.registered_runs()["r"]
    assert isinstance(run.plan, LazyPlan)
    assert isinstance(run.plan._raw, bytes)  # the head alone was decoded
    assert set(run.plan) == {a.unique_id, b.unique_id}
    assert run.plan[a.unique_id].name == "plan"
    assert run.plan[b.unique_id].state is StepState.INCOMPLETE
    assert set(run.steps) == {"plan", "b"}


def test_split_head_finds_the_structural_plan_key(tmp_path: Path) -> None:
    ws, a, _ = _workspace(tmp_path)
    raw = (ws.dir / "runs" / "r" / "run.json").read_bytes()
    head, plan = _split_head(raw)  # type: ignore[misc]
    assert b'"counts"' in head and head.endswith(b"}}")
    assert plan.startswith(b"{") and a.unique_id.encode() in plan
    assert _split_head(raw[:-5]) is None  # a cut record is parsed whole (and refused)


def test_a_garbled_plan_is_reported_when_used_and_the_listing_survives(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ws, _a, _ = _workspace(tmp_path)
    path = ws.dir / "runs" / "r" / "run.json"
    raw = path.read_bytes()
    i = raw.rfind(b',"plan":{') + len(b',"plan":{')
    path.write_bytes(raw[:i] + b"\x00garbage" + raw[i + 8 :])
    with caplog.at_level(logging.WARNING):
        runs = ws.registered_runs()
    assert "r" in runs
    with pytest.raises(RecordError) as err:
        list(runs["r"].plan)
    assert str(path) in str(err.value) and "plan" in err.value.problem


def test_a_truncated_record_is_refused_at_listing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ws, _, _ = _workspace(tmp_path)
    path = ws.dir / "runs" / "r" / "run.json"
    path.write_bytes(path.read_bytes()[:-3])
    with caplog.at_level(logging.WARNING):
        assert "r" not in ws.registered_runs()
    assert "run.json" in caplog.text
    with pytest.raises(RecordError):
        ws.registered_run("r")
