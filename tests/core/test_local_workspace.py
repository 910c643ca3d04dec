"""LocalWorkspace: on-disk layout, relative links, atomic records, read-only mode, broken records."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))
from local_steps import Echo, Uncached

from tango_tui.core._errors import (
    RecordError,
    RunExistsError,
    StepStateError,
    WorkspaceError,
)
from tango_tui.core._format import STEP_FORMAT, parse_record
from tango_tui.core._local import LocalWorkspace
from tango_tui.core._model import Owner, Progress, RunStatus, StepState, utc_now
from tango_tui.core._workspace import RunSort, Workspace


def subprocess_env() -> dict[str, str]:
    """The environment for a child Python that imports this checkout."""
    extra = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *([extra] if extra else [])])}


def finish(ws: LocalWorkspace, step, value):
    """Execute ``step`` through the workspace's transitions, with ``value`` as its result."""
    ws.step_starting(step)
    return ws.step_finished(step, value)


def checksums(root: Path) -> dict[str, str]:
    """Content hash of every file and target of every link under ``root`` (plus the mode bits)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            st = os.lstat(p)
            if os.path.islink(p):
                out[rel] = "link:" + os.readlink(p)
            elif p.is_file():
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest() + f":{st.st_mtime_ns}"
            else:
                out[rel] = f"dir:{st.st_mtime_ns}"
    return out


@pytest.fixture
def ws(tmp_path: Path) -> LocalWorkspace:
    return LocalWorkspace(tmp_path / "ws")


# ----- layout ------------------------------------------------------------------------------
def test_layout_matches_the_documented_format(ws: LocalWorkspace) -> None:
    a = Echo(value=1, step_name="a")
    b = Echo(value=a, step_name="b")
    run = ws.register_run([b], name="first")
    root = ws.dir
    marker = json.loads((root / "tango-tui.json").read_text())
    assert marker["format"] == "tango-tui.workspace" and marker["version"] == 1
    run_dir = root / "runs" / "first"
    record = json.loads((run_dir / "run.json").read_text())
    assert record["format"] == "tango-tui.run" and record["version"] == 1
    body = record["run"]
    assert body["name"] == "first" and body["targets"] == {"b": b.unique_id}
    assert set(body["plan"]) == {a.unique_id, b.unique_id}
    assert body["plan"][b.unique_id]["target"] is True
    assert body["plan"][a.unique_id]["target"] is False
    # One relative link per target, made at registration (before anything ran).
    assert os.readlink(run_dir / "b") == f"../../cache/{b.unique_id}"
    assert not (run_dir / "a").exists()
    assert os.readlink(root / "latest") == "runs/first"
    # Every step of the run has an INCOMPLETE record already.
    for step in (a, b):
        doc = json.loads((root / "cache" / step.unique_id / "step.json").read_text())
        assert doc["format"] == STEP_FORMAT and doc["step"]["unique_id"] == step.unique_id
        assert ws.step_info(step.unique_id).state is StepState.INCOMPLETE
    assert run.start_date.tzinfo is not None

    assert finish(ws, a, 1) == 1
    step_dir = root / "cache" / a.unique_id
    # A small JSON result is kept inline in its marker (version 2); no result/ directory.
    marker = json.loads((step_dir / "result.json").read_text())
    assert marker["version"] == 2 and marker["result"]["inline"] == "1"
    assert not (step_dir / "result").exists()
    info = ws.step_info(a)
    assert info.state is StepState.COMPLETED
    assert info.attempt == 1 and info.owner is not None and info.owner.pid == os.getpid()
    assert info.platform is not None and info.platform.host
    assert info.environment is not None and info.environment.python
    assert info.result_location == f"cache/{a.unique_id}/result.json"
    assert ws.step_cache[a] == 1
    # No temporary files are left behind.
    assert not [p for p in root.rglob(".tmp-*")]


def test_relative_links_resolve_after_copying_the_workspace(
    ws: LocalWorkspace, tmp_path: Path
) -> None:
    a = Echo(value="hello", step_name="greeting")
    ws.register_run([a], name="r1")
    finish(ws, a, "hello")
    copy = tmp_path / "elsewhere" / "copied"
    shutil.copytree(ws.dir, copy, symlinks=True)
    shutil.rmtree(ws.dir)  # the original is gone: only relative links can still resolve
    link = copy / "runs" / "r1" / "greeting"
    assert link.resolve() == (copy / "cache" / a.unique_id).resolve()
    assert (link / "result.json").is_file()
    assert (copy / "latest").resolve() == (copy / "runs" / "r1").resolve()
    moved = LocalWorkspace(copy, read_only=True)
    assert moved.step_result_for_run("r1", "greeting") == "hello"
    assert moved.registered_run("r1").steps["greeting"].state is StepState.COMPLETED


def test_register_run_refuses_an_existing_name_and_keeps_the_old_run(ws: LocalWorkspace) -> None:
    ws.register_run([Echo(value=1, step_name="a")], name="taken")
    before = checksums(ws.dir / "runs" / "taken")
    with pytest.raises(RunExistsError) as err:
        ws.register_run([Echo(value=2, step_name="other")], name="taken")
    assert "taken" in str(err.value) and err.value.path.endswith("runs/taken")
    assert checksums(ws.dir / "runs" / "taken") == before
    # An empty directory of that name (made by hand) is not replaced either.
    (ws.dir / "runs" / "by-hand").mkdir()
    with pytest.raises(RunExistsError):
        ws.register_run([Echo(value=3, step_name="x")], name="by-hand")
    assert list((ws.dir / "runs" / "by-hand").iterdir()) == []
    assert pickle.loads(pickle.dumps(err.value)).path == err.value.path


def test_invented_run_names_are_readable_and_unique(ws: LocalWorkspace) -> None:
    names = {ws.register_run([Echo(value=i, step_name="s")]).name for i in range(20)}
    assert len(names) == 20
    assert all("-" in n and n == n.lower() for n in names)
    assert set(ws.registered_runs()) == names
    newest = ws.search_registered_runs(stop=1)[0].name
    assert os.readlink(ws.dir / "latest") == f"runs/{newest}"


def test_listing_search_and_counts(ws: LocalWorkspace) -> None:
    for name in ["alpha-1", "alpha-2", "beta-1"]:
        ws.register_run([Echo(value=name, step_name="s")], name=name)
    assert ws.num_registered_runs() == 3
    assert ws.num_registered_runs(match="ALPHA") == 2
    by_date = [r.name for r in ws.search_registered_runs()]
    assert by_date == ["beta-1", "alpha-2", "alpha-1"]
    by_name = [
        r.name
        for r in ws.search_registered_runs(sort_by=RunSort.NAME, sort_descending=False, start=1)
    ]
    assert by_name == ["alpha-2", "beta-1"]
    assert ws.num_steps() == 3
    assert [i.step_name for i in ws.search_step_info(match="S")] == ["s", "s", "s"]
    assert ws.search_step_info(state=StepState.COMPLETED) == []


def test_transitions_and_their_errors(ws: LocalWorkspace) -> None:
    step = Echo(value=[1, 2], step_name="s")
    assert ws.step_info(step).state is StepState.INCOMPLETE  # never seen: answerable
    with pytest.raises(KeyError):
        ws.step_info(step.unique_id)
    with pytest.raises(StepStateError):
        ws.step_finished(step, 1)
    with pytest.raises(StepStateError):
        ws.step_failed(step, ValueError("x"))
    ws.step_starting(step)
    assert ws.step_info(step).state is StepState.RUNNING
    with pytest.raises(StepStateError):
        ws.step_starting(step)
    try:
        raise ValueError("bad input")
    except ValueError as e:
        ws.step_failed(step, e)
    info = ws.step_info(step)
    assert info.state is StepState.FAILED and info.error == "ValueError: bad input"
    assert "Traceback" in info.traceback and "bad input" in info.traceback
    # FAILED may start again; an iterator result is stored as a list and handed back fresh.
    ws.step_starting(step)
    out = ws.step_finished(step, iter([1, 2]))
    assert list(out) == [1, 2]
    assert ws.step_cache[step] == [1, 2]
    info = ws.step_info(step)
    assert info.state is StepState.COMPLETED and info.attempt == 2 and info.error is None
    with pytest.raises(StepStateError) as err:
        ws.step_starting(step)
    assert err.value.step_state is StepState.COMPLETED
    # Work dir persists; remove_step removes everything.
    wd = ws.work_dir(step)
    assert wd == ws.dir / "cache" / step.unique_id / "work" and wd.is_dir()
    ws.remove_step(step.unique_id)
    assert step not in ws.step_cache
    with pytest.raises(KeyError):
        ws.remove_step(step.unique_id)
    assert ws.step_info(step).state is StepState.INCOMPLETE


def test_uncacheable_step_keeps_no_result(ws: LocalWorkspace) -> None:
    step = Uncached(value=5)
    assert finish(ws, step, 5) == 5
    assert ws.step_info(step).state is StepState.UNCACHEABLE
    assert step not in ws.step_cache
    assert not (ws.dir / "cache" / step.unique_id / "result.json").exists()
    ws.step_starting(step)  # an uncacheable step may run again
    ws.step_finished(step, 6)


def test_progress_round_trip(ws: LocalWorkspace) -> None:
    step = Echo(value=1)
    assert ws.step_progress(step) is None
    ws.step_starting(step)
    ws.report_progress(step, Progress(done=3, total=10, unit="batch", started=utc_now(), rate=1.5))
    p = ws.step_progress(step.unique_id)
    assert p is not None and p.done == 3 and p.total == 10 and p.unit == "batch" and p.rate == 1.5
    ws.step_finished(step, 1)
    (ws.dir / "cache" / step.unique_id / "progress.json").write_text("{torn")
    assert ws.step_progress(step) is None


def test_update_run_and_crashed_run_status(ws: LocalWorkspace) -> None:
    run = ws.register_run([Echo(value=1, step_name="a")], name="r")
    assert run.status is RunStatus.INCOMPLETE
    run.status = RunStatus.RUNNING
    run.owner = Owner(host=socket.gethostname(), pid=os.getpid())
    ws.update_run(run)
    assert ws.registered_run("r").status is RunStatus.RUNNING
    # A run whose executor died reads as CRASHED (the pid below does not exist).
    run.owner = Owner(host=socket.gethostname(), pid=2**22 + 12345)
    ws.update_run(run)
    assert ws.registered_run("r").status is RunStatus.CRASHED
    run.status, run.end_date, run.owner = RunStatus.COMPLETED, utc_now(), None
    ws.update_run(run)
    again = ws.registered_run("r")
    assert again.status is RunStatus.COMPLETED and again.end_date == run.end_date


# ----- URLs, pickling ------------------------------------------------------------------------
def test_urls_round_trip(ws: LocalWorkspace, tmp_path: Path) -> None:
    assert Workspace.by_name("local") is LocalWorkspace
    assert ws.url == f"local://{ws.dir}"
    again = Workspace.from_url(ws.url)
    assert isinstance(again, LocalWorkspace) and again.dir == ws.dir and not again.read_only
    assert Workspace.from_url(str(ws.dir)).dir == ws.dir
    odd = LocalWorkspace(tmp_path / "odd ?#% name")
    assert Workspace.from_url(odd.url).dir == odd.dir
    ro = LocalWorkspace(ws.dir, read_only=True)
    assert Workspace.from_url(ro.url).read_only
    clone = pickle.loads(pickle.dumps(ro))
    assert clone.dir == ws.dir and clone.read_only


# ----- atomic records ------------------------------------------------------------------------
def test_a_reader_never_sees_a_torn_step_record(ws: LocalWorkspace) -> None:
    step = Echo(value=0, step_name="hammered")
    ws.step_starting(step)
    info = ws._read_info(step.unique_id)
    info.metadata = {"n": 0, "blob": ""}
    ws._write_info(info)
    path = ws.dir / "cache" / step.unique_id / "step.json"
    done = threading.Event()
    reading = threading.Event()
    problems: list[str] = []
    reads = [0]

    def reader() -> None:
        while not done.is_set():
            raw = path.read_bytes()
            try:
                doc = parse_record(path, raw, STEP_FORMAT)
                assert len(doc["step"]["metadata"]["blob"]) == doc["step"]["metadata"]["n"] * 1000
            except Exception as e:  # noqa: BLE001 - any failure is the finding
                problems.append(f"{type(e).__name__}: {e}")
            reads[0] += 1
            reading.set()

    t = threading.Thread(target=reader)
    t.start()
    try:
        assert reading.wait(timeout=10)
        for i in range(150):
            info.metadata = {"n": i % 50, "blob": "x" * (1000 * (i % 50))}
            ws._write_info(info)
    finally:
        done.set()
        t.join(timeout=30)
    ws.step_failed(step, RuntimeError("end of test"))
    assert not t.is_alive()
    assert reads[0] > 1
    assert problems == []


# ----- opening ------------------------------------------------------------------------------
def test_opening_refuses_what_is_not_a_workspace(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(WorkspaceError) as err:
        LocalWorkspace(missing, read_only=True)
    assert str(missing) in str(err.value)
    assert not missing.exists()
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    for ro in (False, True):
        with pytest.raises(WorkspaceError, match="not a tango-tui workspace"):
            LocalWorkspace(other, read_only=ro)
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(WorkspaceError, match="not a directory"):
        LocalWorkspace(a_file)
    future = tmp_path / "future"
    future.mkdir()
    (future / "tango-tui.json").write_text('{"format": "tango-tui.workspace", "version": 99}')
    with pytest.raises(RecordError, match="newer"):
        LocalWorkspace(future, read_only=True)


def test_read_only_writes_nothing_and_refuses_mutations(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    ro_empty = LocalWorkspace(empty, read_only=True)
    assert ro_empty.registered_runs() == {} and ro_empty.num_steps() == 0
    assert list(empty.iterdir()) == []

    ws = LocalWorkspace(tmp_path / "ws")
    a = Echo(value=1, step_name="a")
    ws.register_run([a], name="r")
    finish(ws, a, 1)
    before = checksums(ws.dir)
    ro = LocalWorkspace(ws.dir, read_only=True)
    assert ro.registered_run("r").steps["a"].state is StepState.COMPLETED
    assert ro.step_cache[a] == 1
    b = Echo(value=2)
    mutations = [
        lambda: ro.register_run([b], name="r2"),
        lambda: ro.step_starting(b),
        lambda: ro.step_finished(a, 1),
        lambda: ro.step_failed(a, ValueError()),
        lambda: ro.remove_step(a.unique_id),
        lambda: ro.work_dir(a),
        lambda: ro.capture_logs_for_run("r"),
        lambda: ro.step_log_context(a),
        lambda: ro.report_progress(a, Progress(done=1)),
        lambda: ro.update_run(ro.registered_run("r")),
    ]
    for mutate in mutations:
        with pytest.raises(WorkspaceError, match="read-only"):
            mutate()
    assert checksums(ws.dir) == before


READ_ONLY_SCRIPT = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, {here!r})
    from local_steps import Echo
    from tango_tui.core._local import LocalWorkspace
    from tango_tui.core._model import StepState
    ws = LocalWorkspace({root!r}, read_only=True)
    out = {{}}
    out["runs"] = sorted(ws.registered_runs())
    run = ws.registered_run("r")
    out["state"] = run.steps["a"].state.value
    out["result"] = ws.step_result_for_run("r", "a")
    out["steps"] = ws.num_steps()
    out["progress"] = ws.step_progress(run.steps["a"].unique_id) is not None
    out["crashed"] = ws.step_info({crashed_uid!r}).state.value
    try:
        LocalWorkspace({root!r})  # opening writes nothing, so even a writable open works
        out["writable_open"] = "opened"
    except Exception as e:
        out["writable_open"] = type(e).__name__
    print(json.dumps(out))
    """
)


def test_read_only_on_a_read_only_bind_mount(tmp_path: Path) -> None:
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount --bind -o ro {tmp_path} {tmp_path}"],
        check=False,
        capture_output=True,
        timeout=30,
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot make a read-only bind mount here: {probe.stderr.decode().strip()}")
    ws = LocalWorkspace(tmp_path / "ws")
    a = Echo(value={"k": [1, 2]}, step_name="a")
    ws.register_run([a], name="r")
    ws.step_starting(a)
    ws.report_progress(a, Progress(done=1, total=2))
    ws.step_finished(a, {"k": [1, 2]})
    # A step left RUNNING by a dead process, for the reader to judge without writing.
    dead = Echo(value="dead")
    info = dead.make_step_info()
    info.start_time = utc_now()
    info.owner = Owner(host=socket.gethostname(), pid=2**22 + 4321)
    ws.layout.step_dir(dead.unique_id).mkdir()
    ws._write_info(info)
    before = checksums(ws.dir)
    script = READ_ONLY_SCRIPT.format(here=str(HERE), root=str(ws.dir), crashed_uid=dead.unique_id)
    root = str(ws.dir)
    proc = subprocess.run(
        [
            "unshare",
            "-m",
            "sh",
            "-c",
            'mount --bind -o ro "$1" "$1" && exec "$2" -c "$3"',
            "sh",
            root,
            sys.executable,
            script,
        ],
        check=False,
        capture_output=True,
        timeout=60,
        env=subprocess_env(),
    )
    assert proc.returncode == 0, proc.stderr.decode()
    out = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    assert out == {
        "runs": ["r"],
        "state": "completed",
        "result": {"k": [1, 2]},
        "steps": 2,
        "progress": True,
        "crashed": "crashed",
        "writable_open": "opened",
    }
    assert checksums(ws.dir) == before


# ----- broken records ------------------------------------------------------------------------
BROKEN_RUNS = {
    "empty": b"",
    "garbage": b"\x00\xffnot json",
    "torn": b'{"format": "tango-tui.run", "version": 1, "run": {"name": "to',
    "future": b'{"format": "tango-tui.run", "version": 7, "run": {}}',
    "wrong-kind": b'{"format": "tango-tui.step", "version": 1}',
    "list": b"[1, 2]",
    "no-body": b'{"format": "tango-tui.run", "version": 1}',
    "bad-date": b'{"format": "tango-tui.run", "version": 1, "run": {"name": "bad-date", "start_date": "yesterday"}}',
    "misnamed": b'{"format": "tango-tui.run", "version": 1, "run": {"name": "other", "start_date": "2024-01-01T00:00:00+00:00"}}',
}


def test_broken_run_records_are_skipped_with_a_warning(
    ws: LocalWorkspace, caplog: pytest.LogCaptureFixture
) -> None:
    ws.register_run([Echo(value=1, step_name="a")], name="good")
    runs = ws.dir / "runs"
    for name, raw in BROKEN_RUNS.items():
        (runs / name).mkdir()
        (runs / name / "run.json").write_bytes(raw)
    (runs / "no-record").mkdir()
    (runs / "dir-record").mkdir()
    (runs / "dir-record" / "run.json").mkdir()
    (runs / "a-file").write_text("not a run directory")
    broken = [*BROKEN_RUNS, "no-record", "dir-record", "a-file"]
    with caplog.at_level(logging.WARNING):
        runs_seen = ws.registered_runs()
    assert list(runs_seen) == ["good"]
    for name in broken:
        assert any(str(runs / name) in r.getMessage() for r in caplog.records), name
        with pytest.raises(RecordError) as err:
            ws.registered_run(name)
        assert str(runs / name) in str(err.value)
    assert [r.name for r in ws.search_registered_runs()] == ["good"]


def test_broken_step_records_are_skipped_with_a_warning(
    ws: LocalWorkspace, caplog: pytest.LogCaptureFixture
) -> None:
    good = Echo(value=1)
    finish(ws, good, 1)
    for uid, raw in {
        "Bad-1": b"",
        "Bad-2": b"{",
        "Bad-3": b'{"format": "tango-tui.step", "version": 1, "step": 3}',
    }.items():
        (ws.dir / "cache" / uid).mkdir()
        (ws.dir / "cache" / uid / "step.json").write_bytes(raw)
    wrong = ws.dir / "cache" / "Bad-4"
    wrong.mkdir()
    shutil.copy(ws.dir / "cache" / good.unique_id / "step.json", wrong / "step.json")
    with caplog.at_level(logging.WARNING):
        infos = ws.search_step_info()
    assert [i.unique_id for i in infos] == [good.unique_id]
    for uid in ("Bad-1", "Bad-2", "Bad-3", "Bad-4"):
        assert any(uid in r.getMessage() for r in caplog.records), uid
        with pytest.raises(RecordError):
            ws.step_info(uid)
    # A damaged record does not block the step forever: starting it replaces the record.
    (ws.dir / "cache" / good.unique_id / "step.json").write_bytes(b"{garbage")
    (ws.dir / "cache" / good.unique_id / "result.json").unlink()
    ws.step_starting(good)
    ws.step_finished(good, 1)
    assert ws.step_info(good).state is StepState.COMPLETED


def test_damaged_result_is_reported_not_returned(ws: LocalWorkspace) -> None:
    step = Echo(value=("payload",))  # a tuple: pickled, so kept in result/
    finish(ws, step, ("payload",))
    data = ws.dir / "cache" / step.unique_id / "result" / "data.pkl"
    data.write_bytes(pickle.dumps(("paylOad",)))
    with pytest.raises(RecordError, match="checksum"):
        ws.step_cache[step]


def test_run_plans_read_back_lazily_but_behave_as_dicts(ws: LocalWorkspace) -> None:
    a = Echo(value=1, step_name="a")
    b = Echo(value=a, step_name="b")
    registered = ws.register_run([b], name="r")
    listed = ws.registered_runs()["r"]
    assert listed.plan == registered.plan
    assert len(listed.plan) == 2 and set(listed.plan) == {a.unique_id, b.unique_id}
    assert listed.plan[a.unique_id].name == "a" and not listed.plan[a.unique_id].target
    assert listed.counts() == {StepState.INCOMPLETE: 2}
    clone = pickle.loads(pickle.dumps(ws.registered_run("r")))
    assert type(clone.plan) is dict and clone.plan == registered.plan
    assert json.loads(
        json.dumps({k: v.to_json_dict() for k, v in ws.registered_run("r").plan.items()})
    )
    assert dict(ws.registered_run("r").plan) == registered.plan
    # A plan row that does not parse is reported against the record when the plan is used.
    path = ws.dir / "runs" / "r" / "run.json"
    doc = json.loads(path.read_text())
    doc["run"]["plan"][a.unique_id]["reason"] = "no such reason"
    path.write_text(json.dumps(doc))
    with pytest.raises(RecordError) as err:
        ws.registered_run("r").plan.values()
    assert str(path) in str(err.value)


def test_odd_entries_in_runs_and_cache(
    ws: LocalWorkspace, caplog: pytest.LogCaptureFixture
) -> None:
    a = Echo(value=1, step_name="a")
    ws.register_run([a], name="good")
    runs = ws.dir / "runs"
    os.symlink("nowhere", runs / "dangling")
    os.symlink("loop", runs / "loop")
    os.symlink("loop-b", runs / "loop-a")
    os.symlink("loop-a", runs / "loop-b")
    os.mkdir(os.path.join(os.fsencode(runs), b"bad-\xff-name"))
    (ws.dir / "cache" / "a-file").write_text("not a step directory")
    # A run naming a step whose directory is gone still lists; the target reads INCOMPLETE.
    shutil.rmtree(ws.dir / "cache" / a.unique_id)
    with caplog.at_level(logging.WARNING):
        listed = ws.registered_runs()
        infos = ws.search_step_info()
    assert list(listed) == ["good"]
    assert listed["good"].steps["a"].state is StepState.INCOMPLETE
    assert infos == []
    text = "\n".join(r.getMessage() for r in caplog.records)
    for name in ("dangling", "loop", "loop-a", "loop-b", "bad-"):
        assert str(runs / name) in text, name
    assert "a-file" in text


def test_local_step_cache_mapping_api(ws: LocalWorkspace) -> None:
    cache = ws.step_cache
    a, b = Echo(value="a"), Echo(value=(1, 2))
    assert len(cache) == 0 and a not in cache
    cache[a] = "a"
    cache[b] = (1, 2)  # not JSON-exact: stored as a pickle, read back as a tuple
    assert len(cache) == 2
    assert cache[b] == (1, 2) and type(cache[b]) is tuple
    assert (cache.path_for_step(b) / "result" / "data.pkl").is_file()
    info = a.make_step_info()
    assert info in cache and cache[info] == "a"
    info.cacheable = False
    assert info not in cache  # an uncacheable record never has a cached result
    cache[a] = "replaced"
    assert cache[a] == "replaced"
    del cache[a]
    assert a not in cache and len(cache) == 1
    with pytest.raises(KeyError):
        del cache[a]
    with pytest.raises(KeyError):
        cache[a]
    assert cache.path_for_step(a) == ws.dir / "cache" / a.unique_id
    assert not [p for p in ws.dir.rglob(".tmp-*")]


def test_register_run_takes_a_mapping_of_names(ws: LocalWorkspace) -> None:
    a = Echo(value=1)
    run = ws.register_run({"first": a, "again": a}, name="m")
    assert sorted(run.steps) == ["again", "first"]
    assert sorted(os.listdir(ws.dir / "runs" / "m")) == ["again", "first", "run.json"]
    assert ws.registered_run("m").steps["first"].unique_id == a.unique_id


PERMISSION_SCRIPT = textwrap.dedent(
    """
    import json, logging, sys
    from tango_tui.core._errors import WorkspaceError
    from tango_tui.core._local import LocalWorkspace
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    ws = LocalWorkspace({root!r}, read_only=True)
    out = {{"runs": sorted(ws.registered_runs())}}
    try:
        ws.registered_run("locked")
    except Exception as e:
        out["locked"] = [type(e).__name__, str(e)]
    try:
        ws.step_info({uid!r})
    except Exception as e:
        out["step"] = [type(e).__name__, str(e)]
    print(json.dumps(out))
    """
)


def test_permission_denied_records_are_reported_by_path(tmp_path: Path) -> None:
    setpriv = shutil.which("setpriv")
    if setpriv is None or os.geteuid() != 0:
        pytest.skip("needs root and setpriv to act as an unprivileged user")
    base = Path(tempfile.mkdtemp(prefix="coreb-perm-"))
    try:
        os.chmod(base, 0o755)
        ws = LocalWorkspace(base / "ws")
        a = Echo(value="secret", step_name="a")
        ws.register_run([a], name="open")
        ws.register_run([Echo(value=2, step_name="b")], name="locked")
        for dirpath, dirnames, filenames in os.walk(base):
            for n in dirnames:
                os.chmod(os.path.join(dirpath, n), 0o755)
            for n in filenames:
                os.chmod(os.path.join(dirpath, n), 0o644)
        os.chmod(ws.dir / "runs" / "locked" / "run.json", 0o000)
        os.chmod(ws.dir / "cache" / a.unique_id / "step.json", 0o000)
        before = checksums(ws.dir)
        script = PERMISSION_SCRIPT.format(root=str(ws.dir), uid=a.unique_id)
        proc = subprocess.run(
            [
                setpriv,
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                sys.executable,
                "-c",
                script,
            ],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
            env=subprocess_env(),
            cwd="/",
        )
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        locked = str(ws.dir / "runs" / "locked" / "run.json")
        assert out["runs"] == ["open"]
        assert out["locked"][0] == "RecordError" and locked in out["locked"][1]
        assert "permission denied" in out["locked"][1]
        assert out["step"][0] == "RecordError" and a.unique_id in out["step"][1]
        assert locked in proc.stderr  # the skipped run was named in a warning
        assert checksums(ws.dir) == before
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_relative_local_urls_are_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ws = Workspace.from_url("local://rel/ws")
    assert isinstance(ws, LocalWorkspace) and ws.dir == tmp_path / "rel" / "ws"
    assert Workspace.from_url("plain-dir").dir == tmp_path / "plain-dir"
    assert Workspace.from_url(ws.url).dir == ws.dir  # url() is always absolute
