"""The log pane: follow, pause with a count of new lines, f/g/G, search, rotation, vanishing."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from app_support import wait_for

from tango_tui.app import make_app
from tango_tui.app.screens.log import LogScreen
from tango_tui.app.widgets.log_lines import ERROR_STYLE, WARNING_STYLE, LogLines
from tango_tui.app.widgets.log_view import LogView

SIZE = (120, 30)


def write(path: Path, lines: list[str], mode: str = "a") -> None:
    with path.open(mode) as f:
        f.write("".join(line + "\n" for line in lines))


async def open_log(pilot: Any, app: Any, path: Path) -> LogLines:
    await wait_for(pilot, lambda: app.screen.loaded)
    app.push_screen(LogScreen(path, title=path.name))
    return await wait_for(
        pilot,
        lambda: (
            isinstance(app.screen, LogScreen)
            and app.screen.query_one(LogLines).window
            and app.screen.query_one(LogLines)
        ),
    )


def texts(lines: LogLines) -> list[str]:
    return [line.text for line in lines.window]


async def test_follows_the_tail_and_pauses_when_scrolled_up(
    workspace: Path, tmp_path: Path
) -> None:
    log = tmp_path / "train.log"
    write(log, [f"step {i}" for i in range(200)], "w")
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        lines = await open_log(pilot, app, log)
        assert lines.follow and texts(lines)[-1] == "step 199"
        write(log, ["step 200"])
        await wait_for(pilot, lambda: texts(lines)[-1] == "step 200", what="new line shown")
        await pilot.press("up")
        assert not lines.follow
        top = texts(lines)[0]
        write(log, ["step 201", "step 202", "step 203"])
        await wait_for(pilot, lambda: lines.new_lines == 3, what="3 new lines counted")
        assert texts(lines)[0] == top  # the view did not move
        await wait_for(
            pilot,
            lambda: "3 new lines" in str(app.screen.query_one("#log-status").render()),
            what="the count in the status line",
        )
        await pilot.press("f")
        assert lines.follow and texts(lines)[-1] == "step 203" and lines.new_lines == 0
        await pilot.press("f")
        assert not lines.follow


async def test_g_and_G_go_to_top_and_bottom(workspace: Path, tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    write(log, [f"line {i}" for i in range(1000)], "w")
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        lines = await open_log(pilot, app, log)
        await pilot.press("g")
        assert texts(lines)[0] == "line 0" and not lines.follow
        await pilot.press("pagedown")
        assert texts(lines)[0] != "line 0"
        await pilot.press("pageup")
        assert texts(lines)[0] == "line 0"
        await pilot.press("G")
        assert texts(lines)[-1] == "line 999" and lines.follow
        await pilot.press("home")
        assert texts(lines)[0] == "line 0"
        await pilot.press("end")
        assert lines.follow
        # Scrolling down to the end by hand resumes following.
        await pilot.press("k")
        assert not lines.follow
        await pilot.press("j", "j")
        assert lines.follow


async def test_search_with_n_and_N(workspace: Path, tmp_path: Path) -> None:
    log = tmp_path / "s.log"
    write(log, [("needle" if i in (100, 500, 900) else "hay") + f" {i}" for i in range(1000)], "w")
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        lines = await open_log(pilot, app, log)
        view = app.screen.query_one(LogView)
        await pilot.press("g", "slash", *"needle", "enter")
        await wait_for(pilot, lambda: view.match is not None, what="first match")
        assert "needle 100" in texts(lines)
        await pilot.press("n")
        await wait_for(pilot, lambda: "needle 500" in texts(lines), what="second match")
        await pilot.press("n")
        await wait_for(pilot, lambda: "needle 900" in texts(lines), what="third match")
        await pilot.press("n")  # wraps around
        await wait_for(pilot, lambda: "needle 100" in texts(lines), what="wrapped")
        await pilot.press("N")
        await wait_for(pilot, lambda: "needle 900" in texts(lines), what="previous (wrapped)")
        await pilot.press("slash", *"absent", "enter")
        await wait_for(pilot, lambda: "not found" in view.search_status, what="not found")


async def test_error_and_warning_lines_stand_out(workspace: Path, tmp_path: Path) -> None:
    log = tmp_path / "e.log"
    write(
        log,
        [
            "INFO fine",
            "WARNING careful",
            "ERROR broken",
            "Traceback (most recent call last):",
            "ValueError: bad",
        ],
        "w",
    )
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        lines = await open_log(pilot, app, log)
        styled = {line.text: lines._styled(line.text) for line in lines.window}
        assert not styled["INFO fine"].spans
        assert styled["WARNING careful"].spans[0].style == WARNING_STYLE
        for text in ("ERROR broken", "Traceback (most recent call last):", "ValueError: bad"):
            assert styled[text].spans[0].style == ERROR_STYLE, text


async def test_truncation_and_rotation_are_reread(workspace: Path, tmp_path: Path) -> None:
    log = tmp_path / "r.log"
    write(log, [f"old {i}" for i in range(50)], "w")
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        lines = await open_log(pilot, app, log)
        write(log, ["after truncate"], "w")  # truncated in place
        await wait_for(pilot, lambda: texts(lines) == ["after truncate"], what="truncation")
        assert "truncated" in (lines.notice or "")
        os.rename(log, tmp_path / "r.log.1")  # rotation: renamed and recreated
        write(log, ["fresh file"], "w")
        await wait_for(pilot, lambda: texts(lines) == ["fresh file"], what="rotation")


async def test_vanished_log_is_shown_in_place(workspace: Path, tmp_path: Path) -> None:
    log = tmp_path / "v.log"
    write(log, ["still here"], "w")
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        lines = await open_log(pilot, app, log)
        log.unlink()
        await wait_for(pilot, lambda: lines.problem, what="vanished")
        assert "vanished" in lines.problem
        assert texts(lines) == ["still here"]  # what was read stays
        await wait_for(
            pilot,
            lambda: "vanished" in str(app.screen.query_one("#log-status").render()),
            what="vanished in the status line",
        )
        write(log, ["back again"], "w")
        await wait_for(pilot, lambda: texts(lines) == ["back again"], what="reappeared")
        assert lines.problem is None


async def test_missing_log_file_waits_for_it(workspace: Path, tmp_path: Path) -> None:
    log = tmp_path / "later.log"
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.screen.loaded)
        app.push_screen(LogScreen(log, title="later"))
        lines = await wait_for(
            pilot, lambda: app.screen.query_one(LogLines).problem and app.screen.query_one(LogLines)
        )
        assert "not found" in lines.problem
        write(log, ["now it exists"], "w")
        await wait_for(pilot, lambda: texts(lines) == ["now it exists"], what="appeared")


async def test_a_change_arriving_while_the_pane_is_taken_down_is_ignored(
    workspace: Path, tmp_path: Path
) -> None:
    # A watcher batch or the 1 s reconcile can reach the log view after its lines widget is
    # gone (the screen is being popped or the app is closing): that must not crash the app.
    log = tmp_path / "gone.log"
    write(log, ["one"], "w")
    app = make_app(str(workspace))
    async with app.run_test() as pilot:
        lines = await open_log(pilot, app, log)
        view = app.screen.query_one(LogView)
        await lines.remove()
        view.files_changed({log}, rescan=True)
        view._reconcile()
        await pilot.pause()
        assert app.is_running


async def test_a_change_reaching_a_screen_without_its_widgets_is_kept_for_later(
    workspace: Path, tmp_path: Path
) -> None:
    # The same at the screen level: the app hands a batch to the active screen while its
    # widgets are gone (closing): the screen keeps it instead of crashing.
    from tango_tui.app.messages import Changes

    log = tmp_path / "later.log"
    write(log, ["one"], "w")
    app = make_app(str(workspace))
    async with app.run_test() as pilot:
        await open_log(pilot, app, log)
        screen = app.screen
        await screen.query_one(LogView).remove()
        screen.workspace_changed(Changes(files={log}), active=True)
        await pilot.pause()
        assert app.is_running and screen._has_missed
