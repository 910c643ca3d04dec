"""Tailed files (stat on a short tick) and the event filters of the watches, against real
inotify and polling: no watch of a tango-tui workspace is sent a busy log's appends."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import wsfactory as wf
from test_watcher import MODES, Collector, wait_armed

from tango_tui.monitor.watcher import WorkspaceWatcher


@pytest.fixture
def watch() -> Iterator[Callable[..., tuple[WorkspaceWatcher, Collector]]]:
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


def _append(path: Path, text: str) -> None:
    with open(path, "a") as f:
        f.write(text)


def _marker_run(root: Path, col: Collector, name: str) -> None:
    """Make a run directory and wait until it is reported: everything written before it has
    been seen by then (events arrive in order; polling and the tick look at least as often)."""
    (root / "runs" / name).mkdir()
    col.wait(lambda b: name in b.runs, f"the marker run {name}")


@pytest.mark.parametrize("poll", MODES)
def test_tailed_file_append_truncate_rotate_vanish_reappear(tmp_path: Path, watch, poll) -> None:
    """A log outside every watched directory: each kind of change is reported by the tick."""
    ws = tmp_path / "ws"
    wf.init(ws)
    log = tmp_path / "elsewhere" / "train.log"
    log.parent.mkdir()
    log.write_text("one\ntwo\n")
    w, col = watch(ws, poll, reconcile_interval=3600)
    w.watch_file(log)
    assert not any(d.startswith(str(log.parent)) for d, _ in w.watched_dirs)
    steps: list[tuple[str, Callable[[], object]]] = [
        ("append", lambda: _append(log, "three\n")),
        ("truncate", lambda: os.truncate(log, 0)),
        ("rewrite to another size", lambda: log.write_text("x\n")),
        ("rotate", lambda: (log.rename(log.with_suffix(".log.1")), log.write_text("new\n"))),
        ("vanish", lambda: log.unlink()),
        ("reappear", lambda: log.write_text("back\n")),
    ]
    for what, change in steps:
        col.mark()
        change()
        col.wait(lambda b: log in b.files, what)


def test_unwatched_file_is_no_longer_reported(tmp_path: Path, watch) -> None:
    wf.init(tmp_path)
    log = wf.touch_log(tmp_path, "cache/S-1/logs/001.log", "a\n")
    w, col = watch(tmp_path)
    wait_armed(w, (str(tmp_path / "runs"), True))
    w.watch_file(log)
    col.mark()
    _append(log, "b\n")
    col.wait(lambda b: log in b.files, "an append while tailed")
    w.unwatch_file(log)
    col.mark()
    since = len(col.batches)
    _append(log, "c\n")
    # Two markers: the worker's tick runs between the append and the second one's delivery.
    _marker_run(tmp_path, col, "after-unwatch")
    col.mark()
    _marker_run(tmp_path, col, "after-unwatch-2")
    assert not any(log in b.files for b in col.batches[since:]), col.batches[since:]


def test_busy_run_logs_send_no_events_in_our_workspaces(tmp_path: Path, watch) -> None:
    """2,000 appends, one write each, alternating between a run's out.log and an uncacheable
    step's log (alternating, so the kernel cannot merge them): not one event reaches us, and no
    batch names the run or the step."""
    wf.init(tmp_path)
    wf.write_run(tmp_path, "r1", [wf.row("A-1")])
    out = wf.touch_log(tmp_path, "runs/r1/out.log")
    step_log = wf.touch_log(tmp_path, "runs/r1/steps/U-1/logs/001.log")
    w, col = watch(tmp_path, reconcile_interval=3600)
    wait_armed(w, (str(tmp_path / "runs"), True))
    assert all(not writes for _d, _r, writes in w.watches), w.watches
    _marker_run(tmp_path, col, "warm")
    col.mark()
    before = w.events_received
    fds = [os.open(p, os.O_WRONLY | os.O_APPEND) for p in (out, step_log)]
    try:
        for i in range(2000):
            os.write(fds[i % 2], b"line %d\n" % i)
    finally:
        for fd in fds:
            os.close(fd)
    _marker_run(tmp_path, col, "zz-done")
    assert w.events_received - before <= 3, w.events_received - before  # the marker's own
    assert not any("r1" in b.runs or "U-1" in b.steps for b in col.batches[col._mark :])


def test_only_tango1_watches_ask_for_in_place_writes(tmp_path: Path, watch) -> None:
    """Tango 1.x writes its step database and run logs in place: there the root, runs/ and step
    directories ask for writes (cache/ never); once the directory turns out to be a tango-tui
    workspace none does, and runs/ still reports a new run."""
    (tmp_path / "settings.json").write_text('{"version": 2}')
    (tmp_path / "runs").mkdir()
    (tmp_path / "cache" / "S-1").mkdir(parents=True)
    w, col = watch(tmp_path)
    w.watch_steps(["S-1"])
    wait_armed(w, (str(tmp_path / "cache" / "S-1"), False))
    wait_armed(w, (str(tmp_path / "runs"), True))
    assert (str(tmp_path), False, True) in w.watches
    assert (str(tmp_path / "runs"), True, True) in w.watches
    assert (str(tmp_path / "cache"), False, False) in w.watches
    assert (str(tmp_path / "cache" / "S-1"), False, True) in w.watches
    (tmp_path / "settings.json").unlink()
    wf.init(tmp_path)  # writes tango-tui.json: a rescan, and the watches are re-armed
    col.wait(lambda b: b.rescan, "the rescan after the marker appeared")
    _marker_run(tmp_path, col, "ours-now")
    assert all(not writes for _d, _r, writes in w.watches), w.watches
    col.mark()
    wf.write_run(tmp_path, "r2", [wf.row("A-1")])
    col.wait(lambda b: "r2" in b.runs, "a run written after the re-arm")
