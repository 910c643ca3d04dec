"""Two ``run_steps`` in separate processes on overlapping pipelines share their common steps.

Each body journals ``start``/``end`` lines (O_APPEND) outside the workspace: a shared step's body
must run once, never twice at the same time, and the run that did not execute it records it as
cached (it took the other process's result, or waited for it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from crash_steps import Slow
from crash_support import intervals, overlaps, wait_until

from tango_tui import LocalWorkspace, RunStatus, StepReason, StepState

HERE = Path(__file__).resolve().parent

CHILD = textwrap.dedent(
    """
    import os, sys, time
    sys.path.insert(0, sys.argv[1])
    from crash_steps import Slow
    from tango_tui import LocalWorkspace, run_steps
    root, who, parallelism, sync = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
    left, right = Slow(x="left", secs=0.1), Slow(x="right", secs=0.1)
    shared = Slow(x="shared", inputs=[left, right], secs=0.1)
    own = Slow(x=who, inputs=shared, secs=0.02, step_name=f"own-{who}")
    ws = LocalWorkspace(root)
    open(os.path.join(sync, f"ready-{who}"), "w").close()
    deadline = time.monotonic() + 30   # both start together once both are ready
    while not os.path.exists(os.path.join(sync, "go")) and time.monotonic() < deadline:
        time.sleep(0.002)
    run = run_steps(ws, {f"own-{who}": own, "shared": shared}, name=f"run-{who}",
                    parallelism=parallelism)
    print(run.status.value)
    """
)


def _shared_steps() -> list[Slow]:
    left, right = Slow(x="left", secs=0.1), Slow(x="right", secs=0.1)
    return [left, right, Slow(x="shared", inputs=[left, right], secs=0.1)]


@pytest.mark.parametrize("parallelism", [1, 2])
def test_overlapping_pipelines_share_steps_and_never_run_one_twice(
    tmp_path: Path, parallelism: int
) -> None:
    root, journal, sync = tmp_path / "ws", tmp_path / "journal.txt", tmp_path / "sync"
    sync.mkdir()
    LocalWorkspace(root)
    env = {**os.environ, "CRASH_JOURNAL": str(journal)}
    args = [str(HERE), str(root)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, *args, who, str(parallelism), str(sync)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for who in ("a", "b")
    ]
    try:
        wait_until(lambda: len(os.listdir(sync)) == 2, what="both processes ready")
        (sync / "go").touch()
        outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0, 0]
    assert outs == ["completed", "completed"]

    spans = intervals(journal)
    assert overlaps(spans) == []
    shared = _shared_steps()
    for step in shared:
        assert len(spans[step.unique_id]) == 1, f"{step} ran {len(spans[step.unique_id])} times"
    assert len(spans) == 5  # 3 shared + each run's own step

    ws = LocalWorkspace(root)
    runs = {who: ws.registered_run(f"run-{who}") for who in ("a", "b")}
    assert all(r.status is RunStatus.COMPLETED for r in runs.values())
    for step in shared:
        assert ws.step_info(step).state is StepState.COMPLETED
        rows = {who: r.plan[step.unique_id] for who, r in runs.items()}
        assert all(row.state is StepState.COMPLETED for row in rows.values()), rows
        reasons = sorted(row.reason.value for row in rows.values())
        assert reasons == ["cached", "ran"], f"{step.unique_id}: {reasons}"
        if parallelism == 1:  # else the body ran in one of the executor's worker processes
            ran_in = next(who for who, row in rows.items() if row.reason is StepReason.RAN)
            assert spans[step.unique_id][0][2] == procs[0 if ran_in == "a" else 1].pid
    for who, run in runs.items():
        own = next(r for r in run.plan.values() if r.name == f"own-{who}")
        assert own.reason is StepReason.RAN and own.state is StepState.COMPLETED
