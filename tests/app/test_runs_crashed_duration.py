"""A crashed run's duration stops at its last sign of life (its record's last write).

A killed executor records no end date: the runs view must neither keep counting the duration
up with the clock nor leave it blank.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from app_support import cell, wait_for

from tango_tui.app import format as fmt
from tango_tui.app import make_app
from tango_tui.app.widgets.runs_table import RunsTable
from tango_tui.core import StepState

WRITER = Path(__file__).with_name("live_writer.py")


def _drawn_line(table: RunsTable, name: str) -> str:
    """The line the table draws for run ``name`` (line 0 is the header)."""
    return next(
        text
        for text in (table.render_line(y).text for y in range(1, table.size.height))
        if name in text
    )


async def test_crashed_run_duration_stops_at_its_last_record_write(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    gate = tmp_path / "gate"  # never opened: the gate step waits until killed
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
            # Once the gate step runs, the record stops changing; the drawn duration still
            # moves with the clock (the tick redraws it).
            await wait_for(
                pilot,
                lambda: table.rows_by_name["live"].counts.get(StepState.RUNNING),
                timeout=20,
                what="the gate step running",
            )
            await pilot.pause()
            screen = app.screen
            before = _drawn_line(table, "live")
            ticks = screen._ticks
            await wait_for(pilot, lambda: screen._ticks >= ticks + 2, what="two ticks")
            await pilot.pause()
            assert _drawn_line(table, "live") != before
            os.killpg(writer.pid, signal.SIGKILL)
            writer.wait(timeout=10)
            await wait_for(
                pilot,
                lambda: cell(table, "live", "status").endswith("crashed"),
                timeout=10,
                what="run shown crashed",
            )
            record = root / "runs" / "live" / "run.json"
            last_write = datetime.fromtimestamp(record.stat().st_mtime, UTC)
            start = table.rows_by_name["live"].start_date
            expected = fmt.duration_text(start, last_write, False)
            assert expected and cell(table, "live", "duration") == expected
            # Seconds later (two ticks of the view's clock), it has not moved.
            ticks = screen._ticks
            await wait_for(pilot, lambda: screen._ticks >= ticks + 2, what="two ticks")
            assert cell(table, "live", "duration") == expected
            await pilot.pause()
            assert expected in _drawn_line(table, "live")  # what is drawn, too
    finally:
        if writer.poll() is None:
            os.killpg(writer.pid, signal.SIGKILL)
            writer.wait()
