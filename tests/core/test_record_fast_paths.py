"""The fast paths of reading and writing records keep the behaviour of the slow ones.

Records are read with one ``read`` (a short read is the end of a file replaced whole by rename),
decoded with the JSON scanner directly (``json.loads`` only for anything unusual), and turned
into a StepInfo with one lookup per field. A step's start skips removing a progress file in a
directory it has just made, and temporary names come from a per-process token renewed on fork.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from local_steps import Echo

from tango_tui.core import _format
from tango_tui.core._errors import RecordError
from tango_tui.core._format import STEP_FORMAT, parse_record, read_record
from tango_tui.core._lazy_infos import LazyStepInfos
from tango_tui.core._local import LocalWorkspace
from tango_tui.core._model import Owner, Progress, StepInfo, StepState, utc_now

GOOD = b'{"format":"tango-tui.step","version":1,"step":{"unique_id":"A-1","step_class_name":"A"}}'


def _error(raw: bytes) -> str:
    with pytest.raises(RecordError) as err:
        parse_record("/ws/cache/A-1/step.json", raw, STEP_FORMAT)
    assert "/ws/cache/A-1/step.json" in str(err.value)
    return str(err.value)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"", "record is empty"),
        (b"  \n\t", "record is empty"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"\xef\xbb\xbf" + GOOD, "not valid JSON"),  # a BOM, as json.loads refuses it
        (GOOD[:40], "not valid JSON"),  # torn
        (GOOD + b"{}", "not valid JSON"),  # extra data after the object
        (GOOD + b" x", "not valid JSON"),
        (b"garbage", "not valid JSON"),
        (b"[1, 2]", "a JSON list, not an object"),
        (b"7", "a JSON int, not an object"),
        (b'{"format":"tango-tui.run","version":1}', "expected 'tango-tui.step'"),
        (b'{"format":"tango-tui.step","version":9}', "newer than this tango-tui"),
    ],
)
def test_unusable_records_are_refused_naming_the_path_and_the_problem(
    raw: bytes, problem: str
) -> None:
    assert problem in _error(raw)


@pytest.mark.parametrize("raw", [GOOD, b" \n" + GOOD, GOOD + b"\n", b"\t" + GOOD + b"  \n"])
def test_records_with_surrounding_white_space_read_as_json_loads_reads_them(raw: bytes) -> None:
    assert parse_record("p", raw, STEP_FORMAT) == json.loads(raw)


def test_a_record_larger_than_one_read_is_read_whole(tmp_path: Path) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    step = Echo(value="big")
    ws.step_starting(step)
    huge = "x" * (3 * 65536 + 17)  # more than three reads' worth, not a multiple of one
    ws.step_failed(step, ValueError(huge))
    path = ws.layout.step_record(step.unique_id)
    assert path.stat().st_size > 3 * 65536
    info = ws.step_info(step.unique_id)
    assert info.state is StepState.FAILED and info.error == f"ValueError: {huge}"
    exact = tmp_path / "exact.json"  # exactly one read's size: the second read sees the end
    body = GOOD[:-2] + b',"x":"' + b"y" * (65536 - len(GOOD) - 7) + b'"}}'
    assert len(body) == 65536
    exact.write_bytes(body)
    assert read_record(exact, STEP_FORMAT)["step"]["x"] == "y" * (65536 - len(GOOD) - 7)


def test_step_records_round_trip_with_every_field_set() -> None:
    info = StepInfo(
        unique_id="A-1",
        step_class_name="A",
        step_name="a",
        version="2",
        dependencies=frozenset({"B-1", "C-1"}),
        cacheable=False,
        start_time=utc_now(),
        end_time=utc_now(),
        error="E: x",
        traceback="tb",
        result_location="cache/A-1/result.json",
        config={"x": {"type": "ref", "ref": "B-1"}},
        metadata={"k": [1]},
        owner=Owner(host="h", pid=3, pid_start=9, boot_id="b"),
        attempt=4,
        log_file="cache/A-1/logs/004.log",
    )
    assert StepInfo.from_json_dict(json.loads(json.dumps(info.to_json_dict()))) == info


def test_odd_field_types_are_read_as_before() -> None:
    base = {"unique_id": "A-1", "step_class_name": "A"}
    info = StepInfo.from_json_dict({**base, "dependencies": [3, "B-1"], "attempt": "2"})
    assert info.dependencies == frozenset({"3", "B-1"}) and info.attempt == 2
    info = StepInfo.from_json_dict({**base, "dependencies": [[1], {"a": 1}], "cacheable": 0})
    assert info.dependencies == frozenset({"[1]", "{'a': 1}"}) and info.cacheable is False
    info = StepInfo.from_json_dict({**base, "attempt": None, "owner": {}})
    assert info.attempt == 0 and info.owner is None and info.cacheable is True
    with pytest.raises(ValueError, match="dependencies must be a list"):
        StepInfo.from_json_dict({**base, "dependencies": "B-1"})
    with pytest.raises(ValueError, match="expected an ISO 8601 string"):
        StepInfo.from_json_dict({**base, "start_time": 5})


def test_a_restarted_step_loses_its_previous_progress_and_a_fresh_one_has_none(
    tmp_path: Path,
) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    fresh = Echo(value="fresh")
    ws.step_starting(fresh)
    assert not ws.layout.step_progress(fresh.unique_id).exists()
    ws.report_progress(fresh, Progress(done=1, total=2))
    ws.step_failed(fresh, RuntimeError("first attempt"))
    assert ws.layout.step_progress(fresh.unique_id).exists()
    ws.step_starting(fresh)  # its directory exists: the old attempt's progress goes
    assert ws.step_progress(fresh) is None
    ws.step_finished(fresh, "fresh")
    # A directory made before the start (a work dir asked for first) keeps the check too.
    early = Echo(value="early")
    ws.work_dir(early)
    ws.layout.step_progress(early.unique_id).write_bytes(b"{}")
    ws.step_starting(early)
    assert not ws.layout.step_progress(early.unique_id).exists()
    ws.step_finished(early, "early")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_names_its_temporary_files_apart_from_its_parent(tmp_path: Path) -> None:
    parent_name = _format.tmp_path(str(tmp_path), "step.json")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report through the pipe, never return into pytest
        try:
            os.close(read_end)
            line = (
                f"{_format.this_pid()} {os.getpid()} {_format.tmp_path(str(tmp_path), 'step.json')}"
            )
            os.write(write_end, line.encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as f:
        cached, real, child_name = f.read().decode().split(" ")
    os.waitpid(pid, 0)
    assert int(cached) == int(real) == pid
    assert _format.this_pid() == os.getpid()
    parent_token = Path(parent_name).name.split(".")[-1]
    child_token = Path(child_name).name.split(".")[-1]
    assert f".{pid}." in child_name and f".{os.getpid()}." in parent_name
    assert parent_token[:8] != child_token[:8]  # a fresh random token, not the parent's
    assert _format.tmp_path(str(tmp_path), "step.json") != parent_name  # a serial per name


def test_a_runs_steps_load_once_and_values_items_agree_with_lookups(tmp_path: Path) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    a = Echo(value="a", step_name="a")
    b = Echo(value=a, step_name="b")
    ws.register_run([a, b], name="r")
    ws.step_starting(a)
    ws.step_finished(a, "a")
    steps = LocalWorkspace(tmp_path / "ws").registered_run("r").steps
    assert isinstance(steps, LazyStepInfos)
    loads: list[str] = []
    real = steps._loader  # the workspace's own loader, counted

    def counted(uid: str) -> StepInfo:
        loads.append(uid)
        return real(uid)

    steps._loader = counted
    assert len(steps) == 2 and sorted(steps) == ["a", "b"] and loads == []
    assert "zzz" not in steps and loads == []  # a missing name loads nothing
    values = list(steps.values())
    assert sorted(loads) == sorted([a.unique_id, b.unique_id])
    assert values == [steps[name] for name in steps]
    assert dict(steps.items()) == {name: steps[name] for name in steps} == dict(steps)
    assert [v.state for v in values] == [StepState.COMPLETED, StepState.INCOMPLETE]
    assert len(loads) == 2  # loaded once, whatever is asked afterwards
