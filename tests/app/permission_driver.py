"""Run as an unprivileged user: open the app on WORKSPACE whose ``runs/first/run.json`` and
``runs/second/out.log`` are unreadable; print what the app shows for them; exit 0 if it kept running.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from tango_tui.app import make_app


async def _until(pilot: Any, cond: Any, what: str) -> Any:
    deadline = time.monotonic() + 15
    while True:
        try:
            value = cond()
        except Exception:  # noqa: BLE001 - not mounted yet
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        await pilot.pause(0.02)


async def drive(root: str) -> None:
    from tango_tui.app.screens.log import LogScreen
    from tango_tui.app.screens.run import RunScreen
    from tango_tui.app.widgets.log_lines import LogLines
    from tango_tui.app.widgets.runs_table import RunsTable

    app = make_app(root)
    async with app.run_test(size=(160, 45)) as pilot:
        table = await _until(
            pilot, lambda: app.screen.loaded and app.screen.query_one(RunsTable), "runs"
        )
        row = table.rows_by_name.get("first")
        notice = str(app.screen.query_one("#runs-notice").render())
        print("RUN-PROBLEM:", (row.problem if row else None) or notice)
        while table.selected_run != "second":
            await pilot.press("j")
        await pilot.press("enter")
        await _until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.detail, "run")
        await pilot.press("l")
        lines = await _until(
            pilot,
            lambda: (
                isinstance(app.screen, LogScreen)
                and app.screen.query_one(LogLines).problem
                and app.screen.query_one(LogLines)
            ),
            "log problem",
        )
        print("LOG-PROBLEM:", lines.problem)
        await pilot.press("escape", "escape", "q")


if __name__ == "__main__":
    asyncio.run(drive(sys.argv[1]))
