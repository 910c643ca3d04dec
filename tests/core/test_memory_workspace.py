"""MemoryWorkspace specifics: thread safety, invented names, copies, run updates, codecs."""

from __future__ import annotations

import math
import sys
import threading
from collections import OrderedDict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from core_steps import Add, Gate, lines, wait_for

from tango_tui.core import InvalidNameError, RunStatus, StepReason, StepState
from tango_tui.core._cache import MemoryStepCache, decode_result, encode_result
from tango_tui.core._memory import MemoryWorkspace
from tango_tui.core._model import utc_now


def test_threads_calling_result_run_the_body_once(tmp_path: Path) -> None:
    ws = MemoryWorkspace()
    log, release = str(tmp_path / "log"), str(tmp_path / "release")
    step = Gate(value=7, log=log, until=release)
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(step.result(ws))) for _ in range(4)]
    for t in threads:
        t.start()
    # Let the body go only once it is running (the other threads then wait on RUNNING).
    assert wait_for(lambda: ws.step_info(step).state is StepState.RUNNING)
    Path(release).touch()
    for t in threads:
        t.join(30)
    assert results == [7, 7, 7, 7]
    assert len(lines(log)) == 1


def test_invented_names_retry_on_collision(monkeypatch: pytest.MonkeyPatch) -> None:
    import coolname

    ws = MemoryWorkspace()
    names = iter(["same-name", "same-name", "same-name", "other-name"])
    monkeypatch.setattr(coolname, "generate_slug", lambda n: next(names))
    assert ws.register_run([Add(a=1, b=1)]).name == "same-name"
    assert ws.register_run([Add(a=1, b=2)]).name == "other-name"


def test_concurrent_registration_gives_distinct_names() -> None:
    ws = MemoryWorkspace()
    names: list[str] = []
    lock = threading.Lock()

    def register(i: int) -> None:
        name = ws.register_run([Add(a=i, b=0)]).name
        with lock:
            names.append(name)

    threads = [threading.Thread(target=register, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(names)) == 16 == ws.num_registered_runs()


def test_invalid_run_names_are_refused() -> None:
    ws = MemoryWorkspace()
    for bad in ("", "a/b", "..", ".hidden", "tab\there"):
        with pytest.raises(InvalidNameError):
            ws.register_run([Add(a=1, b=1)], name=bad)
    with pytest.raises(InvalidNameError):
        ws.register_run([Add(a=1, b=1, step_name="x"), Add(a=2, b=1, step_name="x")])


def test_records_are_copies_and_update_run_stores_status() -> None:
    ws = MemoryWorkspace()
    step = Add(a=1, b=2, step_name="s")
    run = ws.register_run([step], name="r")
    ws.step_info(step).error = "scribbled"
    assert ws.step_info(step).error is None
    run.status = RunStatus.FAILED
    run.end_date = utc_now()
    run.plan[step.unique_id].reason = StepReason.RAN
    assert ws.registered_run("r").status is RunStatus.INCOMPLETE  # not stored until update_run
    ws.update_run(run)
    again = ws.registered_run("r")
    assert again.status is RunStatus.FAILED and again.end_date == run.end_date
    assert again.plan[step.unique_id].reason is StepReason.RAN
    with pytest.raises(KeyError):
        run.name = "missing"
        ws.update_run(run)
    with pytest.raises(KeyError):
        ws.capture_logs_for_run("missing")


def test_remove_running_step_is_refused_and_progress_kept() -> None:
    from tango_tui.core._model import Progress

    ws = MemoryWorkspace()
    step = Add(a=1, b=2)
    ws.step_starting(step)
    ws.report_progress(step, Progress(done=3, total=10))
    assert ws.step_progress(step.unique_id).done == 3
    from tango_tui.core import StepStateError

    with pytest.raises(StepStateError):
        ws.remove_step(step.unique_id)
    ws.step_finished(step, 3)
    ws.remove_step(step.unique_id)
    assert ws.step_progress(step) is None and len(ws.step_cache) == 0


def test_a_store_failure_marks_the_step_failed() -> None:
    class Broken(MemoryStepCache):
        def __setitem__(self, step, value):  # the memory analogue of a full disk
            raise OSError(28, "No space left on device")

    ws = MemoryWorkspace()
    ws._cache = Broken()
    step = Add(a=1, b=2)
    ws.step_starting(step)
    with pytest.raises(OSError):
        ws.step_finished(step, 3)
    info = ws.step_info(step)
    assert info.state is StepState.FAILED and "No space left" in info.error


# ----- result codecs (shared with LocalStepCache) --------------------------------------------
json_exact = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=10,
)
anything = st.recursive(
    json_exact | st.binary() | st.floats(),
    lambda inner: (
        st.tuples(inner)
        | st.lists(inner, max_size=3)
        | st.dictionaries(st.integers(), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(deadline=None)  # CI runs on 2 busy cores: no per-example time limit
@given(json_exact)
def test_json_able_values_are_stored_as_json(value) -> None:
    fmt, data = encode_result(value)
    assert fmt == "json" and decode_result(fmt, data) == value


@settings(deadline=None)  # CI runs on 2 busy cores: no per-example time limit
@given(anything)
def test_every_value_round_trips_exactly(value) -> None:
    fmt, data = encode_result(value)
    back = decode_result(fmt, data)
    assert same(back, value)


def same(a: object, b: object) -> bool:
    """Equal with identical types all the way down (NaN equals NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)  # type: ignore[arg-type]
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))  # type: ignore[arg-type]
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)  # type: ignore[index]
    return a == b


def test_codec_choices() -> None:
    assert encode_result((1, 2))[0] == "pickle"  # a tuple would come back as a list
    assert encode_result({1: "a"})[0] == "pickle"  # int keys would come back as strings
    assert encode_result(OrderedDict(a=1))[0] == "pickle"
    assert encode_result(iter([1, 2])) == encode_result([1, 2])
    assert encode_result([1], "pickle")[0] == "pickle"
    with pytest.raises(ValueError, match="cannot be stored as JSON"):
        encode_result((1,), "json")
    with pytest.raises(ValueError, match="unknown result format"):
        encode_result(1, "yaml")
    with pytest.raises(ValueError):
        decode_result("yaml", b"")
