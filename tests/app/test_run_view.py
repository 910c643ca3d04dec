"""The run view: steps with state, reason, tree, next-failed, opening a step and the run log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app_support import cell, wait_for

from tango_tui.app import make_app
from tango_tui.app.screens.log import LogScreen
from tango_tui.app.screens.run import RunScreen
from tango_tui.app.screens.runs import RunsScreen
from tango_tui.app.screens.step import StepScreen
from tango_tui.app.widgets.dep_tree import DepTree
from tango_tui.app.widgets.runs_table import RunsTable
from tango_tui.app.widgets.steps_table import StepsTable

SIZE = (160, 45)


async def open_run(pilot: Any, app: Any, name: str) -> RunScreen:
    """From the runs view, open run ``name`` with the keyboard and wait for its steps."""
    table = await wait_for(pilot, lambda: app.screen.loaded and app.screen.query_one(RunsTable))
    while table.selected_run != name:
        await pilot.press("j")
    await pilot.press("enter")
    return await wait_for(
        pilot,
        lambda: isinstance(app.screen, RunScreen) and app.screen.detail and app.screen,
        what=f"run {name}",
    )


def uid_of(screen: RunScreen, name: str) -> str:
    return next(s.unique_id for s in screen.detail.steps if s.name == name)


async def test_steps_show_state_reason_and_unique_id(workspace: Path) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(pilot, app, "second")
        table = screen.query_one(StepsTable)
        names = {s.name for s in screen.detail.steps}
        assert {"numbers", "squares", "total", "boom", "after_boom"} <= names
        boom, after, total = (uid_of(screen, n) for n in ("boom", "after_boom", "total"))
        assert cell(table, boom, "state") == "✘ failed"
        assert "ValueError: boom" in cell(table, boom, "why")
        assert cell(table, after, "why") == "dependency failed: boom"
        assert cell(table, total, "why") == "cached"
        assert cell(table, total, "uid").startswith("Total-001-")
        assert cell(table, boom, "start")  # started steps show their start time


async def test_n_jumps_to_the_failed_step_and_enter_opens_it(workspace: Path) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(pilot, app, "second")
        table = screen.query_one(StepsTable)
        boom = uid_of(screen, "boom")
        await pilot.press("n")
        assert table.selected_uid == boom
        await pilot.press("n")  # only one failure: wraps to itself
        assert table.selected_uid == boom
        await pilot.press("k", "N")
        assert table.selected_uid == boom
        await pilot.press("enter")
        step = await wait_for(pilot, lambda: isinstance(app.screen, StepScreen) and app.screen)
        assert step.uid == boom
        await pilot.press("escape")
        assert app.screen is screen
        await pilot.press("escape")
        assert isinstance(app.screen, RunsScreen)


async def test_n_without_failures_says_so(workspace: Path) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(pilot, app, "first")
        before = screen.query_one(StepsTable).selected_uid
        await pilot.press("n")
        assert screen.query_one(StepsTable).selected_uid == before
        assert any("no failed step" in str(n.message) for n in app._notifications)


async def test_enter_in_the_dependency_tree_opens_the_step(workspace: Path) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(pilot, app, "second")
        tree = screen.query_one(DepTree)
        table = screen.query_one(StepsTable)
        targets = [str(node.label.plain) for node in tree.root.children]
        assert any(label.endswith("total") for label in targets)
        assert any(label.endswith("after_boom") for label in targets)
        tree.focus()
        await pilot.pause()
        # after_boom -> boom -> squares: pick boom.
        after_node = next(n for n in tree.root.children if n.label.plain.endswith("after_boom"))
        # Few targets: each is expanded at once, its dependencies filled in on expansion.
        await wait_for(
            pilot, lambda: after_node.is_expanded and after_node.children, what="expanded children"
        )
        boom_node = after_node.children[0]
        assert boom_node.label.plain.endswith("boom")
        tree.move_cursor(boom_node)
        await pilot.press("enter")
        step = await wait_for(pilot, lambda: isinstance(app.screen, StepScreen) and app.screen)
        assert step.uid == uid_of(screen, "boom")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen, what="back on the run")
        assert table.selected_uid == uid_of(screen, "boom")  # the table's cursor followed
        assert tree.has_focus
        await pilot.press("tab")  # focus moves between the tree and the table
        assert table.has_focus
        await pilot.press("shift+tab")
        assert tree.has_focus
        await pilot.press("t")
        assert not tree.display
        await pilot.press("t")
        assert tree.display


async def test_l_opens_the_run_log(workspace: Path) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        await open_run(pilot, app, "second")
        await pilot.press("l")
        log = await wait_for(pilot, lambda: isinstance(app.screen, LogScreen) and app.screen)
        assert log.path == workspace / "runs" / "second" / "out.log"
        await pilot.press("escape")
        assert isinstance(app.screen, RunScreen)


async def test_run_deleted_while_shown_is_reported_in_place(own_workspace: Path) -> None:
    import shutil

    workspace = own_workspace
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(pilot, app, "first")
        rows_before = screen.query_one(StepsTable).row_count
        shutil.rmtree(workspace / "runs" / "first")
        await wait_for(pilot, lambda: screen.error, what="error notice")
        notice = screen.query_one("#run-notice")
        assert notice.display and "first" in str(notice.render())
        assert screen.query_one(StepsTable).row_count == rows_before  # last good view kept
        await pilot.press("escape")
        table = app.screen.query_one(RunsTable)
        await wait_for(pilot, lambda: "first" not in table.rows, what="run gone from list")


async def test_reload_updates_rows_in_place_keeping_cursor_and_scroll(wide_workspace: Path) -> None:
    app = make_app(str(wide_workspace))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(pilot, app, "wide")
        table = screen.table
        assert table.row_count == 202
        reasons = {cell(table, s.unique_id, "why") for s in screen.detail.steps}
        assert "dependency failed: boom" in reasons
        table.move_cursor(row=150, animate=False)
        await pilot.pause()
        scroll, rows = table.scroll_y, dict(table.rows)
        assert scroll > 0
        loads = screen.loads
        screen.load()
        await wait_for(pilot, lambda: screen.loads > loads, what="a reload")
        assert table.cursor_row == 150 and table.scroll_y == scroll
        # The very same row objects: nothing was removed and added again.
        assert all(table.rows[key] is row for key, row in rows.items())
        await pilot.press("n")  # from row 150, wraps to the one failure
        assert table.selected_uid == uid_of(screen, "boom")
