"""Drives every view of the real app headless on WORKSPACE; exits 0 if all opened without error.

Used by the read-only test inside a private mount namespace where WORKSPACE is bind-mounted
read-only: any write attempt by the app would fail there (and fail the run).
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from tango_tui.app import make_app


async def _until(pilot: Any, cond: Any, what: str) -> None:
    deadline = time.monotonic() + 15
    while not cond():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        await pilot.pause(0.02)


async def drive(root: str) -> None:
    from tango_tui.app.screens.log import LogScreen
    from tango_tui.app.screens.run import RunScreen
    from tango_tui.app.screens.step import StepScreen

    app = make_app(root)
    async with app.run_test(size=(160, 45)) as pilot:
        await _until(pilot, lambda: getattr(app.screen, "loaded", False), "runs")
        await pilot.press("s", "enter")  # sort by status: the completed run first
        await _until(
            pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.detail, "run view"
        )
        await pilot.press("n", "enter")
        await _until(
            pilot, lambda: isinstance(app.screen, StepScreen) and app.screen.info, "step view"
        )
        await pilot.press("o", "g", "G", "slash", "e", "enter", "escape")
        await pilot.press("l")
        await _until(pilot, lambda: isinstance(app.screen, LogScreen), "run log")
        await pilot.press("escape", "escape", "q")
    if app.return_code not in (0, None):
        raise SystemExit(f"app ended with {app.return_code}")


if __name__ == "__main__":
    asyncio.run(drive(sys.argv[1]))
    print("ok")
