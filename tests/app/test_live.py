"""End to end: another process writes a run while the dashboard is open; the app follows it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from app_support import cell, wait_for

from tango_tui.app import make_app
from tango_tui.app.screens.run import RunScreen
from tango_tui.app.screens.step import StepScreen
from tango_tui.app.widgets.log_lines import LogLines
from tango_tui.app.widgets.runs_table import RunsTable
from tango_tui.app.widgets.steps_table import StepsTable

WRITER = Path(__file__).with_name("live_writer.py")


@pytest.mark.parametrize("poll", [None, 0.1], ids=["inotify", "polling"])
async def test_app_follows_a_run_written_by_another_process(
    tmp_path: Path, poll: float | None
) -> None:
    root = tmp_path / "ws"  # does not exist yet: the app waits for it
    gate = tmp_path / "gate"
    app = make_app(str(root), poll_interval=poll)
    async with app.run_test(size=(160, 45)) as pilot:
        table = await wait_for(pilot, lambda: app.screen.loaded and app.screen.query_one(RunsTable))
        assert table.row_count == 0
        writer = subprocess.Popen([sys.executable, str(WRITER), str(root), str(gate)])  # noqa: ASYNC220
        try:
            await wait_for(pilot, lambda: "live" in table.rows, timeout=20, what="the new run")
            await wait_for(
                pilot, lambda: cell(table, "live", "status").endswith("running"), what="run running"
            )
            await pilot.press("enter")
            screen = await wait_for(
                pilot,
                lambda: isinstance(app.screen, RunScreen) and app.screen.detail and app.screen,
            )
            steps = screen.query_one(StepsTable)
            gate_uid = next(s.unique_id for s in screen.detail.steps if s.name == "gate")
            finish_uid = next(s.unique_id for s in screen.detail.steps if s.name == "finish")
            await wait_for(
                pilot,
                lambda: cell(steps, gate_uid, "state").endswith("running"),
                what="gate running",
            )
            assert steps.select_uid(gate_uid)
            await pilot.press("enter")
            step = await wait_for(
                pilot, lambda: isinstance(app.screen, StepScreen) and app.screen.info and app.screen
            )
            lines = step.query_one(LogLines)
            await wait_for(
                pilot,
                lambda: any("waiting for the gate" in ln.text for ln in lines.window),
                what="step log line",
            )
            gate.touch()
            await wait_for(
                pilot,
                lambda: any("gate opened" in ln.text for ln in lines.window),
                what="new log line followed",
            )
            await wait_for(
                pilot, lambda: str(step.info.state) == "completed", what="step record completed"
            )
            await pilot.press("escape")
            await wait_for(
                pilot,
                lambda: cell(steps, finish_uid, "state").endswith("completed"),
                what="finish completed",
            )
            assert steps.selected_uid == gate_uid  # the cursor stayed where the user put it
            await pilot.press("escape")
            await wait_for(
                pilot,
                lambda: cell(table, "live", "status").endswith("completed"),
                what="run completed",
            )
            assert writer.wait(timeout=20) == 0
        finally:
            gate.touch()
            if writer.poll() is None:
                writer.kill()
                writer.wait()
