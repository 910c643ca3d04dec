"""The recursive runs/ watch is armed after the reader's first listing, and nothing is lost."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import wsfactory as wf
from test_watcher import DEADLINE, Collector, wait_armed

from tango_tui.monitor import watcher as watcher_mod
from tango_tui.monitor.source import open_source
from tango_tui.monitor.watcher import WorkspaceWatcher


def test_runs_watch_waits_for_the_first_listing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watcher_mod, "FIRST_LISTING_WAIT", 3600.0)  # only the listing ends it
    wf.init(tmp_path)
    wf.write_run(tmp_path, "old", [wf.row("A-1")], status="completed", end=wf.T0)
    src = open_source(tmp_path)  # a reader of the same root, in this process
    col = Collector()
    w = WorkspaceWatcher(tmp_path, col)
    w.start()
    try:
        runs = (str(tmp_path / "runs"), True)
        root = (str(tmp_path), False)
        wait_armed(w, root)  # the worker is up; runs/ waits for the listing
        assert runs not in w.watched_dirs
        # A run written before the listing ends: the catch-up after arming reports it.
        wf.write_run(tmp_path, "new", [wf.row("B-1")], status="completed", end=wf.T0)
        assert runs not in w.watched_dirs
        assert sorted(r.name for r in src.list_runs()) == ["new", "old"]
        wait_armed(w, runs)
        col.wait(lambda b: "new" in b.runs, "the run written while the watch was deferred")
        # Armed: a later run is an ordinary event.
        col.mark()
        wf.write_run(tmp_path, "later", [wf.row("C-1")], status="completed", end=wf.T0)
        col.wait(lambda b: "later" in b.runs, "a run written after arming")
    finally:
        w.stop()


def test_stop_while_waiting_for_the_listing_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watcher_mod, "FIRST_LISTING_WAIT", 3600.0)
    wf.init(tmp_path)
    src = open_source(tmp_path)
    w = WorkspaceWatcher(tmp_path, Collector())
    w.start()
    wait_armed(w, (str(tmp_path), False))
    # stop() joins the worker, which is waiting for a listing that never comes.
    stopper = threading.Thread(target=w.stop)
    stopper.start()
    stopper.join(DEADLINE)
    assert not stopper.is_alive(), "stop() hung while the watcher waited for the listing"
    assert w._thread is not None and not w._thread.is_alive()
    assert src.kind == "tango-tui"


def test_the_catch_up_compares_with_what_the_reader_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """start() stats no run record when a reader will list them: the catch-up after arming
    reports exactly the runs that differ from what the reader read, or that it never read."""
    monkeypatch.setattr(watcher_mod, "FIRST_LISTING_WAIT", 3600.0)
    wf.init(tmp_path)
    for name in ("same", "rewritten"):
        wf.write_run(tmp_path, name, [wf.row("A-1")], status="running")
    (tmp_path / "runs" / "norecord").mkdir()  # listed, but no record the reader could read
    src = open_source(tmp_path)
    assert {r.name for r in src.list_runs()} >= {"same", "rewritten"}
    # Rewritten after the reader read it and before the watcher exists: nothing else says so.
    wf.write_run(tmp_path, "rewritten", [wf.row("A-1")], status="completed", end=wf.T0)
    col = Collector()
    w = WorkspaceWatcher(tmp_path, col)
    w.start()
    try:
        wait_armed(w, (str(tmp_path / "runs"), True))
        batch = col.wait(lambda b: "rewritten" in b.runs, "the run rewritten after the listing")
        assert "norecord" in batch.runs
        assert "same" not in batch.runs, batch  # read by the reader and unchanged since
    finally:
        w.stop()
