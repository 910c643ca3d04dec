"""A crashed run's last sign of life (monitor/_last_seen.py): the newest write of its process.

A real pipeline runs in a subprocess; its step writes log lines for a while after the last
run-record rewrite; the process is SIGKILLed. The run's last sign of life must be its step
log's last write, not the record's mtime.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

from tango_tui.core import RunStatus, StepState
from tango_tui.core import _format as fmt
from tango_tui.monitor._last_seen import last_sign_of_life
from tango_tui.monitor.source import open_source

PIPELINE = textwrap.dedent(
    """
    import sys, time
    from tango_tui import LocalWorkspace, Step, run_steps

    class Chatty(Step):
        CACHEABLE = {cacheable}
        def run(self, n: int) -> int:
            for i in range(100000):
                print(f"tick {{i}}", flush=True)
                time.sleep(0.02)
            return n

    run_steps(LocalWorkspace(sys.argv[1]), {{"chatty": Chatty(n=1)}}, name="doomed")
    """
)


def _wait(condition, timeout: float = 30.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _step_log(root: Path) -> Path | None:
    logs = list(root.glob("cache/*/logs/*.log")) + list(root.glob("runs/doomed/steps/*/logs/*.log"))
    return logs[0] if logs else None


def _kill_mid_step(tmp_path: Path, cacheable: bool) -> Path:
    tmp_path.mkdir()
    root = tmp_path / "ws"
    script = tmp_path / "pipeline.py"
    script.write_text(PIPELINE.format(cacheable=cacheable))
    proc = subprocess.Popen(
        [sys.executable, str(script), str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        log = _wait(lambda: _step_log(root), what="the step's log")
        # 60 ticks of 20 ms: the log goes on growing well after the last record rewrite.
        _wait(lambda: "tick 60" in log.read_text(), what="60 ticks")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    return root


def test_a_killed_runs_last_sign_of_life_is_its_step_logs_last_write(tmp_path: Path) -> None:
    for cacheable in (True, False):
        root = _kill_mid_step(tmp_path / str(cacheable), cacheable)
        log = _step_log(root)
        assert log is not None
        record = fmt.Layout(root).run_record("doomed")
        seen = last_sign_of_life(root, "doomed")
        assert seen == log.stat().st_mtime
        assert seen > record.stat().st_mtime + 0.5  # the record alone would say "died early"
        # What the runs list (and `tango-tui ls`) shows as the crashed run's end.
        source = open_source(root)
        (row,) = source.list_runs()
        assert row.status == RunStatus.CRASHED
        assert row.last_seen == datetime.fromtimestamp(seen, UTC)
        # And the run view's row of the step that died: its duration stops at its log's end.
        (step,) = source.run_detail("doomed").steps
        assert step.state == StepState.CRASHED and step.end_time is None
        assert step.last_seen == datetime.fromtimestamp(log.stat().st_mtime, UTC)


def test_nothing_to_stat_is_none_and_a_garbled_record_still_gives_its_mtime(
    tmp_path: Path,
) -> None:
    assert last_sign_of_life(tmp_path, "nope") is None
    run_dir = tmp_path / "runs" / "bad"
    run_dir.mkdir(parents=True)
    (run_dir / fmt.RUN_RECORD).write_bytes(b"\x00not json")
    assert last_sign_of_life(tmp_path, "bad") == (run_dir / fmt.RUN_RECORD).stat().st_mtime
