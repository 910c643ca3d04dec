"""The newest runs, read before the others (``WorkspaceSource.newest_runs``), so the first screen
of a 10,000-run workspace does not wait for every record."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
import wsfactory as wf
from wsfactory import T0

from tango_tui.monitor import _run_list
from tango_tui.monitor.source import open_source


def _run(root: Path, name: str, start_s: int, written_s: int) -> None:
    """A completed run started ``start_s`` and last written ``written_s`` seconds after T0."""
    start = T0 + timedelta(seconds=start_s)
    path = wf.write_run(
        root, name, [wf.row(f"{name}-1")], start=start, end=start, status="completed"
    )
    t = (T0 + timedelta(seconds=written_s)).timestamp()
    os.utime(path, (t, t))


def test_the_newest_runs_are_what_the_full_list_begins_with(tmp_path: Path) -> None:
    wf.init(tmp_path)
    for i in range(8):
        _run(tmp_path, f"r{i}", 100 * i, 100 * i + 10)
    # Started first, finished last: the newest record, but not among the newest runs.
    _run(tmp_path, "long", 1, 5000)
    src = open_source(tmp_path)
    early = src.newest_runs(3)
    assert early is not None
    assert [r.name for r in early] == ["r7", "r6", "r5"]
    full = src.list_runs()
    assert [r.name for r in full[:3]] == ["r7", "r6", "r5"]
    assert len(full) == 9 and full[-2].name == "long"  # r0 started before it


def test_a_small_workspace_has_no_early_screen(tmp_path: Path) -> None:
    wf.init(tmp_path)
    for i in range(3):
        _run(tmp_path, f"r{i}", i, i)
    src = open_source(tmp_path)
    assert src.newest_runs(2, min_runs=4) is None
    assert [r.name for r in src.newest_runs(2, min_runs=3) or []] == ["r2", "r1"]


def test_no_early_screen_when_record_times_do_not_settle_the_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_run_list, "PREVIEW_MAX_READS", 3)
    wf.init(tmp_path)
    for i in range(6):
        _run(tmp_path, f"r{i}", i, 1000)  # all rewritten at once, long after they started
    src = open_source(tmp_path)
    assert src.newest_runs(2) is None  # three records read and any other could be newer
    assert [r.name for r in src.list_runs()[:2]] == ["r5", "r4"]
