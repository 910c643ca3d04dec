"""WorkspaceWatcher against real inotify and polling events (no mocks, no sleeps as sync)."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import wsfactory as wf

from tango_tui.core import _format as fmt
from tango_tui.monitor.watcher import ChangeBatch, WorkspaceWatcher

DEADLINE = 10.0


class Collector:
    """Collects batches; tests wait on conditions over them with a deadline."""

    def __init__(self) -> None:
        self.batches: list[ChangeBatch] = []
        self.cond = threading.Condition()

    def __call__(self, batch: ChangeBatch) -> None:
        with self.cond:
            self.batches.append(batch)
            self.cond.notify_all()

    def wait(self, pred: Callable[[ChangeBatch], bool], what: str) -> ChangeBatch:
        """Wait for a batch (arrived after the last ``mark()``) that satisfies ``pred``."""
        end = time.monotonic() + DEADLINE
        with self.cond:
            while True:
                for b in self.batches[self._mark :]:
                    if pred(b):
                        return b
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no batch with {what} within {DEADLINE}s: {self.batches}")
                self.cond.wait(left)

    _mark = 0

    def mark(self) -> None:
        with self.cond:
            self._mark = len(self.batches)


def wait_armed(w: WorkspaceWatcher, key: tuple[str, bool]) -> None:
    """Wait until the worker thread has armed a watch (polled state, with a deadline)."""
    end = time.monotonic() + DEADLINE
    while key not in w.watched_dirs:
        assert time.monotonic() < end, f"{key} never armed: {w.watched_dirs}"
        time.sleep(0.005)


MODES = [pytest.param(None, id="inotify"), pytest.param(0.05, id="polling")]


@pytest.fixture
def watch(tmp_path: Path) -> Iterator[Callable[..., tuple[WorkspaceWatcher, Collector]]]:
    started: list[WorkspaceWatcher] = []

    def start(
        root: Path, poll: float | None = None, **kw: object
    ) -> tuple[WorkspaceWatcher, Collector]:
        col = Collector()
        w = WorkspaceWatcher(root, col, poll_interval=poll, **kw)  # type: ignore[arg-type]
        w.start()
        started.append(w)
        return w, col

    yield start
    for w in started:
        w.stop()


@pytest.mark.parametrize("poll", MODES)
def test_new_run_and_replaced_run_record(tmp_path: Path, watch, poll) -> None:
    wf.init(tmp_path)
    _w, col = watch(tmp_path, poll)
    wf.write_run(tmp_path, "r1", [wf.row("A-1")])
    col.wait(lambda b: "r1" in b.runs, "new run r1")
    col.mark()
    wf.write_run(tmp_path, "r1", [wf.row("A-1"), wf.row("B-2")])
    col.wait(lambda b: "r1" in b.runs, "r1's run.json replaced")


@pytest.mark.parametrize("poll", MODES)
def test_watched_step_record_and_log(tmp_path: Path, watch, poll) -> None:
    wf.init(tmp_path)
    info = wf.running_info("Train-abc", wf.DEAD_OWNER)
    wf.write_step(tmp_path, info)
    log = wf.touch_log(tmp_path, "cache/Train-abc/logs/001.log", "start\n")
    w, col = watch(tmp_path, poll)
    w.watch_steps(["Train-abc"])
    w.watch_file(log)
    # The watch is armed by the worker: wait until it is.
    wait_armed(w, (str(tmp_path / "cache" / "Train-abc"), False))
    col.mark()
    wf.write_step(tmp_path, info)
    col.wait(lambda b: "Train-abc" in b.steps, "step.json replaced")
    col.mark()
    with open(log, "a") as f:
        f.write("epoch 1\n")
    col.wait(lambda b: log in b.files, "log append")
    # Rotation: renamed away and recreated.
    col.mark()
    os.rename(log, log.with_suffix(".log.1"))
    log.write_text("new\n")
    col.wait(lambda b: log in b.files, "log rotated")


def test_run_log_growth_is_not_a_run_change_in_our_workspaces(tmp_path: Path, watch) -> None:
    wf.init(tmp_path)
    wf.write_run(tmp_path, "r1", [wf.row("A-1")])
    log = wf.touch_log(tmp_path, "runs/r1/out.log")
    w, col = watch(tmp_path)
    w.watch_file(log)
    with open(log, "a") as f:
        f.write("hello\n")
    batch = col.wait(lambda b: log in b.files, "the run log's growth")
    assert "r1" not in batch.runs


def test_no_recursive_watch_on_cache(tmp_path: Path, watch) -> None:
    wf.init(tmp_path)
    (tmp_path / "cache" / "S-1" / "result" / "deep").mkdir(parents=True)
    w, _col = watch(tmp_path)
    w.watch_steps(["S-1", "Missing-2"])
    wait_armed(w, (str(tmp_path / "cache" / "S-1"), False))
    # One sync arms both, in path order: cache/S-1 may be seen armed a moment before runs/.
    wait_armed(w, (str(tmp_path / "runs"), True))
    dirs = w.watched_dirs
    assert (str(tmp_path / "cache"), False) in dirs
    assert not any(rec for d, rec in dirs if d.startswith(str(tmp_path / "cache")))
    assert not any("result" in d or "Missing-2" in d for d, _ in dirs)


def test_polling_does_not_walk_run_directories(tmp_path: Path, watch) -> None:
    wf.init(tmp_path)
    w, col = watch(tmp_path, 0.05)
    assert (str(tmp_path / "runs"), False) in w.watched_dirs
    assert not any(rec for _, rec in w.watched_dirs)
    wf.write_run(tmp_path, "r1", [wf.row("A-1")])
    col.wait(lambda b: "r1" in b.runs, "a new run while polling")


def test_debounce_collapses_a_burst(tmp_path: Path, watch) -> None:
    # A Tango 1.x workspace: there a run's out.log is part of its state, so writes are run changes.
    (tmp_path / "settings.json").write_text('{"version": 2}')
    (tmp_path / "runs" / "r1").mkdir(parents=True)
    w, col = watch(tmp_path, debounce=0.2)
    wait_armed(w, (str(tmp_path / "runs"), True))  # armed by the worker, after start() returns
    with open(tmp_path / "runs" / "r1" / "out.log", "a", buffering=1) as f:
        f.writelines(f"line {i}\n" for i in range(200))
    (tmp_path / "runs" / "zz-done").mkdir()
    col.wait(lambda b: "zz-done" in b.runs, "the end-of-burst marker")
    with_r1 = [b for b in col.batches if "r1" in b.runs]
    assert 1 <= len(with_r1) <= 5, col.batches


def test_root_created_late_then_deleted_then_recreated(tmp_path: Path, watch) -> None:
    root = tmp_path / "a" / "b" / "ws"
    w, col = watch(root, reconcile_interval=60)
    assert w.watched_dirs == [(str(tmp_path), False)]
    root.mkdir(parents=True)
    col.wait(lambda b: b.rescan, "rescan when the root appears")
    wf.init(root)
    wait_armed(w, (str(root / "runs"), True))
    col.mark()
    wf.write_run(root, "r1", [wf.row("A-1")])
    col.wait(lambda b: "r1" in b.runs, "a run in the late root")
    col.mark()
    shutil.rmtree(tmp_path / "a")
    col.wait(lambda b: b.rescan, "rescan when the root is deleted")
    end = time.monotonic() + DEADLINE
    while w.watched_dirs != [(str(tmp_path), False)]:
        assert time.monotonic() < end, w.watched_dirs
        time.sleep(0.01)
    col.mark()
    wf.init(root)
    wf.write_run(root, "r2", [wf.row("A-1")])
    col.wait(lambda b: "r2" in b.runs or b.rescan, "the root re-armed")


def test_step_dir_deleted_and_recreated_is_watched_again(tmp_path: Path, watch) -> None:
    wf.init(tmp_path)
    info = wf.running_info("S-1", wf.DEAD_OWNER)
    wf.write_step(tmp_path, info)
    w, col = watch(tmp_path, reconcile_interval=60)
    w.watch_steps(["S-1"])
    wait_armed(w, (str(tmp_path / "cache" / "S-1"), False))
    shutil.rmtree(tmp_path / "cache" / "S-1")
    wf.write_step(tmp_path, info)  # recreated at once, before any re-arm could run
    col.wait(lambda b: "S-1" in b.steps, "the step's directory events")
    wait_armed(w, (str(tmp_path / "cache" / "S-1"), False))
    col.mark()
    wf.write_step(tmp_path, info)
    col.wait(lambda b: "S-1" in b.steps, "a record change in the recreated directory")


def test_reconcile_catches_what_no_event_reported(tmp_path: Path, watch) -> None:
    # A polling observer that never polls in time: only the reconcile can see the change.
    wf.init(tmp_path)
    _w, col = watch(tmp_path, 3600.0, reconcile_interval=0.1)
    wf.write_run(tmp_path, "late", [wf.row("A-1")])
    col.wait(lambda b: "late" in b.runs, "the reconcile finding the new run")


def test_tango_database_write_is_an_all_steps_batch(tmp_path: Path, watch) -> None:
    (tmp_path / "settings.json").write_text('{"version": 2}')
    db = tmp_path / "stepinfo.sqlite"
    db.write_bytes(b"")
    _w, col = watch(tmp_path)
    with open(db, "ab") as f:
        f.write(b"x")
    col.wait(lambda b: b.all_steps, "all_steps after a database write")


def test_callback_error_does_not_kill_the_watcher(tmp_path: Path, watch) -> None:
    wf.init(tmp_path)
    col = Collector()
    calls = []

    def flaky(batch: ChangeBatch) -> None:
        calls.append(batch)
        if len(calls) == 1:
            raise RuntimeError("boom")
        col(batch)

    w = WorkspaceWatcher(tmp_path, flaky)
    w.start()
    try:
        (tmp_path / "runs" / "first").mkdir()
        end = time.monotonic() + DEADLINE
        while not calls:
            assert time.monotonic() < end
            time.sleep(0.01)
        (tmp_path / "runs" / "second").mkdir()
        col.wait(lambda b: "second" in b.runs, "a batch after the failing one")
    finally:
        w.stop()


@pytest.mark.parametrize("poll", MODES)
def test_stop_joins_everything(tmp_path: Path, poll) -> None:
    wf.init(tmp_path)
    before = set(threading.enumerate())
    col = Collector()
    w = WorkspaceWatcher(tmp_path, col, poll_interval=poll)
    w.start()
    w.watch_steps(["X-1"])
    (tmp_path / "runs" / "r").mkdir()
    col.wait(lambda b: "r" in b.runs, "a batch")
    w.stop()
    leftover = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    # watchdog's shared inotify reader thread is process-wide and outlives observers by design.
    assert [t for t in leftover if "InotifyFD" not in type(t).__name__] == []
    n = len(col.batches)
    (tmp_path / "runs" / "after-stop").mkdir()
    fmt.atomic_write_bytes(tmp_path / "runs" / "after-stop" / "run.json", b"{}", fsync=False)
    assert len(col.batches) == n


# ----- reconcile proportional to what can change -------------------------------------------------
def _rewrite_old(path: Path, extra: str) -> None:
    """Rewrite a run record in place with other content and an old mtime (a settled run)."""
    doc = path.read_text()
    path.write_text(doc[:-2] + f',"note":"{extra}"' + doc[-2:])
    os.utime(path, (1_000_000_000, 1_000_000_000))


def test_reconcile_stats_only_runs_that_may_change_until_a_full_pass(tmp_path: Path, watch) -> None:
    """Polling: run.json rewrites are seen by the reconcile alone. A settled run (finished, record
    long unchanged, as the reader found it) is left to the full pass; a running one is not."""
    from tango_tui.core._liveness import current_owner
    from tango_tui.core._model import StepState
    from tango_tui.monitor.source import open_source

    wf.init(tmp_path)
    done = wf.write_run(tmp_path, "done", [wf.row("A-1")], end=wf.T0, status="completed")
    wf.write_run(tmp_path, "live", [wf.row("B-1")], owner=current_owner(), status="running")
    os.utime(done, (1_000_000_000, 1_000_000_000))
    src = open_source(tmp_path)  # the reader tells the watcher (same root, same process)
    assert {r.name for r in src.list_runs()} == {"done", "live"}
    w, col = watch(tmp_path, poll=0.05, full_reconcile_interval=3600)
    wait_armed(w, (str(tmp_path / "runs"), False))
    col.mark()
    _rewrite_old(done, "first")  # written before live: any reconcile seeing live could see it
    rewritten = wf.write_run(
        tmp_path, "live", [wf.row("B-1", StepState.RUNNING)], owner=current_owner()
    )
    wf.bump_mtime(rewritten)
    col.wait(lambda b: "live" in b.runs, "the running run's rewrite")
    assert not any("done" in b.runs for b in col.batches), col.batches
    # A watcher whose full pass comes round soon does report the settled run's rewrite.
    w2, col2 = watch(tmp_path, poll=0.05, full_reconcile_interval=0.2)
    wait_armed(w2, (str(tmp_path / "runs"), False))
    col2.mark()
    _rewrite_old(done, "second")
    col2.wait(lambda b: "done" in b.runs, "the settled run's rewrite on a full pass")


@pytest.mark.parametrize("poll", MODES)
def test_a_write_right_after_watch_file_is_reported(tmp_path: Path, watch, poll) -> None:
    """A write right after watch_file() returns is reported (no reconcile to fall back on):
    the file's first stat is taken in the caller's thread, and no directory watch is needed."""
    wf.init(tmp_path)
    log = wf.touch_log(tmp_path, "cache/Step-1/logs/001.log", "first\n")
    w, col = watch(tmp_path, poll=poll, reconcile_interval=3600)
    wait_armed(w, (str(tmp_path), False))
    col.mark()
    w.watch_file(log)
    assert not any(d.startswith(str(tmp_path / "cache") + os.sep) for d, _ in w.watched_dirs)
    with open(log, "a") as f:
        f.write("second\n")
    col.wait(lambda b: log in b.files, "the write right after watch_file")
