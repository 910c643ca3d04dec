"""The log pane's status line says what is true: stopped counts, truncation while paused, a
vanished file, a wheel turn that moved nothing, and it fits the pane's width."""

from __future__ import annotations

import os
from pathlib import Path

from app_support import wait_for
from test_log_reading import status_lines
from test_log_view import open_log, texts, write
from textual import events

from tango_tui.app import make_app
from tango_tui.app.widgets.log_view import LogView

SIZE = (100, 30)


async def test_escape_on_a_match_count_says_it_stopped_and_keeps_the_match(
    workspace: Path, tmp_path: Path
) -> None:
    log = tmp_path / "m.log"
    write(log, [("needle" if i % 50 == 7 else "hay") + f" {i}" for i in range(5000)], "w")
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        lines = await open_log(pilot, app, log)
        view = app.screen.query_one(LogView)
        logfile = lines.logfile
        assert logfile is not None
        # Hold the file's lock (re-entrant: the app's own thread still reads) so the search
        # and count threads wait; the search's answer is then given from this thread.
        logfile._lock.acquire()
        try:
            await pilot.press("g", "slash", *"needle", "enter")
            assert "searching" in view.search_status
            found = logfile.search("needle", 0)
            view.post_message(LogView.SearchDone(found, "needle"))
            await wait_for(pilot, lambda: view.match is not None, what="the first match")
            assert "counting matches" in view.search_status  # the count waits for the lock
            await pilot.press("escape")
        finally:
            logfile._lock.release()
        # A match is on screen: there is at least one, and the status says the count stopped.
        await wait_for(pilot, lambda: "(count stopped)" in view.search_status, what="count stopped")
        await wait_for(pilot, lambda: not view.workers, what="the workers done")
        assert "of 0+" not in view.search_status
        assert "match ? of 1+ (count stopped)" in view.search_status, view.search_status
        await pilot.press("n")  # the count is not started again for this search
        await wait_for(pilot, lambda: "needle 57" in texts(lines), what="the next match")
        assert "(count stopped)" in view.search_status and "+" in view.search_status


async def test_a_stopped_line_count_stays_said_in_the_status(
    workspace: Path, tmp_path: Path
) -> None:
    log = tmp_path / "c.log"
    write(log, [f"row {i}" for i in range(200_000)], "w")
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        lines = await open_log(pilot, app, log)
        lock = lines.logfile._lock  # type: ignore[union-attr]
        lock.acquire()  # the count thread waits: Escape finds it running
        try:
            await pilot.press("number_sign", "escape")
        finally:
            lock.release()
        assert lines.count_stopped and lines.logfile.line_count is None
        lines._clear_notice()  # the one-off remark expires; the status must still say it
        await pilot.pause()
        assert "line count stopped" in status_lines(app)[0]
        await pilot.press("number_sign", "number_sign")
        await wait_for(pilot, lambda: lines.logfile.line_count is not None, what="counted again")
        await wait_for(
            pilot, lambda: "count stopped" not in status_lines(app)[0], what="no longer said"
        )


async def test_truncated_while_paused_says_so_and_counts_no_new_lines(
    workspace: Path, tmp_path: Path
) -> None:
    log = tmp_path / "t.log"
    write(log, [f"old {i}" for i in range(200)], "w")
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        lines = await open_log(pilot, app, log)
        await pilot.press("k")
        assert not lines.follow
        with log.open("w"):
            pass  # truncated...
        await wait_for(pilot, lambda: lines.notice, what="the truncation seen")
        write(log, ["new 1", "new 2", "new 3"])  # ...then written again
        await wait_for(pilot, lambda: texts(lines) == ["new 1", "new 2", "new 3"], what="shown")
        await wait_for(
            pilot,
            lambda: "file was truncated: re-read" in "\n".join(status_lines(app)),
            what="truncation said",
        )
        assert lines.new_lines == 0
        assert "new line" not in status_lines(app)[0]


async def test_a_vanished_log_is_not_said_to_be_followed(workspace: Path, tmp_path: Path) -> None:
    log = tmp_path / "gone.log"
    write(log, ["here"], "w")
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        lines = await open_log(pilot, app, log)
        assert "following" in status_lines(app)[0]
        os.rename(log, tmp_path / "elsewhere.log")
        await wait_for(pilot, lambda: lines.problem, what="vanished")
        await wait_for(pilot, lambda: "following" not in status_lines(app)[0], what="not following")
        assert "waiting for the file" in status_lines(app)[0]
        write(log, ["back"], "w")
        await wait_for(pilot, lambda: texts(lines) == ["back"], what="back")
        await wait_for(pilot, lambda: "following" in status_lines(app)[0], what="following")


async def test_wheel_up_pauses_only_when_the_view_moves(workspace: Path, tmp_path: Path) -> None:
    small, big = tmp_path / "small.log", tmp_path / "big.log"
    write(small, [f"s {i}" for i in range(5)], "w")
    write(big, [f"b {i}" for i in range(500)], "w")
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        lines = await open_log(pilot, app, small)
        await pilot._post_mouse_events([events.MouseScrollUp], lines, offset=(2, 2))
        assert lines.follow  # nothing scrolled
        await pilot.press("k")  # a key up pauses all the same (on purpose)
        assert not lines.follow
        app.pop_screen()
        lines = await open_log(pilot, app, big)
        assert lines.follow
        await pilot._post_mouse_events([events.MouseScrollUp], lines, offset=(2, 2))
        assert not lines.follow and texts(lines)[-1] != "b 499"


async def test_status_fits_a_narrow_pane_and_keeps_the_file_name(
    workspace: Path, tmp_path: Path
) -> None:
    deep = tmp_path.joinpath(*(f"directory-with-a-long-name-{i}" for i in range(4)))
    deep.mkdir(parents=True)
    log = deep / "train-output.log"
    write(log, [f"row {i}" for i in range(30_015)], "w")
    app = make_app(str(workspace))
    async with app.run_test(size=(60, 30)) as pilot:
        lines = await open_log(pilot, app, log)
        view = app.screen.query_one(LogView)
        width = view.size.width - 2
        await pilot.press("number_sign")
        await wait_for(pilot, lambda: lines.logfile.line_count == 30_015, what="counted")
        await pilot.press("colon", *"1000", "enter", "right")
        await wait_for(pilot, lambda: texts(lines)[0] == "row 999", what="at line 1,000")
        await wait_for(pilot, lambda: "line 1,000" in status_lines(app)[0], what="position")
        first = status_lines(app)[0]
        assert "paused" in first and len(first) <= width, first
        assert len(status_lines(app)) == 1
        status = app.screen.query_one("#log-status")
        assert status.size.height == 1  # it did not wrap
        await pilot.press("slash", *"a search for words that this log does not hold", "enter")
        await wait_for(pilot, lambda: "not found" in status_lines(app)[1], what="not found")
        await pilot.pause()
        assert status.size.height == 2  # the search's line is cut, not wrapped
        log.unlink()
        await wait_for(pilot, lambda: lines.problem, what="vanished")
        await wait_for(pilot, lambda: len(status_lines(app)) == 3, what="problem line")
        problem = status_lines(app)[2]
        assert len(problem) <= width and "…" in problem, problem
        assert problem.startswith("log file vanished: ")
        assert problem.endswith("/train-output.log")


async def test_a_log_renamed_away_and_back_is_followed_again(
    workspace: Path, tmp_path: Path
) -> None:
    log = tmp_path / "away.log"
    write(log, ["same file"], "w")
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        lines = await open_log(pilot, app, log)
        os.rename(log, tmp_path / "aside.log")
        await wait_for(pilot, lambda: lines.problem, what="vanished")
        os.rename(tmp_path / "aside.log", log)  # the same file back, not a byte changed
        await wait_for(pilot, lambda: lines.problem is None, what="back")
        await wait_for(pilot, lambda: "following" in status_lines(app)[0], what="following")
        assert len(status_lines(app)) == 1 and texts(lines) == ["same file"]
