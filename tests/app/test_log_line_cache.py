"""Painted log lines are cached, yet every change that shapes a line repaints it; following
caps repaints at about 20 a second without holding back the first line after a quiet spell."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from app_support import wait_for
from test_log_view import open_log, texts, write
from textual.strip import Strip

from tango_tui.app import make_app
from tango_tui.app.widgets import log_lines as log_lines_module
from tango_tui.app.widgets.log_lines import LogLines
from tango_tui.app.widgets.log_view import LogView

NARROW = (100, 30)


def _row_of(lines: LogLines, text: str) -> int:
    return texts(lines).index(text)


def _styles_of(lines: LogLines, y: int, word: str) -> list[Any]:
    """Styles of the drawn segments of row ``y`` that hold ``word``."""
    return [seg.style for seg in lines.render_line(y) if word in seg.text]


def _is_current(style: Any) -> bool:
    return style is not None and style.bgcolor is not None and "yellow" in style.bgcolor.name


async def test_search_highlight_and_its_moves_repaint_cached_lines(
    workspace: Path, tmp_path: Path
) -> None:
    log = tmp_path / "c.log"
    write(log, [("needle" if i in (20, 23) else "hay") + f" {i}" for i in range(40)], "w")
    app = make_app(str(workspace))
    async with app.run_test(size=NARROW) as pilot:
        lines = await open_log(pilot, app, log)
        view = app.screen.query_one(LogView)
        await pilot.press("g")
        await wait_for(pilot, lambda: texts(lines)[0] == "hay 0", what="top of the file")
        first, second = _row_of(lines, "needle 20"), _row_of(lines, "needle 23")
        # Painted (and cached) before any search: no highlight.
        for y in (first, second):
            assert not any(
                _is_current(s) or (s and s.underline) for s in _styles_of(lines, y, "needle")
            )
        lines.highlight = "needle"  # as typing in the search bar does, before any match
        assert all(s.underline for s in _styles_of(lines, second, "needle"))
        lines.highlight = None

        await pilot.press("slash", *"needle", "enter")
        await wait_for(pilot, lambda: view.match is not None, what="first match")
        first, second = _row_of(lines, "needle 20"), _row_of(lines, "needle 23")
        assert all(_is_current(s) for s in _styles_of(lines, first, "needle"))
        other = _styles_of(lines, second, "needle")
        assert other and all(s.underline and not _is_current(s) for s in other)

        await pilot.press("n")  # the current match moves: both lines change look
        await wait_for(
            pilot,
            lambda: lines.current_match == lines.window[_row_of(lines, "needle 23")].offset,
            what="second match",
        )
        first, second = _row_of(lines, "needle 20"), _row_of(lines, "needle 23")
        assert all(_is_current(s) for s in _styles_of(lines, second, "needle"))
        assert not any(_is_current(s) for s in _styles_of(lines, first, "needle"))

        await pilot.press("slash", *"hay 2", "enter")  # another search: the old one is gone
        await wait_for(
            pilot, lambda: view.match is not None and lines.highlight == "hay 2", what="new search"
        )
        second = _row_of(lines, "needle 23")
        assert _styles_of(lines, second, "needle")
        assert not any(
            s and (s.underline or _is_current(s)) for s in _styles_of(lines, second, "needle")
        )
        at = [ln.offset for ln in lines.window].index(lines.current_match)
        assert any(_is_current(s) for s in _styles_of(lines, at, "hay 2"))


async def test_wrap_toggle_and_file_rewrite_repaint_cached_lines(
    workspace: Path, tmp_path: Path
) -> None:
    log = tmp_path / "w.log"
    long = "start " + " ".join(f"word{i:03d}" for i in range(40))
    write(log, ["short", long], "w")
    app = make_app(str(workspace))
    async with app.run_test(size=NARROW) as pilot:
        lines = await open_log(pilot, app, log)
        row = _row_of(lines, long)
        cut = "".join(seg.text for seg in lines.render_line(row))
        assert "word039" not in cut and "…" in cut
        await pilot.press("w")
        drawn = " ".join(
            "".join(s.text for s in lines.render_line(y)) for y in range(lines.body_height)
        )
        assert "word039" in drawn
        await pilot.press("w")
        assert "".join(seg.text for seg in lines.render_line(row)) == cut

        # Same offsets, other text (rewritten in place, same size): not the cached paint.
        write(log, ["SHORT", long.replace("start", "START")], "w")
        lines.reload()
        await wait_for(pilot, lambda: texts(lines)[0] == "SHORT", what="re-read")
        assert "SHORT" in "".join(seg.text for seg in lines.render_line(0))


async def test_follow_shows_a_lone_append_at_once_and_coalesces_a_burst(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A long cap so that "held back" cannot be an accident of a slow machine.
    monkeypatch.setattr(log_lines_module, "FOLLOW_INTERVAL", 0.5)
    log = tmp_path / "f.log"
    write(log, [f"line {i}" for i in range(10)], "w")
    app = make_app(str(workspace))
    async with app.run_test(size=NARROW) as pilot:
        lines = await open_log(pilot, app, log)
        assert lines.follow
        lines._last_tail_read = 0.0  # a quiet spell
        write(log, ["line 10"])
        lines.reload()
        assert texts(lines)[-1] == "line 10"  # shown by this very call, no timer
        write(log, ["line 11"])
        lines.reload()  # within the cap: held back...
        assert texts(lines)[-1] == "line 10"
        write(log, ["line 12"])
        lines.reload()
        # ...and both appends come in one repaint.
        await wait_for(pilot, lambda: texts(lines)[-1] == "line 12", what="held-back tail")
        assert texts(lines)[-3:] == ["line 10", "line 11", "line 12"]


async def test_plain_lines_drawn_without_rich_look_the_same(
    workspace: Path, tmp_path: Path
) -> None:
    log = tmp_path / "p.log"
    write(log, ["x"], "w")
    app = make_app(str(workspace))
    async with app.run_test(size=(40, 12)) as pilot:
        lines = await open_log(pilot, app, log)
        width = lines.size.width
        for line in ["hello", "a b  c", "", "y" * (width - 1), "y" * width, "z" * (width + 1)]:
            fast = lines._plain_strip(line, width)
            assert fast is not None, line
            text = lines._styled(line)
            text.truncate(width, overflow="ellipsis")
            general = Strip(list(text.render(app.console)))
            general = general.crop_extend(0, width, lines.rich_style).apply_style(lines.rich_style)
            assert fast.text == general.text and fast.cell_length == width
            assert {s.style for s in fast} == {s.style for s in general}
        # Lines that need styling take the general path.
        assert lines._plain_strip("ERROR broken", width) is None
        assert lines._plain_strip("tab\there", width) is None
        assert lines._plain_strip("naïve", width) is None
