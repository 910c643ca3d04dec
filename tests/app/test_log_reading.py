"""Reading long lines (wrap, sideways scroll) and the log pane's status line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from app_support import wait_for
from test_log_view import open_log, texts, write

from tango_tui.app import make_app
from tango_tui.app.widgets import log_lines
from tango_tui.app.widgets.log_lines import CURRENT_MATCH_STYLE, MATCH_STYLE, LogLines
from tango_tui.app.widgets.log_view import LogView

NARROW = (100, 30)


def shown(lines: LogLines, y: int) -> str:
    """The text drawn on row ``y`` of the pane."""
    return "".join(seg.text for seg in lines.render_line(y)).rstrip()


def status_lines(app: Any) -> list[str]:
    return str(app.screen.query_one("#log-status").render()).splitlines()


async def test_long_lines_wrap_with_w_and_scroll_sideways(workspace: Path, tmp_path: Path) -> None:
    log = tmp_path / "long.log"
    long = "2026-05-04 12:00:00 INFO " + " ".join(f"word{i:03d}" for i in range(60))
    write(log, ["short line", long], "w")
    app = make_app(str(workspace))
    async with app.run_test(size=NARROW) as pilot:
        lines = await open_log(pilot, app, log)
        assert shown(lines, 1).endswith("…")  # cut, and says so
        assert "word059" not in shown(lines, 1)
        await pilot.press("w")
        assert lines.wrap
        rows = [shown(lines, y) for y in range(lines.body_height)]
        drawn = " ".join(r for r in rows if r)
        assert "word000" in drawn and "word059" in drawn  # the whole line is on screen
        assert "wrap" in status_lines(app)[0]
        await pilot.press("w", "right", "right")
        assert not lines.wrap and lines.x_offset == 16
        assert shown(lines, 1).startswith("…") and long[17:30] in shown(lines, 1)
        assert "col 17" in status_lines(app)[0]
        for _ in range(100):  # never past the end of the widest line
            lines.action_scroll_side(1)
        await pilot.press("right")
        assert "word059" in shown(lines, 1)
        await pilot.press("0")
        assert lines.x_offset == 0 and shown(lines, 1).startswith("2026-05-04")


async def test_status_puts_the_vanished_path_on_its_own_line(
    workspace: Path, tmp_path: Path
) -> None:
    log = tmp_path / "v.log"
    write(log, ["here"], "w")
    app = make_app(str(workspace))
    async with app.run_test(size=NARROW) as pilot:
        await open_log(pilot, app, log)
        log.unlink()
        await wait_for(pilot, lambda: len(status_lines(app)) > 1, what="problem line")
        assert status_lines(app)[1] == f"log file vanished: {log}"
        status = app.screen.query_one("#log-status")
        assert status.size.height >= 2


async def test_one_new_line_and_the_reread_notice_clears(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(log_lines, "NOTICE_SECONDS", 3.0)  # the remark's lifetime, shortened
    log = tmp_path / "n.log"
    write(log, [f"line {i}" for i in range(100)], "w")
    app = make_app(str(workspace))
    async with app.run_test(size=NARROW) as pilot:
        lines = await open_log(pilot, app, log)
        write(log, ["after truncate"], "w")
        await wait_for(pilot, lambda: lines.notice, what="truncation notice")
        write(log, [f"more {i}" for i in range(100)])
        await wait_for(pilot, lambda: texts(lines)[-1] == "more 99", what="new lines shown")
        # A rewrite is a truncation then writes: the lines that follow do not hide the remark.
        assert "truncated" in (lines.notice or "")
        await wait_for(pilot, lambda: lines.notice is None, what="notice cleared in time")
        await pilot.press("k")  # pause
        assert not lines.follow
        write(log, ["one more"])
        await wait_for(pilot, lambda: lines.new_lines == 1, what="one new line")
        # The status line is redrawn by a message handled after the count changes: wait for it.
        await wait_for(
            pilot, lambda: "1 new line " in status_lines(app)[0] + " ", what="status says it"
        )
        assert "1 new lines" not in status_lines(app)[0]


async def test_current_match_differs_from_other_matches(workspace: Path, tmp_path: Path) -> None:
    log = tmp_path / "m.log"
    write(log, [("needle" if i in (100, 103) else "hay") + f" {i}" for i in range(300)], "w")
    app = make_app(str(workspace))
    async with app.run_test(size=NARROW) as pilot:
        lines = await open_log(pilot, app, log)
        view = app.screen.query_one(LogView)
        await pilot.press("g", "slash", *"needle", "enter")
        await wait_for(pilot, lambda: view.match is not None, what="first match")
        by_text = {ln.text: lines._styled(ln.text, ln.offset) for ln in lines.window}
        assert {s.style for s in by_text["needle 100"].spans} == {CURRENT_MATCH_STYLE}
        assert {s.style for s in by_text["needle 103"].spans} == {MATCH_STYLE}
        await wait_for(pilot, lambda: "match 1 of 2;" in view.search_status, what="match count")
        await pilot.press("n")
        await wait_for(
            pilot,
            lambda: (
                lines.current_match
                == next(ln.offset for ln in lines.window if ln.text == "needle 103")
            ),
            what="second match current",
        )
        assert "needle 103" in texts(lines)


async def test_a_match_beyond_the_right_edge_scrolls_into_view(
    workspace: Path, tmp_path: Path
) -> None:
    log = tmp_path / "far.log"
    write(log, ["x" * 150 + " needle at the far right", "short"], "w")
    app = make_app(str(workspace))
    async with app.run_test(size=NARROW) as pilot:
        lines = await open_log(pilot, app, log)
        view = app.screen.query_one(LogView)
        await pilot.press("slash", *"needle", "enter")
        await wait_for(pilot, lambda: view.match is not None, what="match")
        assert lines.x_offset > 0
        assert "needle" in shown(lines, 0)
