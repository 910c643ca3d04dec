"""Snapshot tests: what each view looks like, as specs (accept with ``--snapshot-update``).

The workspace is written by the real library under a fixed path with a frozen clock
(``parallelism=1``), so every run of these tests renders the same screen.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from app_support import build_workspace

from tango_tui.app import make_app
from tango_tui.app.screens.log import LogScreen

SNAP_ROOT = Path("/tmp/tango-tui-snapshots")
SIZE = (160, 40)


@pytest.fixture
def snap_ws(frozen_clock: Callable[[], datetime]) -> Iterator[Path]:
    """The two-run workspace at a fixed path (it is on screen), written with the frozen clock."""
    root = SNAP_ROOT / "ws"
    shutil.rmtree(SNAP_ROOT, ignore_errors=True)
    SNAP_ROOT.mkdir(parents=True)
    yield build_workspace(root)
    shutil.rmtree(SNAP_ROOT, ignore_errors=True)


async def _loaded(pilot: Any) -> None:
    import time

    deadline = time.monotonic() + 10
    while not getattr(pilot.app.screen, "loaded", False):
        assert time.monotonic() < deadline, "runs never loaded"
        await pilot.pause(0.02)


async def _run_open(pilot: Any) -> None:
    import time

    await _loaded(pilot)
    await pilot.press("enter")
    deadline = time.monotonic() + 10
    while getattr(pilot.app.screen, "detail", None) is None:
        assert time.monotonic() < deadline, "run never loaded"
        await pilot.pause(0.02)
    await pilot.pause()


def test_runs_view_lists_runs_newest_first_with_counts(snap_compare: Any, snap_ws: Path) -> None:
    assert snap_compare(make_app(str(snap_ws)), terminal_size=SIZE, run_before=_loaded)


def test_run_view_cursor_on_the_failed_step_after_n(snap_compare: Any, snap_ws: Path) -> None:
    async def run_before(pilot: Any) -> None:
        await _run_open(pilot)
        await pilot.press("n")

    assert snap_compare(make_app(str(snap_ws)), terminal_size=SIZE, run_before=run_before)


def test_narrow_run_view_keeps_state_step_duration_and_why(
    snap_compare: Any, snap_ws: Path
) -> None:
    """At 100x30 the unique id and the tree give way; state, step, duration and why stay."""

    async def run_before(pilot: Any) -> None:
        await _run_open(pilot)
        await pilot.press("n")

    assert snap_compare(make_app(str(snap_ws)), terminal_size=(100, 30), run_before=run_before)


def test_narrow_runs_view_keeps_status_counts_and_duration(
    snap_compare: Any, snap_ws: Path
) -> None:
    assert snap_compare(make_app(str(snap_ws)), terminal_size=(100, 30), run_before=_loaded)


def test_help_screen_lists_the_bindings(snap_compare: Any, snap_ws: Path) -> None:
    async def run_before(pilot: Any) -> None:
        await _loaded(pilot)
        await pilot.press("question_mark")

    assert snap_compare(make_app(str(snap_ws)), terminal_size=SIZE, run_before=run_before)


def test_runs_view_filtered(snap_compare: Any, snap_ws: Path) -> None:
    async def run_before(pilot: Any) -> None:
        await _loaded(pilot)
        await pilot.press("slash", *"fail")

    assert snap_compare(make_app(str(snap_ws)), terminal_size=SIZE, run_before=run_before)


def test_log_pane_paused_counts_new_lines_and_marks_errors(
    snap_compare: Any, snap_ws: Path
) -> None:
    log = SNAP_ROOT / "train.log"
    lines = []
    for i in range(60):
        if i == 52:
            lines.append(f"ERROR epoch {i}: loss is nan, restoring the last checkpoint\n")
        elif i % 7 == 0:
            lines.append(f"WARNING epoch {i}: learning rate looks high\n")
        else:
            lines.append(f"epoch {i}: loss {1 / (i + 1):.3f}\n")
    log.write_text("".join(lines))

    async def run_before(pilot: Any) -> None:
        import time

        await _loaded(pilot)
        pilot.app.push_screen(LogScreen(log, title="train.log"))
        deadline = time.monotonic() + 10
        while (
            not pilot.app.screen.query("LogLines")
            or not pilot.app.screen.query_one("LogLines").window
        ):
            assert time.monotonic() < deadline, "log never shown"
            await pilot.pause(0.02)
        await pilot.press("up", "up", "up")
        assert not pilot.app.screen.query_one("LogLines").follow
        with log.open("a") as f:
            f.write("epoch 61: loss 0.016\nepoch 62: loss 0.016\n")
        lines = pilot.app.screen.query_one("LogLines")
        deadline = time.monotonic() + 10
        while lines.new_lines < 2:
            assert time.monotonic() < deadline, "new lines never counted"
            await pilot.pause(0.02)
        await pilot.pause()

    assert snap_compare(make_app(str(snap_ws)), terminal_size=SIZE, run_before=run_before)
