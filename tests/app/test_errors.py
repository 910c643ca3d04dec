"""Broken records are shown where they occur and the app keeps running."""

from __future__ import annotations

from pathlib import Path

from app_support import wait_for
from test_run_view import SIZE, open_run, uid_of

from tango_tui.app import make_app
from tango_tui.app.screens.runs import RunsScreen
from tango_tui.app.screens.step import StepScreen
from tango_tui.app.widgets.runs_table import RunsTable
from tango_tui.app.widgets.step_details import StepDetails


async def test_garbage_run_record_is_reported_and_the_rest_still_shown(own_workspace: Path) -> None:
    (own_workspace / "runs" / "first" / "run.json").write_text("{ not json")
    app = make_app(str(own_workspace))
    async with app.run_test(size=SIZE) as pilot:
        table = await wait_for(pilot, lambda: app.screen.loaded and app.screen.query_one(RunsTable))
        assert "second" in table.rows
        row = table.rows_by_name.get("first")
        notice = str(app.screen.query_one("#runs-notice").render())
        # Either the row carries the problem or the notice names the skipped record.
        assert (row is not None and row.problem) or "run.json" in notice
        await pilot.press("enter")  # the app still works
        await wait_for(pilot, lambda: not isinstance(app.screen, RunsScreen), what="run opened")


async def test_garbage_step_record_is_reported_in_the_step_view(own_workspace: Path) -> None:
    app = make_app(str(own_workspace))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(pilot, app, "second")
        boom = uid_of(screen, "boom")
        (own_workspace / "cache" / boom / "step.json").write_bytes(b"\x00\xffgarbage")
        screen.table.select_uid(boom)
        await pilot.press("enter")
        step = await wait_for(pilot, lambda: isinstance(app.screen, StepScreen) and app.screen)
        details = step.query_one(StepDetails)
        await wait_for(
            pilot, lambda: "cannot read step" in str(details.content), what="error in place"
        )
        assert boom in str(details.content)
        await pilot.press("escape")
        assert app.screen is screen  # still running, still navigable


async def test_workspace_deleted_while_open_then_recreated(own_workspace: Path) -> None:
    import shutil

    app = make_app(str(own_workspace))
    async with app.run_test(size=SIZE) as pilot:
        table = await wait_for(pilot, lambda: app.screen.loaded and app.screen.query_one(RunsTable))
        assert table.row_count == 2
        backup = shutil.copytree(own_workspace, own_workspace.with_name("backup"), symlinks=True)
        shutil.rmtree(own_workspace)
        await wait_for(pilot, lambda: table.row_count == 0, what="runs gone")
        notice = app.screen.query_one("#runs-notice")
        assert "No runs yet" in str(notice.render())
        shutil.copytree(backup, own_workspace, symlinks=True)
        await wait_for(pilot, lambda: table.row_count == 2, what="runs back")
