"""A step retried by a later run: the older run's step view shows that run's attempt."""

from __future__ import annotations

import io
import re
from pathlib import Path

from app_support import run_quietly, wait_for
from test_run_view import SIZE, open_run, uid_of

from tango_tui import LocalWorkspace, Step
from tango_tui.app import make_app
from tango_tui.app.screens.step import StepScreen
from tango_tui.app.widgets.log_lines import LogLines
from tango_tui.app.widgets.step_details import render_step


class Flaky(Step):
    """Fails until the file ``flag`` exists."""

    VERSION = "001"

    def run(self, flag: str) -> str:  # type: ignore[override]
        import logging

        log = logging.getLogger("tests.app.flaky")
        if not Path(flag).exists():
            log.error("no flag yet: failing this attempt")
            raise RuntimeError("flag missing")
        log.info("flag found: this attempt succeeds")
        return "ok"


def _text(renderable: object) -> str:
    from rich.console import Console

    console = Console(width=140, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


async def test_older_run_shows_its_own_attempt(tmp_path: Path) -> None:
    root, flag = tmp_path / "ws", tmp_path / "flag"
    ws = LocalWorkspace(root)
    run_quietly(ws, {"flaky": Flaky(flag=str(flag), step_name="flaky")}, "old")
    flag.touch()
    run_quietly(ws, {"flaky": Flaky(flag=str(flag), step_name="flaky")}, "new")
    app = make_app(str(root))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(pilot, app, "old")
        uid = uid_of(screen, "flaky")
        row = screen.detail.step(uid)
        screen.table.select_uid(uid)
        await pilot.press("enter")
        step = await wait_for(
            pilot, lambda: isinstance(app.screen, StepScreen) and app.screen.info and app.screen
        )
        assert step.info.attempt == 2 and str(step.info.state) == "completed"
        text = _text(render_step(step.info, None, None, step._row))
        assert text.splitlines()[0].strip().endswith("failed  flaky")  # this run's outcome
        assert "latest attempt: #2" in text and "another run" in text
        assert re.search(r"attempt\s+#1 \(this run\)", text)
        started = re.search(r"started\s+(\S+ \S+)", text)
        assert started and started.group(1) == row.start_time.strftime("%Y-%m-%d %H:%M:%S")
        assert "RuntimeError: flag missing" in text
        lines = step.query_one(LogLines)
        await wait_for(pilot, lambda: lines.window, what="log")
        shown = " ".join(ln.text for ln in lines.window)
        assert "failing this attempt" in shown and "succeeds" not in shown
