"""open_source: detection, run rows, run detail, liveness, problems, incremental refresh."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import wsfactory as wf
from wsfactory import DEAD_OWNER, T0

from tango_tui.core import _format as fmt
from tango_tui.core._errors import RecordError, WorkspaceError
from tango_tui.core._liveness import current_owner
from tango_tui.core._model import Progress, RunStatus, StepReason, StepState
from tango_tui.monitor.source import NotAWorkspaceError, open_source, path_from_url


def files_checksum(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in filenames + dirnames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            out[p] = (st.st_size, st.st_mtime_ns)
    return out


# ----- detection ---------------------------------------------------------------------------------
def test_missing_dir_is_empty_and_later_detected(tmp_path: Path) -> None:
    root = tmp_path / "later"
    src = open_source(root)
    assert src.kind == "empty"
    assert src.list_runs() == []
    wf.init(root)
    wf.write_run(root, "r1", [wf.row("A-1")], end=T0, status="completed")
    rows = src.list_runs()
    assert src.kind == "tango-tui"
    assert [r.name for r in rows] == ["r1"]
    assert not root.joinpath("x").exists()


def test_workspace_deleted_while_open_then_foreign_files(tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "ws"
    wf.init(root)
    wf.write_run(root, "r1", [wf.row("A-1")], end=T0, status="completed")
    src = open_source(root)
    assert [r.name for r in src.list_runs()] == ["r1"]
    shutil.rmtree(root)
    assert src.list_runs() == []
    assert src.kind == "empty"
    with pytest.raises(KeyError):
        src.run_detail("r1")
    root.mkdir()
    (root / "notes.txt").write_text("not a workspace")
    assert src.list_runs() == []
    assert src.kind == "empty"
    assert [p.path for p in src.problems] == [str(root)]
    assert "not a tango-tui or Tango workspace" in src.problems[0].problem


def test_empty_dir_and_scaffold_only_are_empty(tmp_path: Path) -> None:
    assert open_source(tmp_path).kind == "empty"
    (tmp_path / "runs").mkdir()
    assert open_source(tmp_path).kind == "empty"


def test_not_a_workspace(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hi")
    (tmp_path / "src").mkdir()
    with pytest.raises(NotAWorkspaceError) as e:
        open_source(tmp_path)
    assert str(tmp_path) in str(e.value) and "notes.txt" in str(e.value)
    assert isinstance(e.value, WorkspaceError)
    with pytest.raises(NotAWorkspaceError, match="is a file"):
        open_source(tmp_path / "notes.txt")


def test_marker_of_newer_version_is_refused(tmp_path: Path) -> None:
    (tmp_path / fmt.MARKER_FILE).write_text('{"format": "tango-tui.workspace", "version": 99}')
    with pytest.raises(RecordError, match="newer"):
        open_source(tmp_path)


def test_tango1_detection_markers(tmp_path: Path) -> None:
    from tango_tui.monitor.source import detect_kind

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "settings.json").write_text('{"version": 2}')
    assert detect_kind(tmp_path / "a") == "tango1"
    v1 = tmp_path / "v1" / "cache" / "Step-abc"
    v1.mkdir(parents=True)
    (v1 / "stepinfo.dill").write_bytes(b"x")
    assert detect_kind(tmp_path / "v1") == "tango1"


def test_urls(tmp_path: Path) -> None:
    assert path_from_url(f"local://{tmp_path}") == tmp_path
    assert path_from_url(str(tmp_path)) == tmp_path
    with pytest.raises(NotAWorkspaceError, match="memory"):
        path_from_url("memory://")


# ----- rows --------------------------------------------------------------------------------------
def test_run_rows_status_counts_and_order(tmp_path: Path) -> None:
    root = tmp_path
    wf.init(root)
    wf.write_run(
        root,
        "old",
        [wf.row("A-1"), wf.row("B-2", StepState.FAILED, error="ValueError: x")],
        end=T0 + timedelta(minutes=1),
        status="failed",
    )
    wf.write_run(
        root,
        "new",
        [wf.row("A-1", reason=StepReason.CACHED)],
        start=T0 + timedelta(hours=1),
        end=T0 + timedelta(hours=1, minutes=1),
        status="completed",
    )
    rows = open_source(root).list_runs()
    assert [r.name for r in rows] == ["new", "old"]
    old = rows[1]
    assert old.status == RunStatus.FAILED
    assert old.counts == {StepState.COMPLETED: 1, StepState.FAILED: 1}
    assert old.n_steps == 2
    assert old.log_path == root / "runs" / "old" / "out.log"
    assert old.targets == {"a": "A-1", "b": "B-2"}


def test_running_run_with_dead_owner_is_crashed(tmp_path: Path) -> None:
    wf.init(tmp_path)
    wf.write_run(
        tmp_path, "dead", [wf.row("A-1", StepState.RUNNING)], owner=DEAD_OWNER, status="running"
    )
    wf.write_run(tmp_path, "live", [wf.row("A-2", StepState.RUNNING)], owner=current_owner())
    rows = {r.name: r for r in open_source(tmp_path).list_runs()}
    assert rows["dead"].status == RunStatus.CRASHED
    assert rows["dead"].counts == {StepState.CRASHED: 1}
    assert rows["live"].status == RunStatus.RUNNING


def test_broken_run_record_is_a_problem_and_others_show(tmp_path: Path) -> None:
    wf.init(tmp_path)
    wf.write_run(tmp_path, "good", [wf.row("A-1")], end=T0, status="completed")
    (tmp_path / "runs" / "torn").mkdir()
    (tmp_path / "runs" / "torn" / "run.json").write_text('{"format": "tango-tui.run", "vers')
    (tmp_path / "runs" / "bare").mkdir()
    src = open_source(tmp_path)
    rows = {r.name: r for r in src.list_runs()}
    assert rows["good"].problem is None
    assert "not valid JSON" in (rows["torn"].problem or "")
    assert rows["bare"].problem == "run directory has no run.json"
    assert [p.path for p in src.problems] == [str(tmp_path / "runs" / "torn" / "run.json")]


def test_incremental_refresh_reuses_unchanged_records(tmp_path: Path) -> None:
    wf.init(tmp_path)
    for i in range(5):
        wf.write_run(
            tmp_path,
            f"r{i}",
            [wf.row("A-1")],
            start=T0 + timedelta(minutes=i),
            end=T0,
            status="completed",
        )
    src = open_source(tmp_path)
    src.list_runs()
    reader = src._reader
    before = {n: id(v[1]) for n, v in reader.runs._records.items()}
    wf.write_run(
        tmp_path,
        "r2",
        [wf.row("A-1", StepState.FAILED)],
        start=T0 + timedelta(minutes=2),
        end=T0,
        status="failed",
    )
    rows = {r.name: r for r in src.refresh_runs({"r2"})}
    after = {n: id(v[1]) for n, v in reader.runs._records.items()}
    assert rows["r2"].status == RunStatus.FAILED
    assert [n for n in before if before[n] != after[n]] == ["r2"]
    # A full listing notices a change too (stat differs), and deletions.
    import shutil

    shutil.rmtree(tmp_path / "runs" / "r0")
    wf.write_run(tmp_path, "r1", [wf.row("A-1")], start=T0, end=T0, status="incomplete")
    rows = {r.name: r for r in src.list_runs()}
    assert "r0" not in rows and rows["r1"].status == RunStatus.INCOMPLETE
    # A changed name that vanished is dropped; a new one is added.
    wf.write_run(tmp_path, "r9", [wf.row("A-1")], end=T0, status="completed")
    shutil.rmtree(tmp_path / "runs" / "r3")
    names = {r.name for r in src.refresh_runs({"r9", "r3"})}
    assert names == {"r1", "r2", "r4", "r9"}


# ----- detail ------------------------------------------------------------------------------------
def test_run_detail_order_reasons_and_finished_rows(tmp_path: Path) -> None:
    wf.init(tmp_path)
    plan = [
        wf.row(
            "Train-3",
            StepState.INCOMPLETE,
            StepReason.DEPENDENCY_FAILED,
            blocked_by="Prep-2",
            dependencies=("Prep-2",),
        ),
        wf.row(
            "Prep-2",
            StepState.FAILED,
            error="ValueError: bad",
            dependencies=("Load-1",),
            target=False,
            log_file="cache/Prep-2/logs/001.log",
        ),
        wf.row("Load-1", reason=StepReason.CACHED, target=False),
    ]
    wf.write_run(tmp_path, "r", plan, end=T0, status="failed")
    detail = open_source(tmp_path).run_detail("r")
    assert [s.unique_id for s in detail.steps] == ["Load-1", "Prep-2", "Train-3"]
    by = {s.unique_id: s for s in detail.steps}
    assert (
        by["Train-3"].reason == StepReason.DEPENDENCY_FAILED
        and by["Train-3"].blocked_by == "Prep-2"
    )
    assert by["Load-1"].reason == StepReason.CACHED
    assert by["Prep-2"].error == "ValueError: bad"
    assert by["Prep-2"].log_path == tmp_path / "cache/Prep-2/logs/001.log"
    assert detail.run.status == RunStatus.FAILED
    with pytest.raises(KeyError):
        open_source(tmp_path).run_detail("nope")


def test_live_run_detail_reads_step_records_liveness_and_progress(tmp_path: Path) -> None:
    wf.init(tmp_path)
    me = current_owner()
    plan = [
        wf.row("Live-1", StepState.INCOMPLETE, StepReason.PENDING),
        wf.row("Dead-2", StepState.INCOMPLETE, StepReason.PENDING),
        wf.row("Wait-3", StepState.INCOMPLETE, StepReason.PENDING, dependencies=("Live-1",)),
    ]
    wf.write_run(tmp_path, "r", plan, owner=me)
    wf.write_step(tmp_path, wf.running_info("Live-1", me, log_file="cache/Live-1/logs/001.log"))
    wf.write_step(tmp_path, wf.running_info("Dead-2", DEAD_OWNER))
    fmt.write_record(
        tmp_path / "cache/Live-1/progress.json",
        fmt.PROGRESS_FORMAT,
        {"progress": Progress(done=3, total=10, rate=1.5).to_json_dict()},
        fsync=False,
    )
    # The live owner holds the step's lock, as the executor does for the whole attempt.
    lock_fd = os.open(tmp_path / "cache/Live-1/lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(lock_fd, fcntl.LOCK_EX)
    try:
        check_live_detail(tmp_path)
    finally:
        os.close(lock_fd)
    # Once the lock is released while the record still says running, the attempt is abandoned.
    assert open_source(tmp_path).step_info("Live-1").state == StepState.CRASHED


def check_live_detail(tmp_path: Path) -> None:
    src = open_source(tmp_path)
    detail = src.run_detail("r")
    by = {s.unique_id: s for s in detail.steps}
    assert detail.run.status == RunStatus.RUNNING
    assert by["Live-1"].state == StepState.RUNNING and by["Live-1"].reason == StepReason.RAN
    assert by["Live-1"].progress is not None and by["Live-1"].progress.fraction == pytest.approx(
        0.3
    )
    assert by["Dead-2"].state == StepState.CRASHED and "gone" in (by["Dead-2"].error or "")
    assert by["Wait-3"].state == StepState.INCOMPLETE and by["Wait-3"].reason == StepReason.PENDING
    assert src.step_info("Dead-2").state == StepState.CRASHED
    assert src.step_info("Live-1").state == StepState.RUNNING
    assert src.step_progress("Live-1") == Progress(done=3, total=10, rate=1.5)
    with pytest.raises(KeyError):
        src.step_info("Nope-9")


def test_crashed_run_marks_pending_not_reached(tmp_path: Path) -> None:
    wf.init(tmp_path)
    wf.write_run(
        tmp_path, "r", [wf.row("A-1", StepState.INCOMPLETE, StepReason.PENDING)], owner=DEAD_OWNER
    )
    detail = open_source(tmp_path).run_detail("r")
    assert detail.run.status == RunStatus.CRASHED
    assert detail.steps[0].reason == StepReason.NOT_REACHED


def test_broken_step_record_is_a_problem(tmp_path: Path) -> None:
    wf.init(tmp_path)
    wf.write_run(
        tmp_path,
        "r",
        [wf.row("A-1", StepState.INCOMPLETE, StepReason.PENDING), wf.row("B-2")],
        owner=current_owner(),
    )
    (tmp_path / "cache" / "A-1").mkdir()
    (tmp_path / "cache" / "A-1" / "step.json").write_bytes(b"\xff\xfe garbage")
    src = open_source(tmp_path)
    detail = src.run_detail("r")
    assert [s.unique_id for s in detail.steps] == ["A-1", "B-2"]
    assert detail.steps[0].problem == "record is not UTF-8 text"
    assert any("A-1" in p.path for p in src.problems)


def test_log_path_escaping_the_workspace_is_refused(tmp_path: Path) -> None:
    wf.init(tmp_path / "ws")
    wf.write_run(
        tmp_path / "ws",
        "r",
        [wf.row("A-1", log_file="../../etc/passwd")],
        end=T0,
        status="completed",
    )
    src = open_source(tmp_path / "ws")
    detail = src.run_detail("r")
    assert detail.steps[0].log_path is None
    assert any("escapes" in p.problem for p in src.problems)


def test_hostile_ids_and_names_never_read_outside(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    wf.write_step(outside, wf.running_info("Evil-1", DEAD_OWNER))  # outside/cache/Evil-1/step.json
    root = tmp_path / "ws"
    wf.init(root)
    wf.write_run(
        root,
        "r",
        [wf.row("../../outside/cache/Evil-1", StepState.INCOMPLETE, StepReason.PENDING)],
        owner=current_owner(),
    )
    src = open_source(root)
    detail = src.run_detail("r")
    assert detail.steps[0].state == StepState.INCOMPLETE  # the outside record was not read
    for uid in ("../../outside/cache/Evil-1", "..", ""):
        with pytest.raises(KeyError):
            src.step_info(uid)
        assert src.step_progress(uid) is None
    with pytest.raises(KeyError):
        src.run_detail("../ws/runs/r")


def test_json_forms_have_stable_keys(tmp_path: Path) -> None:
    wf.init(tmp_path)
    wf.write_run(tmp_path, "r", [wf.row("A-1")], end=T0, status="completed")
    src = open_source(tmp_path)
    doc = src.run_detail("r").to_json_dict()
    assert {"name", "start_date", "end_date", "status", "steps"} <= doc.keys()
    assert set(doc["steps"]["a"]) >= {"unique_id", "state", "start_time", "end_time", "error"}
    assert doc["steps"]["a"]["state"] == "completed"


def test_never_writes(tmp_path: Path) -> None:
    wf.init(tmp_path)
    wf.write_run(
        tmp_path, "r", [wf.row("A-1", StepState.INCOMPLETE, StepReason.PENDING)], owner=DEAD_OWNER
    )
    wf.write_step(tmp_path, wf.running_info("A-1", DEAD_OWNER))
    (tmp_path / "cache" / "A-1" / "lock").write_text("")
    before = files_checksum(tmp_path)
    src = open_source(tmp_path)
    src.list_runs()
    src.run_detail("r")
    src.step_info("A-1")
    assert files_checksum(tmp_path) == before


def test_reads_a_read_only_mount(tmp_path: Path) -> None:
    """Listing, detail and step records work on a read-only bind mount (nothing tries to write)."""
    if os.geteuid() != 0 or not os.path.exists("/usr/bin/unshare"):
        pytest.skip("needs root and unshare for a read-only bind mount")
    root = tmp_path / "ws"
    wf.init(root)
    wf.write_run(
        root, "ok", [wf.row("A-1", StepState.INCOMPLETE, StepReason.PENDING)], owner=DEAD_OWNER
    )
    wf.write_step(root, wf.running_info("A-1", DEAD_OWNER))
    code = (
        "from tango_tui.monitor.source import open_source\n"
        f"s = open_source({str(root)!r})\n"
        "r = s.list_runs()[0]\n"
        "d = s.run_detail('ok')\n"
        "print(r.status.value, d.steps[0].state.value, s.step_info('A-1').state.value, len(s.problems))\n"
    )
    script = f'mount --bind -o ro {root} {root} && exec {sys.executable} -c "$0"'
    proc = subprocess.run(  # noqa: PLW1510 - the return code is checked below
        ["unshare", "-m", "sh", "-c", script, code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    if proc.returncode != 0 and "mount" in proc.stderr:
        pytest.skip(f"cannot bind-mount here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["crashed", "crashed", "crashed", "0"]


# ----- Tango 1.x, and the workspace objects ------------------------------------------------------
@pytest.fixture
def tango1_ws(tmp_path: Path) -> Path:
    import tarfile

    fixture = Path(__file__).parents[1] / "fixtures" / "ai2-tango-1.3.2-workspace.tar.gz"
    with tarfile.open(fixture) as tar:
        tar.extractall(tmp_path, filter="tar")
    return tmp_path / "ws"


def test_tango1_source_rows_and_detail(tango1_ws: Path) -> None:
    before = files_checksum(tango1_ws)
    src = open_source(tango1_ws)
    assert src.kind == "tango1"
    rows = {r.name: r for r in src.list_runs()}
    assert rows["killed-run"].status == RunStatus.CRASHED
    assert rows["ok-run"].counts == {StepState.COMPLETED: 4}
    detail = src.run_detail("helped-clam")
    by = {s.name: s for s in detail.steps}
    assert by["after_broken"].reason == StepReason.DEPENDENCY_FAILED
    assert by["after_broken"].blocked_by == by["broken"].unique_id
    order = [s.unique_id for s in detail.steps]
    for s in detail.steps:
        assert all(order.index(d) < order.index(s.unique_id) for d in s.dependencies if d in order)
    assert src.step_info(by["broken"].unique_id).traceback
    # Incremental refresh keeps the other rows.
    again = {r.name: r for r in src.refresh_runs({"ok-run"})}
    assert again["helped-clam"] is rows["helped-clam"]
    assert type(src.workspace).__name__ == "TangoWorkspace"
    assert files_checksum(tango1_ws) == before


def test_tango_tui_source_exposes_a_read_only_workspace(tmp_path: Path) -> None:
    wf.init(tmp_path)
    wf.write_run(tmp_path, "r", [wf.row("A-1")], end=T0, status="completed")
    ws = open_source(tmp_path).workspace
    assert ws.read_only is True
    assert "r" in ws.registered_runs()


def test_watcher_batches_drive_incremental_refresh(tmp_path: Path) -> None:
    """The app's loop in miniature: a batch's run names are what refresh_runs needs."""
    import threading

    from tango_tui.monitor.watcher import WorkspaceWatcher

    wf.init(tmp_path)
    src = open_source(tmp_path)
    assert src.list_runs() == []
    got: list[set[str]] = []
    cond = threading.Condition()

    def on_batch(batch) -> None:
        with cond:
            got.append(set(batch.runs))
            cond.notify_all()

    w = WorkspaceWatcher(tmp_path, on_batch)
    w.start()
    try:
        wf.write_run(tmp_path, "fresh", [wf.row("A-1")], end=T0, status="completed")
        with cond:
            assert cond.wait_for(lambda: any("fresh" in g for g in got), timeout=10)
            names = set().union(*got)
    finally:
        w.stop()
    assert [r.name for r in src.refresh_runs(names)] == ["fresh"]


# ----- a real run, written by the real executor in another process ------------------------------
LIVE_SCRIPT = """
import sys, time
from pathlib import Path
from tango_tui import LocalWorkspace, Step, run_steps

class Wait(Step):
    def run(self, go: str) -> int:
        self.progress(1, 10, desc="waiting")
        print("waiting for", go, flush=True)
        while not Path(go).exists():
            time.sleep(0.01)
        return 1

class After(Step):
    def run(self, x: int) -> int:
        return x + 1

ws = LocalWorkspace(sys.argv[1])
run_steps(ws, {"after": After(x=Wait(go=sys.argv[2], step_name="wait"))}, name="live")
"""


def wait_until(pred, what: str, timeout: float = 30.0):
    import time

    end = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_real_run_seen_live_then_crashed_after_sigkill(tmp_path: Path) -> None:
    import signal

    ws = tmp_path / "ws"
    script = tmp_path / "live.py"
    script.write_text(LIVE_SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(ws), str(tmp_path / "never")],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def running_with_progress():
            try:
                src = open_source(ws)
                detail = src.run_detail("live")
            except (KeyError, WorkspaceError):
                return None
            row = next((s for s in detail.steps if s.name == "wait"), None)
            return detail if row and row.state == StepState.RUNNING and row.progress else None

        detail = wait_until(running_with_progress, "the wait step running with progress")
        assert detail.run.status == RunStatus.RUNNING
        wait = next(s for s in detail.steps if s.name == "wait")
        after = next(s for s in detail.steps if s.name == "after")
        assert wait.progress.done == 1 and wait.progress.total == 10
        assert (
            after.state == StepState.INCOMPLETE
            and after.reason == StepReason.PENDING
            and after.target
        )
        assert [s.name for s in detail.steps] == ["wait", "after"]
        assert wait.log_path is not None and "waiting for" in wait.log_path.read_text()
        assert open_source(ws).list_runs()[0].status == RunStatus.RUNNING
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    src = open_source(ws)
    row = src.list_runs()[0]
    assert row.status == RunStatus.CRASHED
    detail = src.run_detail("live")
    states = {s.name: (s.state, s.reason) for s in detail.steps}
    assert states["wait"][0] == StepState.CRASHED
    assert states["after"] == (StepState.INCOMPLETE, StepReason.NOT_REACHED)
    assert src.step_info(wait.unique_id).state == StepState.CRASHED
