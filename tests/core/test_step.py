"""Step: deterministic unique ids (property tests, other PYTHONHASHSEEDs), config, result(), progress."""

from __future__ import annotations

import base64
import dataclasses
import enum
import json
import os
import pathlib
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))
from core_steps import Add, Count, Free, Fresh, Versioned, append_line, lines

from tango_tui.core._hashing import canonical_bytes
from tango_tui.core._memory import MemoryWorkspace
from tango_tui.core._model import StepState
from tango_tui.core._step import Step

# Values whose canonical encoding must not depend on the process: sets and dicts iterate in hash
# order, which PYTHONHASHSEED changes for strings and bytes.
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.binary(max_size=8)
)
hashable = st.recursive(
    scalars, lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=4), max_leaves=8
)
values = st.recursive(
    scalars
    | st.frozensets(st.text(max_size=6), max_size=6)
    | st.sets(st.binary(max_size=4), max_size=6),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=6) | st.integers(), inner, max_size=4)
        | st.frozensets(hashable, max_size=4)
    ),
    max_leaves=12,
)
kwargs_strategy = st.dictionaries(
    st.sampled_from(["a", "b", "log", "x"]), values, min_size=1, max_size=3
)

CHILD = r"""
import base64, pickle, sys
sys.path.insert(0, sys.argv[1])
from core_steps import Free
for line in sys.stdin:
    kwargs = pickle.loads(base64.b64decode(line))
    print(Free(**kwargs).unique_id, flush=True)
"""


@pytest.fixture(scope="module")
def other_process():
    """A Python with another PYTHONHASHSEED that prints Free(**kwargs).unique_id for each request."""
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(HERE)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    yield proc
    proc.stdin.close()
    proc.wait(timeout=30)


def _ask(proc: subprocess.Popen, kwargs: dict[str, Any]) -> str:
    proc.stdin.write(base64.b64encode(pickle.dumps(kwargs)).decode() + "\n")
    proc.stdin.flush()
    return proc.stdout.readline().strip()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kwargs=kwargs_strategy)
def test_unique_id_is_the_same_in_a_process_with_another_hash_seed(other_process, kwargs) -> None:
    assert _ask(other_process, kwargs) == Free(**kwargs).unique_id


def test_hash_seed_really_differs_in_the_other_process(other_process) -> None:
    # The property above proves nothing if both processes iterate sets alike.
    probe = [hash(f"s{i}") for i in range(3)]
    out = subprocess.run(
        [sys.executable, "-c", "print([hash(f's{i}') for i in range(3)])"],
        env={**os.environ, "PYTHONHASHSEED": "12345"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() != str(probe)


@settings(deadline=None)  # CI runs on 2 busy cores: no per-example time limit
@given(kwargs=kwargs_strategy)
def test_unique_id_ignores_argument_order_and_copies(kwargs) -> None:
    reordered = dict(reversed(list(kwargs.items())))
    copied = pickle.loads(pickle.dumps(kwargs))
    assert Free(**kwargs).unique_id == Free(**reordered).unique_id == Free(**copied).unique_id


@settings(deadline=None)  # CI runs on 2 busy cores: no per-example time limit
@given(kwargs=kwargs_strategy, key=st.sampled_from(["a", "b", "log", "x"]), new=values)
def test_unique_id_changes_with_any_argument(kwargs, key, new) -> None:
    changed = {**kwargs, key: new}
    assume(key not in kwargs or canonical_bytes(kwargs[key]) != canonical_bytes(new))
    assert Free(**changed).unique_id != Free(**kwargs).unique_id


@settings(deadline=None)  # CI runs on 2 busy cores: no per-example time limit
@given(kwargs=kwargs_strategy)
def test_unique_id_changes_with_class_and_version(kwargs) -> None:
    plain, versioned = Free(**kwargs), Versioned(**kwargs)
    assert plain.unique_id.startswith("Free-") and versioned.unique_id.startswith("Versioned-002-")

    class Free2(Free):  # another class
        pass

    class Shadow:
        class Free(Versioned):  # same class name as the module's Free, other qualified name
            VERSION = None

    class Bumped(Versioned):
        VERSION = "003"

    shadow = Shadow.Free(**kwargs)
    assert shadow.unique_id.startswith("Free-")
    ids = {
        plain.unique_id,
        versioned.unique_id,
        Free2(**kwargs).unique_id,
        Bumped(**kwargs).unique_id,
        shadow.unique_id,
    }
    assert len(ids) == 5


@settings(deadline=None)  # CI runs on 2 busy cores: no per-example time limit
@given(a=values, b=values)
def test_dependency_ids_propagate(a, b) -> None:
    assume(canonical_bytes(a) != canonical_bytes(b))
    dep_a, dep_b = Add(a=a, b=0), Add(a=b, b=0)
    assert Add(a=dep_a, b=1).unique_id != Add(a=dep_b, b=1).unique_id
    # Another object with the same unique id is the same dependency.
    assert (
        Add(a=dep_a, b=1).unique_id == Add(a=Add(a=a, b=0, step_name="other name"), b=1).unique_id
    )


def test_unique_id_shape_and_length() -> None:
    uid = Add(a=1, b=2).unique_id
    name, digest = uid.split("-")
    assert name == "Add" and len(digest) == 32 and digest.isalnum()
    assert Versioned(a=1, b=2).unique_id.startswith("Versioned-002-")
    assert Versioned(a=1, b=2).unique_id.split("-")[2] != Free(a=1, b=2).unique_id.split("-")[1]


class Color(enum.Enum):
    RED = 1
    BLUE = 2


@dataclasses.dataclass
class Point:
    x: int
    y: float


class WithHash:
    def __init__(self, key: str):
        self.key = key

    def det_hash_object(self) -> Any:
        return {"key": self.key}


def test_supported_argument_types_hash_and_differ() -> None:
    examples = [
        b"raw",
        pathlib.Path("/tmp/a"),
        pathlib.PurePosixPath("rel/b"),
        Color.RED,
        Color.BLUE,
        Point(1, 2.0),
        Point(1, 2.5),
        WithHash("k"),
        WithHash("j"),
        {1, 2},
        frozenset({"a"}),
        (1, 2),
        [1, 2],
        {"a": 1},
        {1: "a"},
        1,
        1.0,
        True,
        None,
        "1",
        1 + 2j,
    ]
    ids = [Add(a=v, b=0).unique_id for v in examples]
    assert len(set(ids)) == len(examples)
    assert Add(a=WithHash("k"), b=0).unique_id == Add(a=WithHash("k"), b=0).unique_id


def test_unhashable_argument_is_named_in_the_error() -> None:
    with pytest.raises(TypeError, match=r"'b' of Add.*\[1\].*object"):
        Add(a=1, b=[0, object()])
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(TypeError, match="cycle"):
        Add(a=loop, b=1)


def test_dependencies_config_and_step_info() -> None:
    base = Add(a=1, b=2, step_name="base")
    nested = Add(a=[base, {"k": (base,)}], b=Fresh(value=3), step_metadata={"owner": "me"})
    top = Add(a=nested, b=base)
    assert nested.dependencies == {base, Fresh(value=3)}
    assert top.dependencies == {nested, base}
    assert top.recursive_dependencies == {nested, base, Fresh(value=3)}
    assert nested.config["a"] == [
        {"type": "ref", "ref": base.unique_id},
        {"k": [{"type": "ref", "ref": base.unique_id}]},
    ]
    json.dumps(Add(a={1, 2}, b=b"x\xff", log=float("nan")).config, allow_nan=False)  # JSON-able
    info = nested.make_step_info()
    assert info.state is StepState.INCOMPLETE
    assert info.dependencies == {base.unique_id, Fresh(value=3).unique_id}
    assert info.metadata == {"owner": "me"} and info.step_name is None and info.cacheable
    assert base.make_step_info().step_name == "base" and base.name == "base"
    assert nested.name == nested.unique_id


def test_cache_results_defaults() -> None:
    class Random(Step):
        DETERMINISTIC = False

        def run(self) -> int:  # type: ignore[override]
            return 4

    assert Add(a=1, b=2).cache_results is True
    assert Random().cache_results is False and Random(cache_results=True).cache_results is True
    assert Add(a=1, b=2, cache_results=False).cache_results is False
    assert Fresh(value=1).cache_results is False
    with pytest.raises(ValueError, match="not cacheable"):
        Fresh(value=1, cache_results=True)


def test_result_computes_dependencies_once_and_never_reruns(tmp_path: Path) -> None:
    log = str(tmp_path / "log")
    ws = MemoryWorkspace()
    base = Add(a=1, b=2, log=log, step_name="base")
    top = Add(a=base, b=base, log=log, step_name="top")
    assert top.result(ws) == 6
    assert top.result(ws) == 6 and base.result(ws) == 3
    assert [line.split()[0] for line in lines(log)] == ["base", "top"]
    assert ws.step_info(top).state is StepState.COMPLETED


def test_result_without_workspace_uses_a_default_memory_workspace(tmp_path: Path) -> None:
    log = str(tmp_path / "log")
    step = Add(a=40, b=2, log=log)
    assert step.result() == 42 and step.result() == 42
    assert len(lines(log)) == 1


def test_uncacheable_dependency_is_computed_once_per_result_call(tmp_path: Path) -> None:
    log = str(tmp_path / "log")
    fresh = Fresh(value=5, log=log, step_name="fresh")
    top = Add(a=fresh, b=fresh, step_name="top")
    assert top.result(MemoryWorkspace()) == 10
    assert len(lines(log)) == 1


def test_iterator_result_is_materialised_and_progress_reported() -> None:
    ws = MemoryWorkspace()
    step = Count(n=5)
    assert list(step.result(ws)) == [0, 1, 2, 3, 4]
    assert ws.step_cache[step] == [0, 1, 2, 3, 4]


class Recording(MemoryWorkspace):
    """A MemoryWorkspace that keeps every progress report."""

    def __init__(self) -> None:
        super().__init__()
        self.reports: list[Any] = []

    def report_progress(self, step: Step, progress: Any) -> None:
        self.reports.append(progress)
        super().report_progress(step, progress)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_progress_is_rate_limited_with_a_smoothed_rate() -> None:
    clock = FakeClock()

    class Busy(Step):
        _clock = staticmethod(clock)

        def run(self, n: int) -> int:  # type: ignore[override]
            for i in range(n):
                clock.now += 0.01  # 100 items a second
                self.progress(i + 1, n, desc="busy")
            return n

    ws = Recording()
    assert Busy(n=1000).result(ws) == 1000
    # 10 s of fake time: at most one report per 0.25 s, plus the first and the final one.
    assert 10 <= len(ws.reports) <= 10 / Busy.PROGRESS_INTERVAL + 2
    assert ws.reports[-1].done == 1000 and ws.reports[-1].total == 1000
    assert ws.reports[-1].rate == pytest.approx(100, rel=0.01)
    assert ws.step_progress(Busy(n=1000)).fraction == 1.0


def test_progress_held_back_is_sent_when_the_body_returns() -> None:
    clock = FakeClock()

    class Partial(Step):
        _clock = staticmethod(clock)

        def run(self) -> int:  # type: ignore[override]
            self.progress(1, 10)
            self.progress(7, 10)  # within the interval: held back
            return 0

    ws = Recording()
    Partial().result(ws)
    assert [r.done for r in ws.reports] == [1, 7]


def test_progress_outside_an_execution_is_ignored_and_work_dir_refused() -> None:
    step = Add(a=1, b=2)
    step.progress(1, 2)  # no workspace: nothing happens
    with pytest.raises(RuntimeError, match="only while it runs"):
        _ = step.work_dir


def test_work_dir_and_workspace_are_set_while_running(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    class Probe(Step):
        def run(self) -> str:  # type: ignore[override]
            seen["ws"] = self.workspace
            (self.work_dir / "note").write_text("hi")
            return str(self.work_dir)

    ws = MemoryWorkspace()
    step = Probe()
    work = step.result(ws)
    assert seen["ws"] is ws and Path(work, "note").read_text() == "hi"
    assert step.workspace is None
    running = Add(a=1, b=2)
    running._begin(ws)  # as during an execution: a pickled copy carries no workspace
    assert pickle.loads(pickle.dumps(running)).workspace is None


def test_failed_step_raises_and_is_recorded(tmp_path: Path) -> None:
    from core_steps import Boom

    ws = MemoryWorkspace()
    step = Boom(x=1)
    with pytest.raises(ValueError, match="boom 1"):
        step.result(ws)
    info = ws.step_info(step)
    assert info.state is StepState.FAILED and info.error == "ValueError: boom 1"
    assert "Traceback" in (info.traceback or "")
    append_line(tmp_path / "x", "ok")  # the helper itself works
    assert lines(tmp_path / "x") == ["ok"]


def test_arguments_must_fit_run() -> None:
    with pytest.raises(TypeError, match=r"Add: arguments do not fit run\(\).*'b'"):
        Add(a=1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'c'"):
        Add(a=1, b=2, c=3)
