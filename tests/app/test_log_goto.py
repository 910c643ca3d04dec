"""Go to line (``:``/ctrl+g) and the line-number gutter (``#``) on a 200,000-line log.

Line numbers come from a count that runs in a worker thread. To catch the count in the middle
(to press Escape, or to grow the file under it) a test holds the ``LogFile``'s own lock: the
count thread waits on it while the UI, on the thread that holds it, goes on as usual.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from app_support import wait_for
from test_log_reading import shown, status_lines
from test_log_view import open_log, texts, write
from textual.widgets._footer import FooterKey

from tango_tui.app import make_app
from tango_tui.app.screens.help import HelpScreen
from tango_tui.app.screens.log import LogScreen
from tango_tui.app.widgets.log_lines import LogLines

SIZE = (100, 30)
N = 200_000


@pytest.fixture(scope="module")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``row 1`` .. ``row 200000``: line ``k`` reads ``row k``."""
    path = tmp_path_factory.mktemp("goto") / "big.log"
    write(path, [f"row {i}" for i in range(1, N + 1)], "w")
    return path


@pytest.fixture
def log_copy(big_log: Path, tmp_path: Path) -> Path:
    """A copy of the big log a test may append to."""
    path = tmp_path / "grow.log"
    path.write_bytes(big_log.read_bytes())
    return path


@contextlib.contextmanager
def count_held(lines: LogLines) -> Iterator[None]:
    """Keep the line count from moving: the count thread waits for the LogFile's lock."""
    lock = lines.logfile._lock  # type: ignore[union-attr]
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


def bottom(lines: LogLines) -> str:
    """The last line drawn (the pane's height moves with the status line's)."""
    return shown(lines, len(lines.window) - 1)


def count_workers_busy(lines: LogLines) -> bool:
    return any(w.group == "log-count" and not w.is_finished for w in lines.workers)


async def go(pilot: Any, typed: str, key: str = "colon") -> None:
    await pilot.press(key, *typed, "enter")


async def test_go_to_line_relative_percent_and_end(workspace: Path, big_log: Path) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        lines = await open_log(pilot, app, big_log)
        await go(pilot, "150000")
        await wait_for(pilot, lambda: texts(lines)[0] == "row 150000", what="line 150000")
        assert not lines.follow and lines.goto_line is None
        await wait_for(
            pilot, lambda: "line 150,000 of 200,000" in status_lines(app)[0], what="status"
        )
        await go(pilot, "+10", key="ctrl+g")
        await wait_for(pilot, lambda: texts(lines)[0] == "row 150010", what="10 down")
        await go(pilot, "-25")
        await wait_for(pilot, lambda: texts(lines)[0] == "row 149985", what="25 up")
        await go(pilot, "1,000")
        await wait_for(pilot, lambda: texts(lines)[0] == "row 1000", what="line 1000")
        await go(pilot, "50%")
        half = big_log.stat().st_size // 2
        data = big_log.read_bytes()
        want = data[data.rfind(b"\n", 0, half) + 1 : data.find(b"\n", half)].decode()
        await wait_for(pilot, lambda: texts(lines)[0] == want, what="half way")
        await go(pilot, "-999999")  # clamped at the first line
        await wait_for(pilot, lambda: texts(lines)[0] == "row 1", what="the first line")
        await go(pilot, "999999")  # past the end: the last line, the pane filled from above
        await wait_for(pilot, lambda: texts(lines)[-1] == f"row {N}", what="the last line")
        assert len(texts(lines)) > 1 and not lines.follow
        await go(pilot, "1")
        await go(pilot, "$")
        await wait_for(pilot, lambda: lines.follow and texts(lines)[-1] == f"row {N}")
        await go(pilot, "abc")
        assert "'abc' is not a place to go to" in (lines.notice or "")
        await pilot.press("colon", "escape")  # the bar closes; the pane stays
        assert isinstance(app.screen, LogScreen) and lines.has_focus


async def test_escape_stops_a_go_to_line_mid_count(workspace: Path, big_log: Path) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        lines = await open_log(pilot, app, big_log)
        before = texts(lines)
        log = lines.logfile
        assert log is not None
        with count_held(lines):
            await go(pilot, "150000")
            await wait_for(pilot, lambda: "counting lines" in status_lines(app)[0], what="progress")
            assert "→ line 150,000" in status_lines(app)[0]
            await pilot.press("escape")
            assert lines.goto_line is None and not lines.counting
            assert isinstance(app.screen, LogScreen)  # Escape stopped the count, not the screen
            assert "cancelled" in (lines.notice or "")
        await wait_for(pilot, lambda: not count_workers_busy(lines), what="count thread ended")
        assert log.line_count is None and log.scan_progress < 1  # it stopped, not finished
        assert lines.follow and texts(lines)[-1] == before[-1]  # and nothing jumped
        await pilot.press("escape")  # nothing running now: back
        await wait_for(pilot, lambda: not isinstance(app.screen, LogScreen), what="back")


async def test_gutter_shows_question_marks_until_counted(workspace: Path, big_log: Path) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        lines = await open_log(pilot, app, big_log)
        assert bottom(lines) == f"row {N}"
        with count_held(lines):
            await pilot.press("number_sign")
            assert lines.show_numbers
            assert bottom(lines).lstrip() == f"? row {N}"  # the UI did not wait
            await wait_for(pilot, lambda: "counting lines" in status_lines(app)[0])
        await wait_for(pilot, lambda: lines.logfile.line_count == N, what="count done")
        await wait_for(pilot, lambda: bottom(lines) == f"{N} row {N}", what="numbered")
        top = texts(lines)[0].split()[1]
        assert shown(lines, 0) == f"{top} {texts(lines)[0]}"
        await pilot.press("g")
        assert shown(lines, 0) == "     1 row 1"  # right-aligned to the widest number
        await pilot.press("w")  # wrapped: the number on a line's first row
        assert shown(lines, 1) == "     2 row 2"
        await pilot.press("w", "number_sign")
        assert shown(lines, 0) == "row 1"


async def test_count_keeps_up_with_a_file_growing_while_it_runs(
    workspace: Path, log_copy: Path
) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        lines = await open_log(pilot, app, log_copy)
        log = lines.logfile
        assert log is not None
        with count_held(lines):
            await pilot.press("number_sign")
            write(log_copy, [f"row {i}" for i in range(N + 1, N + 1001)])
            await wait_for(
                pilot, lambda: log.size == log_copy.stat().st_size, what="growth noticed"
            )
        await wait_for(pilot, lambda: log.line_count == N + 1000, what="all lines counted")
        await wait_for(pilot, lambda: bottom(lines) == f"{N + 1000} row {N + 1000}")
        write(log_copy, ["row 201001"])  # appended after the count: counted on arrival
        await wait_for(pilot, lambda: texts(lines)[-1] == "row 201001", what="followed")
        assert log.line_count == N + 1001
        assert bottom(lines) == "201001 row 201001"


async def test_go_to_a_line_written_while_counting(workspace: Path, log_copy: Path) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        lines = await open_log(pilot, app, log_copy)
        log = lines.logfile
        assert log is not None
        with count_held(lines):
            await go(pilot, "200500")  # past the end for now
            write(log_copy, [f"row {i}" for i in range(N + 1, N + 1001)])
            await wait_for(pilot, lambda: log.size == log_copy.stat().st_size, what="growth")
            assert lines.goto_line == 200500  # still waiting for the count
        await wait_for(pilot, lambda: texts(lines)[0] == "row 200500", what="line 200500")
        assert lines.goto_line is None and not lines.follow


async def test_truncation_drops_a_pending_go_to_line(workspace: Path, log_copy: Path) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        lines = await open_log(pilot, app, log_copy)
        with count_held(lines):
            await go(pilot, "150000")
            assert lines.goto_line == 150000  # waiting for the count
            write(log_copy, ["short now"], "w")  # truncated: that line number is gone
            await wait_for(pilot, lambda: texts(lines) == ["short now"], what="re-read")
            assert lines.goto_line is None
        await wait_for(pilot, lambda: not lines.counting, what="count ended")
        assert texts(lines) == ["short now"]  # no jump into the new file
        write(log_copy, [f"row {i}" for i in range(2, 1002)])  # counted as it arrives
        await wait_for(pilot, lambda: lines.logfile.line_count == 1001, what="kept counting")
        await go(pilot, "500")
        await wait_for(pilot, lambda: texts(lines)[0] == "row 500", what="line 500")


async def test_help_and_footer_list_the_new_keys(workspace: Path, big_log: Path) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=(160, 30)) as pilot:
        await open_log(pilot, app, big_log)
        await pilot.pause()
        shown_keys = {(k.key_display, k.description) for k in app.screen.query(FooterKey)}
        assert {(":", "Go to"), ("#", "Numbers")} <= shown_keys
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = str(app.screen.table().columns[0]._cells)
        docs = str(app.screen.table().columns[1]._cells)
        assert "':'" in keys and "'#'" in keys
        assert "Go to a line" in docs and "Line numbers on/off" in docs


async def test_numbers_start_over_on_a_rotated_file(workspace: Path, tmp_path: Path) -> None:
    log = tmp_path / "rot.log"
    write(log, [f"old {i}" for i in range(1, 101)], "w")
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        lines = await open_log(pilot, app, log)
        await pilot.press("number_sign")
        await wait_for(pilot, lambda: bottom(lines) == "100 old 100")
        log.rename(tmp_path / "rot.log.1")
        fresh = tmp_path / "fresh.log"
        write(fresh, [f"new {i}" for i in range(1, 201)], "w")
        fresh.rename(log)  # the new file appears whole: no append follows the replacement
        await wait_for(pilot, lambda: texts(lines)[-1] == "new 200", what="the new file")
        await wait_for(pilot, lambda: bottom(lines) == "200 new 200", what="renumbered")


async def test_escape_stops_the_numbers_count_until_asked_again(
    workspace: Path, log_copy: Path
) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        lines = await open_log(pilot, app, log_copy)
        log = lines.logfile
        assert log is not None
        with count_held(lines):
            await pilot.press("number_sign")
            await pilot.press("escape")
            assert not lines.counting and "line count stopped" in (lines.notice or "")
            assert isinstance(app.screen, LogScreen)
            write(log_copy, ["row 200001"])  # an append does not start it again
            await wait_for(pilot, lambda: texts(lines)[-1] == "row 200001", what="followed")
            assert not lines.counting  # the append's reload would have started it at once
        assert log.line_count is None and log.scan_progress < 1
        assert bottom(lines).lstrip() == "? row 200001"
        await pilot.press("number_sign", "number_sign")  # asked again
        await wait_for(
            pilot,
            lambda: bottom(lines) == "200001 row 200001",
            what="counted",
        )
