"""The step view: every record field, the traceback, navigable dependencies, step/run log."""

from __future__ import annotations

import io
from pathlib import Path

from app_support import wait_for
from test_run_view import SIZE, open_run, uid_of
from textual.widgets import OptionList

from tango_tui.app import make_app
from tango_tui.app.screens.step import StepScreen
from tango_tui.app.widgets.log_lines import LogLines
from tango_tui.app.widgets.step_details import StepDetails, render_step


def _text(renderable: object) -> str:
    from rich.console import Console

    console = Console(width=100, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


async def open_step(pilot, app, run: str, step: str) -> StepScreen:  # type: ignore[no-untyped-def]
    screen = await open_run(pilot, app, run)
    uid = uid_of(screen, step)
    screen.table.select_uid(uid)
    await pilot.press("enter")
    return await wait_for(
        pilot,
        lambda: isinstance(app.screen, StepScreen) and app.screen.info and app.screen,
        what=f"step {step}",
    )


async def test_failed_step_shows_fields_and_traceback(workspace: Path) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, app, "second", "boom")
        info = screen.info
        text = _text(render_step(info))
        for expected in (
            info.unique_id,
            "Boom",
            "version",
            "001",
            "started",
            "ended",
            "host",
            "user",
            "python",
            "command",
            "config",
            "ValueError: boom",
            "Traceback (most recent call last)",
            "_explode",
        ):
            assert expected in text, expected
        assert screen.query_one(StepDetails).visual is not None


async def test_dependencies_are_navigable(workspace: Path) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, app, "second", "boom")
        deps = screen.query_one("#step-deps", OptionList)
        assert deps.option_count == 1
        squares = uid_of(app.screen_stack[-2], "squares")
        assert deps.get_option_at_index(0).id == squares
        deps.focus()
        await pilot.press("down", "enter")
        dep = await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, StepScreen)
                and app.screen is not screen
                and app.screen.info
                and app.screen
            ),
        )
        assert dep.uid == squares
        assert dep.info.step_class_name == "Square"
        await pilot.press("escape")
        assert app.screen is screen


async def test_log_pane_shows_step_log_and_o_switches_to_run_log(workspace: Path) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, app, "second", "boom")
        lines = screen.query_one(LogLines)
        await wait_for(pilot, lambda: lines.window, what="step log lines")
        step_log = "\n".join(line.text for line in lines.window)
        assert "giving up on 5 values" in step_log
        assert lines.path is not None and lines.path.is_relative_to(workspace)
        await pilot.press("o")
        await wait_for(pilot, lambda: lines.path == workspace / "runs" / "second" / "out.log")
        await pilot.press("o")
        await wait_for(pilot, lambda: lines.path != workspace / "runs" / "second" / "out.log")


async def test_cached_step_has_result_location(workspace: Path) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, app, "second", "total")
        assert screen.info.result_location
        assert "result" in _text(render_step(screen.info))


async def test_tab_to_the_dependencies_then_enter_opens_the_first(workspace: Path) -> None:
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_step(pilot, app, "second", "squares")
        deps = screen.query_one("#step-deps", OptionList)
        while not deps.has_focus:
            await pilot.press("tab")
        assert deps.highlighted == 0  # selected on focus: no Down needed
        shown = {
            b.binding.description for b in app.screen.active_bindings.values() if b.binding.show
        }
        assert "Open" in shown  # the footer says what enter does
        await pilot.press("enter")
        step = await wait_for(
            pilot,
            lambda: isinstance(app.screen, StepScreen) and app.screen is not screen and app.screen,
        )
        assert step.uid in screen.info.dependencies
