"""A run registered without an executor (Tango's style) shows its steps' states as they change."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tango_tui import LocalWorkspace, Step
from tango_tui.core._model import StepState
from tango_tui.monitor.source import open_source


class Double(Step):
    def run(self, x: int) -> int:
        return 2 * x


def test_steps_run_after_a_plain_register_run_show_in_its_detail(tmp_path: Path) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    a = Double(x=1, step_name="a")
    b = Double(x=a, step_name="b")
    ws.register_run([a, b], name="manual")
    # The run record is written once, at registration; make it look minutes old, as it is when
    # someone runs the steps by hand later.
    record = tmp_path / "ws" / "runs" / "manual" / "run.json"
    old = time.time() - 600
    os.utime(record, (old, old))

    src = open_source(tmp_path / "ws")
    before = {row.name: row.state for row in src.run_detail("manual").steps}
    assert before == {"a": StepState.INCOMPLETE, "b": StepState.INCOMPLETE}

    assert b.result(ws) == 4
    after = {row.name: row.state for row in src.run_detail("manual").steps}
    assert after == {"a": StepState.COMPLETED, "b": StepState.COMPLETED}
