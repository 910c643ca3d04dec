"""The runs table puts a new run at its sorted place without a re-sort; the cursor keeps its run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from app_support import cell, row_keys
from textual.app import App, ComposeResult

from tango_tui.app.widgets.runs_table import RunsTable
from tango_tui.core import RunStatus
from tango_tui.monitor.source import RunRow

BASE = datetime(2026, 1, 1, tzinfo=UTC)


def _row(i: int, status: RunStatus = RunStatus.COMPLETED) -> RunRow:
    start = BASE + timedelta(minutes=i)
    end = None if status is RunStatus.RUNNING else start + timedelta(seconds=30)
    return RunRow(
        name=f"run-{i:03d}",
        start_date=start,
        end_date=end,
        status=status,
        counts={},
        n_steps=3,
        log_path=None,
    )


class _TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield RunsTable()


def _newest_first(rows: list[RunRow]) -> list[RunRow]:
    return sorted(rows, key=lambda r: r.start_date, reverse=True)


async def _filled(pilot: Any, table: RunsTable, rows: list[RunRow]) -> None:
    table.set_rows(rows)
    await pilot.pause()


async def test_new_run_goes_to_the_top_and_the_cursor_stays_on_its_run() -> None:
    app = _TableApp()
    async with app.run_test(size=(160, 30)) as pilot:
        table = app.query_one(RunsTable)
        rows = _newest_first([_row(i) for i in range(30)])
        await _filled(pilot, table, rows)
        table.move_cursor(row=4, animate=False)
        await pilot.pause()
        assert table.selected_run == "run-025"

        resorts: list[Any] = []
        table._resort = lambda *a, **k: resorts.append(a)  # type: ignore[method-assign]
        table.set_rows([_row(30, RunStatus.RUNNING), *rows])
        await pilot.pause()

        assert row_keys(table)[:2] == ["run-030", "run-029"]
        assert row_keys(table) == [r.name for r in _newest_first([_row(30), *rows])]
        assert table.selected_run == "run-025"
        assert table.cursor_row == 5
        assert cell(table, "run-030", "status").endswith("running")
        assert resorts == []  # put in place, not sorted again
        # What is painted shows it too, not only the table's model (line 0 is the header).
        assert "run-030" in table.render_line(1).text
        assert "run-025" in table.render_line(6).text


async def test_new_run_lands_at_its_place_in_another_order() -> None:
    app = _TableApp()
    async with app.run_test(size=(160, 30)) as pilot:
        table = app.query_one(RunsTable)
        rows = [_row(i) for i in range(0, 20, 2)]
        await _filled(pilot, table, rows)
        table.sort_by("name", reverse=False)
        table.move_cursor(row=row_keys(table).index("run-010"), animate=False)
        await pilot.pause()

        table.set_rows([*rows, _row(7), _row(99)])  # between run-006 and run-008, and last
        await pilot.pause()

        assert row_keys(table) == sorted(r.name for r in [*rows, _row(7), _row(99)])
        assert table.selected_run == "run-010"


async def test_unchanged_list_draws_no_row_again_and_a_change_in_place_is_seen() -> None:
    app = _TableApp()
    async with app.run_test(size=(160, 30)) as pilot:
        table = app.query_one(RunsTable)
        rows = _newest_first([_row(i) for i in range(5)])
        await _filled(pilot, table, rows)
        redrawn: list[Any] = []
        original = table.refresh_row
        table.refresh_row = lambda key: (redrawn.append(key), original(key))  # type: ignore[method-assign]
        table.set_rows(rows)
        assert redrawn == []
        rows[2].status = RunStatus.CRASHED  # the source may change a row in place
        table.set_rows(rows)
        assert redrawn == [rows[2].name]
        assert cell(table, rows[2].name, "status").endswith("crashed")
        await pilot.pause()
        assert "crashed" in table.render_line(3).text  # drawn again, not a stale line


async def test_long_list_goes_in_at_once_and_the_next_list_adds_no_twin() -> None:
    app = _TableApp()
    async with app.run_test(size=(160, 30)) as pilot:
        table = app.query_one(RunsTable)
        rows = _newest_first([_row(i) for i in range(600)])
        table.set_rows(rows)
        assert table.row_count == 600
        table.set_rows([_row(600), *rows])
        await pilot.pause()
        assert row_keys(table) == [r.name for r in _newest_first([_row(600), *rows])]
        table.move_cursor(row=600, animate=False)
        assert table.selected_run == "run-000"
        await pilot.pause()
        assert "run-000" in table.render_line(table.size.height - 1).text  # scrolled to it


async def test_a_list_naming_other_runs_still_redraws_a_running_run_found_dead() -> None:
    app = _TableApp()
    async with app.run_test(size=(160, 30)) as pilot:
        table = app.query_one(RunsTable)
        rows = _newest_first(
            [_row(i, RunStatus.RUNNING if i == 3 else RunStatus.COMPLETED) for i in range(5)]
        )
        await _filled(pilot, table, rows)
        assert "running" in table.render_line(2).text  # run-003, second row
        rows[1].status = RunStatus.CRASHED  # in place, as the source does for a dead owner
        table.set_rows(rows, changed={"run-000"})  # the list the source made for another run
        await pilot.pause()
        assert "crashed" in table.render_line(2).text
        assert table.running_names == set()


async def test_keys_and_wheel_move_through_a_long_list_and_draw_what_they_reach() -> None:
    from textual import events

    app = _TableApp()
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(RunsTable)
        table.focus()
        rows = _newest_first([_row(i) for i in range(500)])
        await _filled(pilot, table, rows)
        await pilot.press("G")
        assert table.selected_run == "run-000"
        assert "run-000" in table.render_line(table.size.height - 1).text
        await pilot.press("g")
        assert table.selected_run == "run-499" and table.scroll_y == 0
        await pilot.press("pagedown")
        assert table.cursor_row == table.size.height - 1
        await pilot._post_mouse_events([events.MouseScrollDown], RunsTable, offset=(5, 5), times=3)
        await pilot.pause()
        top = int(table.scroll_y)
        assert top > 0 and table.key_at(top) in table.render_line(1).text
        assert "Run" in table.render_line(0).text  # the header stays on top


async def test_the_row_under_the_pointer_is_highlighted_until_a_key_moves_the_cursor() -> None:
    app = _TableApp()
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(RunsTable)
        table.focus()
        await _filled(pilot, table, _newest_first([_row(i) for i in range(20)]))

        def background(y: int) -> object:
            return next(iter(table.render_line(y))).style.bgcolor  # type: ignore[union-attr]

        plain = background(3)  # row 2: even, not the cursor
        await pilot.hover(RunsTable, offset=(3, 3))
        assert table.hover_row == 2
        assert background(3) != plain and background(5) == plain  # row 4 is even too
        await pilot.press("down")
        assert table.hover_row is None and background(3) == plain


def _screen_line_of(table: RunsTable, name: str) -> int:
    """The screen line (1 = first row under the header) that draws run ``name``."""
    return next(y for y in range(1, table.size.height) if name in table.render_line(y).text)


async def test_runs_arriving_above_a_scrolled_view_leave_the_cursor_row_where_it_is() -> None:
    app = _TableApp()
    async with app.run_test(size=(160, 30)) as pilot:
        table = app.query_one(RunsTable)
        rows = _newest_first([_row(i) for i in range(100)])
        await _filled(pilot, table, rows)
        table.move_cursor(row=60, animate=False)  # scrolls: the cursor row is the last line
        await pilot.pause()
        line = _screen_line_of(table, "run-039")
        table.set_rows(_newest_first([*rows, *(_row(i) for i in range(100, 103))]))
        await pilot.pause()
        assert table.selected_run == "run-039"
        assert _screen_line_of(table, "run-039") == line  # nothing moved under the reader


async def test_many_runs_arriving_above_never_push_the_cursor_off_screen() -> None:
    app = _TableApp()
    async with app.run_test(size=(160, 30)) as pilot:
        table = app.query_one(RunsTable)
        rows = _newest_first([_row(i) for i in range(50)])
        await _filled(pilot, table, rows)
        table.move_cursor(row=20, animate=False)  # view at the top, cursor on line 21
        await pilot.pause()
        table.set_rows(_newest_first([*rows, *(_row(i) for i in range(50, 150))]))
        await pilot.pause()
        assert table.selected_run == "run-029"
        assert _screen_line_of(table, "run-029") == 21


async def test_at_the_top_new_runs_show_and_the_cursor_keeps_its_run() -> None:
    app = _TableApp()
    async with app.run_test(size=(160, 30)) as pilot:
        table = app.query_one(RunsTable)
        rows = _newest_first([_row(i) for i in range(50)])
        await _filled(pilot, table, rows)
        table.move_cursor(row=2, animate=False)
        await pilot.pause()
        table.set_rows(_newest_first([*rows, _row(50), _row(51)]))
        await pilot.pause()
        assert "run-051" in table.render_line(1).text  # the newest run is in view
        assert table.selected_run == "run-047" and _screen_line_of(table, "run-047") == 5


async def test_a_filter_that_hides_the_selected_run_puts_the_cursor_on_the_first_match() -> None:
    app = _TableApp()
    async with app.run_test(size=(160, 30)) as pilot:
        table = app.query_one(RunsTable)
        rows = _newest_first(
            [_row(i, RunStatus.FAILED if i % 5 == 0 else RunStatus.COMPLETED) for i in range(40)]
        )
        await _filled(pilot, table, rows)
        table.move_cursor(row=3, animate=False)  # run-036, completed
        await pilot.pause()
        table.set_filter("failed")
        await pilot.pause()
        assert table.selected_run == "run-035"  # the first failed run, not the 4th


async def test_shift_s_reverses_the_sort_and_a_narrow_header_keeps_its_marker() -> None:
    app = _TableApp()
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(RunsTable)
        await _filled(pilot, table, _newest_first([_row(i) for i in range(5)]))
        table.focus()
        await pilot.press("S")  # newest first -> oldest first
        assert row_keys(table)[0] == "run-000"
        assert table.render_line(0).text.count("▲") == 1
        await pilot.press("S")
        assert row_keys(table)[0] == "run-004"
        for _ in range(len(table.shown_keys)):  # every shown column in turn
            await pilot.press("s")
            header = table.render_line(0).text
            assert header.count("▲") + header.count("▼") == 1, (table.sort_column, header)
