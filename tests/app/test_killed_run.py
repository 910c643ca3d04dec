"""A run whose process is killed must stop reading "running" in the runs table.

Nothing changes on disk when a process dies, so no watcher event comes: the runs view has to
look at its running rows again by itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from app_support import cell, wait_for

from tango_tui.app import make_app
from tango_tui.app.widgets.runs_table import RunsTable

WRITER = Path(__file__).with_name("live_writer.py")


async def test_killed_run_shows_crashed_in_the_runs_table(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    gate = tmp_path / "gate"  # never opened: the gate step waits until killed
    # Its own process group, so the kill reaches any worker it forked too.
    writer = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, str(WRITER), str(root), str(gate)], start_new_session=True
    )
    try:
        app = make_app(str(root))
        async with app.run_test(size=(160, 45)) as pilot:
            table = await wait_for(
                pilot, lambda: app.screen.loaded and app.screen.query_one(RunsTable)
            )
            await wait_for(
                pilot,
                lambda: "live" in table.rows and cell(table, "live", "status").endswith("running"),
                timeout=20,
                what="run running",
            )
            os.killpg(writer.pid, signal.SIGKILL)
            writer.wait(timeout=10)  # reaped: a zombie's pid would still look alive
            await wait_for(
                pilot,
                lambda: cell(table, "live", "status").endswith("crashed"),
                timeout=10,
                what="run shown crashed",
            )
    finally:
        if writer.poll() is None:
            os.killpg(writer.pid, signal.SIGKILL)
            writer.wait()
