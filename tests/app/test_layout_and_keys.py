"""Narrow terminals, step order, home/end in tables, sort markers (defects found driving the app)."""

from __future__ import annotations

from pathlib import Path

from app_support import cell, row_keys, wait_for
from test_run_view import open_run, uid_of

from tango_tui.app import make_app
from tango_tui.app.widgets.dep_tree import DepTree
from tango_tui.app.widgets.runs_table import RunsTable
from tango_tui.app.widgets.steps_table import StepsTable

NARROW = (100, 30)


def _visible(table: object) -> list[str]:
    """Keys of the columns that lie inside the table's width."""
    out, x = [], 0
    for key, col in table.columns.items():  # type: ignore[attr-defined]
        x += col.get_render_width(table)
        if x <= table.size.width:  # type: ignore[attr-defined]
            out.append(str(key.value))
    return out


async def test_narrow_terminal_keeps_the_important_columns_on_screen(workspace: Path) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=NARROW) as pilot:
        runs = await wait_for(pilot, lambda: app.screen.loaded and app.screen.query_one(RunsTable))
        shown = _visible(runs)
        assert {"name", "status", "duration", "counts"} <= set(shown), shown
        assert shown == list(runs.shown_keys)  # nothing cut off at the right edge
        screen = await open_run(pilot, app, "second")
        table = screen.query_one(StepsTable)
        assert not screen.query_one(DepTree).display  # the tree is hidden by default here
        shown = _visible(table)
        assert {"state", "name", "duration", "why"} <= set(shown), shown
        assert "uid" not in table.columns  # the unique id gave way first
        assert shown == list(table.shown_keys)
        assert cell(table, uid_of(screen, "after_boom"), "why") == "dependency failed: boom"
        await pilot.press("t")  # the tree can still be shown
        assert screen.query_one(DepTree).display


async def test_wide_terminal_shows_unique_ids_and_the_tree(workspace: Path) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await open_run(pilot, app, "second")
        assert screen.query_one(DepTree).display
        assert "uid" in screen.query_one(StepsTable).columns


async def test_resizing_rebuilds_columns_and_keeps_the_cursor(workspace: Path) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await open_run(pilot, app, "second")
        table = screen.query_one(StepsTable)
        boom = uid_of(screen, "boom")
        table.select_uid(boom)
        await pilot.resize_terminal(90, 30)
        await wait_for(pilot, lambda: "uid" not in table.columns, what="narrow columns")
        assert not screen.query_one(DepTree).display  # the tree gave way too
        assert table.selected_uid == boom
        assert table.row_count == len(screen.detail.steps)


async def test_steps_are_listed_in_dependency_order(workspace: Path) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await open_run(pilot, app, "second")
        table = screen.query_one(StepsTable)
        order = [screen.detail.step(u).name for u in row_keys(table)]
        for before, after in [
            ("numbers", "squares"),
            ("squares", "boom"),
            ("squares", "total"),
            ("boom", "after_boom"),
        ]:
            assert order.index(before) < order.index(after), order


async def test_home_and_end_move_to_the_first_and_last_row(workspace: Path) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=(160, 45)) as pilot:
        runs = await wait_for(pilot, lambda: app.screen.loaded and app.screen.query_one(RunsTable))
        await pilot.press("end")
        assert runs.cursor_row == runs.row_count - 1
        await pilot.press("home")
        assert runs.cursor_row == 0
        screen = await open_run(pilot, app, "second")
        table = screen.query_one(StepsTable)
        await pilot.press("end")
        assert table.cursor_row == table.row_count - 1
        assert table.scroll_x == 0  # not sideways
        await pilot.press("home")
        assert table.cursor_row == 0


async def test_sorted_column_is_marked_and_the_toast_names_its_header(workspace: Path) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=(160, 45)) as pilot:
        runs = await wait_for(pilot, lambda: app.screen.loaded and app.screen.query_one(RunsTable))
        assert runs.columns["start"].label.plain == "Started ▼"  # type: ignore[index]
        for _ in range(5):  # start -> status -> counts -> n -> duration -> problem
            await pilot.press("s")
        assert runs.sort_column == "problem"
        assert runs.columns["problem"].label.plain == "Notes ▲"  # type: ignore[index]
        assert runs.columns["start"].label.plain == "Started"  # type: ignore[index]
        messages = [n.message for n in app._notifications]
        assert messages[-1] == "sorted by Notes (ascending)", messages
        assert not any("problem" in m for m in messages)
