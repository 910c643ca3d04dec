"""A short kill storm (the full one is ``scripts/kill_storm.py``), and the bugs it found, pinned.

The storm's workers run real steps on one LocalWorkspace and are SIGKILLed at random moments;
afterwards every record must parse, no body may have run twice at once, nothing may read RUNNING
without a live owner, completed results must read back intact and a rerun must complete the rest.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from crash_steps import Plain
from crash_support import wait_until

from tango_tui import LocalWorkspace, RunStatus, StepReason, StepState, run_steps

HERE = Path(__file__).resolve().parent


def test_short_kill_storm(fast_dir: Path, load_storm) -> None:
    ks = load_storm
    seed = random.randrange(2**32)
    # --seconds is only a safety bound: the storm ends after 60 step bodies.
    report = ks.run_storm(fast_dir, seconds=60, executions=60, workers=4, seed=seed)
    print(f"seed {seed}\n" + "\n".join(report.lines()))
    assert report.violations == [], f"seed {seed}: {report.violations[:10]}"
    assert report.executions >= 60
    assert report.kills >= 4 and report.spawns >= report.kills
    assert report.steps_checked > 0


def _child(code: str, *args: str) -> subprocess.Popen[bytes]:
    prelude = f"import sys; sys.path.insert(0, {str(HERE)!r})\n"
    return subprocess.Popen([sys.executable, "-c", prelude + textwrap.dedent(code), *args])


def test_kill_between_result_and_record_is_completed_by_the_next_run(tmp_path: Path) -> None:
    """The storm's first find (fixed in core 92b8ebf): the step must not stay CRASHED forever."""
    root = tmp_path / "ws"
    child = _child(
        """
        import os, signal
        from crash_steps import Plain
        from tango_tui import LocalWorkspace
        ws = LocalWorkspace(sys.argv[1])
        step = Plain(x=41)
        ws.step_starting(step)
        ws.step_cache[step] = 41          # what step_finished does first: result + marker
        os.kill(os.getpid(), signal.SIGKILL)   # ... and the process dies before the record
        """,
        str(root),
    )
    assert child.wait(timeout=30) == -signal.SIGKILL
    ws = LocalWorkspace(root)
    step = Plain(x=41)
    assert step in ws.step_cache  # the result is complete
    run = run_steps(ws, {"p": Plain(x=41)}, name="next")
    assert ws.step_info(step).state is StepState.COMPLETED
    assert run.status is RunStatus.COMPLETED


def test_run_that_waited_for_another_process_records_cached_and_completed(tmp_path: Path) -> None:
    """The storm's second find (fixed in core 92b8ebf): no RUNNING/'ran' row in a finished run."""
    root = tmp_path / "ws"
    published, go = tmp_path / "published", tmp_path / "go"
    LocalWorkspace(root)
    child = _child(
        """
        import os, time
        from crash_steps import Plain
        from tango_tui import LocalWorkspace
        ws = LocalWorkspace(sys.argv[1])
        step = Plain(x=7)
        ws.step_starting(step)
        ws.step_cache[step] = 7
        open(sys.argv[2], "w").close()
        deadline = time.monotonic() + 30
        while not os.path.exists(sys.argv[3]) and time.monotonic() < deadline:
            time.sleep(0.01)
        ws.step_finished(step, 7)
        """,
        str(root),
        str(published),
        str(go),
    )
    try:
        wait_until(published.exists, what="the other process to publish the result")
        ws = LocalWorkspace(root)
        done: list[object] = []
        t = threading.Thread(target=lambda: done.append(run_steps(ws, {"p": Plain(x=7)}, name="w")))
        t.start()
        wait_until((root / "runs" / "w" / "run.json").exists, what="the run to be registered")
        # A correct executor waits for the record (RUNNING elsewhere): give a wrong one the time to
        # return early, then release the writer.
        t.join(timeout=1)
    finally:
        go.touch()
        assert child.wait(timeout=30) == 0
    t.join(timeout=30)
    assert done, "run_steps did not return"
    row = ws.registered_run("w").plan[Plain(x=7).unique_id]
    assert row.reason is StepReason.CACHED, "the body ran in the other process, not in this run"
    assert row.state is StepState.COMPLETED
