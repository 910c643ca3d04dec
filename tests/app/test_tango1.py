"""The dashboard on a workspace written by the original ai2-tango 1.3.2 (the shared fixture)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from app_support import cell, checksums, wait_for
from test_run_view import SIZE, open_run, uid_of

from tango_tui.app import make_app
from tango_tui.app.screens.step import StepScreen
from tango_tui.app.widgets.log_lines import LogLines
from tango_tui.app.widgets.runs_table import RunsTable
from tango_tui.app.widgets.step_details import render_step

FIXTURE = Path(__file__).parent.parent / "fixtures" / "ai2-tango-1.3.2-workspace.tar.gz"


@pytest.fixture
def tango1_ws(tmp_path: Path) -> Path:
    with tarfile.open(FIXTURE) as tar:
        tar.extractall(tmp_path, filter="tar")
    return tmp_path / "ws"


async def test_tango1_runs_steps_and_logs(tango1_ws: Path) -> None:
    before = checksums(tango1_ws)
    app = make_app(str(tango1_ws))
    async with app.run_test(size=SIZE) as pilot:
        table = await wait_for(pilot, lambda: app.screen.loaded and app.screen.query_one(RunsTable))
        assert cell(table, "killed-run", "status").endswith("crashed")  # never "running"
        assert cell(table, "ok-run", "status").endswith("completed")
        screen = await open_run(pilot, app, "killed-run")
        broken = uid_of(screen, "broken")
        await pilot.press("n")
        assert screen.table.selected_uid in {broken, uid_of(screen, "slow")}
        screen.table.select_uid(broken)
        await pilot.press("enter")
        step = await wait_for(
            pilot, lambda: isinstance(app.screen, StepScreen) and app.screen.info and app.screen
        )
        from rich.console import Console

        console = Console(width=120, record=True, file=io.StringIO())
        console.print(render_step(step.info, None, step._run_lines))
        text = console.export_text()
        assert "IntentionalFailure" in text and "Traceback" in text
        assert "this step in the run log" in text
        import re

        assert re.search(r"attempt\s+—", text)  # Tango 1.x keeps no attempt count: not "0"
        lines = step.query_one(LogLines)
        await wait_for(pilot, lambda: lines.window, what="run log in the pane")
        assert lines.path == tango1_ws / "runs" / "killed-run" / "out.log"
        first = step._run_lines[0]
        await wait_for(
            pilot,
            lambda: lines.window[0].text == first and not lines.follow,
            what="the pane at the step's first line",
        )
    assert checksums(tango1_ws) == before
