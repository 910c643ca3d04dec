"""The runs view: listing, order, counts, filter, sort, opening a run, help, quit."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_support import Echo, cell, row_keys, wait_for

from tango_tui.app import make_app
from tango_tui.app.screens.help import HelpScreen
from tango_tui.app.screens.run import RunScreen
from tango_tui.app.screens.runs import RunsScreen
from tango_tui.app.widgets.runs_table import RunsTable

SIZE = (160, 45)


async def test_lists_runs_newest_first_with_status_and_counts(workspace: Path) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        table = await wait_for(pilot, lambda: app.screen.loaded and app.screen.query_one(RunsTable))
        assert row_keys(table) == ["second", "first"]
        assert cell(table, "first", "status").endswith("completed")
        assert cell(table, "second", "status").endswith("failed")
        # first: numbers, squares, total all completed
        assert cell(table, "first", "counts") == "✔3"
        counts = cell(table, "second", "counts")
        assert "✘1" in counts and "✔3" in counts  # boom failed; three cached/completed
        assert cell(table, "first", "n") == "3"
        assert cell(table, "first", "duration")  # ended runs show their duration


async def test_j_k_move_and_enter_opens_the_run(workspace: Path) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        table = await wait_for(pilot, lambda: app.screen.loaded and app.screen.query_one(RunsTable))
        assert table.selected_run == "second"
        await pilot.press("j")
        assert table.selected_run == "first"
        await pilot.press("k")
        assert table.selected_run == "second"
        await pilot.press("down", "enter")
        screen = await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen)
        assert screen.run_name == "first"
        await pilot.press("escape")
        assert isinstance(app.screen, RunsScreen)
        assert table.selected_run == "first"  # selection kept


async def test_mouse_click_on_a_row_opens_it(workspace: Path) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        table = await wait_for(pilot, lambda: app.screen.loaded and app.screen.query_one(RunsTable))
        # Row 0 is the header; rows start one line below it. A click selects, a second opens.
        await pilot.click(RunsTable, offset=(3, 2))
        assert table.selected_run == "first"
        await pilot.click(RunsTable, offset=(3, 2))
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen), what="run screen")


async def test_filter_with_slash(workspace: Path) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        table = await wait_for(pilot, lambda: app.screen.loaded and app.screen.query_one(RunsTable))
        await pilot.press("slash", "f", "i", "r")
        assert row_keys(table) == ["first"]
        await pilot.press("enter")
        assert table.has_focus and row_keys(table) == ["first"]
        await pilot.press("slash", "escape")  # escape clears
        assert row_keys(table) == ["second", "first"]
        await pilot.press("slash", *"failed", "enter")  # status words match too
        assert row_keys(table) == ["second"]


async def test_sort_by_key_and_header_click(workspace: Path) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        table = await wait_for(pilot, lambda: app.screen.loaded and app.screen.query_one(RunsTable))
        await pilot.press("s")  # start -> status (ascending)
        assert table.sort_column == "status"
        assert row_keys(table) == ["first", "second"]  # completed < failed
        await pilot.click(RunsTable, offset=(2, 0))  # the "Run" header: by name
        assert table.sort_column == "name"
        assert row_keys(table) == ["first", "second"]
        await pilot.click(RunsTable, offset=(2, 0))  # again: reversed
        assert row_keys(table) == ["second", "first"]
        assert table.selected_run == "second" or table.selected_run == "first"


async def test_help_lists_every_binding_and_closes(workspace: Path) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.screen.loaded)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.table().columns[1]._cells)
        for doc in (
            "Open the run under the cursor",
            "Filter runs",
            "Jump to the next failed",
            "Follow the tail",
            "Search the log",
            "Leave the dashboard",
            "Switch the log pane",
            "Command palette",
            "Go to the last row",
            "Wrap long lines",
            "Scroll right",
            "Open the dependency under the cursor",
            "Open the step under the cursor",
        ):
            assert doc in text, doc
        await pilot.press("escape")
        assert isinstance(app.screen, RunsScreen)


async def test_r_reloads(workspace: Path) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.screen.loaded)
        loads = app.screen.loads
        await pilot.press("r")
        await wait_for(pilot, lambda: app.screen.loads > loads, what="a reload")


async def test_q_quits(workspace: Path) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.screen.loaded)
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, what="app exit")


async def test_empty_directory_waits_for_runs(tmp_path: Path) -> None:
    app = make_app(str(tmp_path / "not-yet"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.screen.loaded)
        notice = app.screen.query_one("#runs-notice")
        assert "No runs yet" in str(notice.render())


async def test_theme_can_be_picked(workspace: Path) -> None:
    app = make_app(str(workspace), theme="nord")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.screen.loaded)
        assert app.theme == "nord"


def test_unknown_theme_is_refused(workspace: Path) -> None:
    import pytest

    with pytest.raises(ValueError, match="unknown theme 'nope'"):
        make_app(str(workspace), theme="nope")


async def test_command_palette_opens(workspace: Path) -> None:
    from textual.command import CommandPalette

    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.screen.loaded)
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen), what="back")


async def test_a_big_workspace_shows_its_newest_runs_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tango_tui import LocalWorkspace
    from tango_tui.app.screens import runs as runs_mod

    # "Big" from 4 runs on: the two newest come first, then the full list.
    monkeypatch.setattr(runs_mod, "PREVIEW_MIN_RUNS", 4)
    monkeypatch.setattr(runs_mod, "PREVIEW_ROWS", 2)
    ws = LocalWorkspace(tmp_path)
    names = [f"run{i}" for i in range(5)]
    for name in names:
        ws.register_run([Echo(x=name, step_name="s")], name=name)
    app = make_app(str(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        table = await wait_for(pilot, lambda: app.screen.loaded and app.screen.query_one(RunsTable))
        assert app.screen.shown_early == 2
        assert row_keys(table) == names[::-1]  # the full list, newest first
        assert table.selected_run == "run4"
        assert app.screen.loads == 1  # the early rows are not a list of their own


async def test_a_small_workspace_is_shown_in_one_go(workspace: Path) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.screen.loaded)
        assert app.screen.shown_early == 0
