"""Other workspaces made by real Tango: the multicore executor's log, the version-1 layout, and
runs whose liveness only the log writer tells."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tango1_support import wait_line

from tango_tui.core import RunStatus, StepReason, StepState
from tango_tui.core.tango1 import TangoWorkspace, lines_for_step

MC = {
    "Emit-444UVjnVVGEf1i7fk6h4TgZ542H3fmms": "left",
    "Emit-4Bg8cz9CbwaF5913NmZt7cNTUWXSas5v": "right",
    "Combine-2a4UwbaU2jyifuV6pMe5iPsSrQHT3qto": "both",
    "Explode-4LFqksUkyPrhjPN3gm3VqdjqMa2Yxien": "boom",
}


def test_multicore_run(unpack) -> None:
    ws = TangoWorkspace(unpack("tango-1.3.2-multicore.tar.gz"))
    run = ws.registered_run("multi-run")
    assert run.status == RunStatus.FAILED
    rows = {r.name: r for r in run.plan.values()}
    assert {n: (r.state, r.reason) for n, r in rows.items()} == {
        "left": (StepState.COMPLETED, StepReason.RAN),
        "right": (StepState.COMPLETED, StepReason.RAN),
        "both": (StepState.COMPLETED, StepReason.RAN),
        # Real Tango resets the failed step's record under -j; the run log says it failed.
        "boom": (StepState.FAILED, StepReason.RAN),
    }
    assert ws.step_info("Explode-4LFqksUkyPrhjPN3gm3VqdjqMa2Yxien").state == StepState.INCOMPLETE
    left = lines_for_step(ws.run_log_path("multi-run"), "left")
    assert len(left) == 6 and all("[step left]" in line for line in left)
    boom = lines_for_step(ws.run_log_path("multi-run"), "boom")
    assert any("RuntimeError: exploded 12" in line for line in boom)  # the traceback goes along
    assert ws.latest_run_name() == "multi-run"


def test_version_1_layout(unpack) -> None:
    ws = TangoWorkspace(unpack("tango-v1-layout.tar.gz"))
    assert ws.version == 1 and not (ws.dir / "stepinfo.sqlite").exists()
    infos = ws.all_step_infos()
    assert {uid: i.step_name for uid, i in infos.items()} == MC
    assert all(i.cacheable for i in infos.values())  # version 1 had no such field
    assert infos["Combine-2a4UwbaU2jyifuV6pMe5iPsSrQHT3qto"].state == StepState.COMPLETED
    assert ws.registered_run("multi-run").status == RunStatus.FAILED
    assert ws.problems == []
    # A planted payload in a stepinfo.dill is refused like a database row.
    assert len(ws.refresh()) == 4  # everything read so far, once
    evil = ws.dir / "cache" / "Evil-1"
    evil.mkdir()
    (evil / "stepinfo.dill").write_bytes(
        b"\x80\x04\x8c\x05posix\x8c\x06system\x93\x8c\x04true\x85R."
    )
    assert ws.refresh() == {"Evil-1"}
    assert [(p.key, "refused global posix.system" in p.message) for p in ws.problems] == [
        ("Evil-1", True)
    ]


APPEND = textwrap.dedent(
    """
    import sys
    f = open(sys.argv[1], "a")
    print("open", flush=True)
    sys.stdin.read()
    """
)


def test_run_without_locks_is_alive_while_its_log_is_written(tango_ws: Path) -> None:
    # An uncacheable step holds no lock: only the executor's open out.log says the run lives.
    run_dir = tango_ws / "runs" / "uncached-run"
    run_dir.mkdir()
    uid = "Uncacheable-4KSNXAgqMPeCwiqM2bKoy1si6YrHzruH"
    (run_dir / "stepinfo.json").write_text(json.dumps({"count_uncached": uid}))
    (run_dir / "out.log").write_text(
        "[11/29/26 06:24:20] INFO     Starting new run uncached-run\n"
        '[11/29/26 06:24:20] INFO     ● Starting step "count_uncached"...\n'
    )
    ws = TangoWorkspace(tango_ws)
    proc = subprocess.Popen(
        [sys.executable, "-c", APPEND, str(run_dir / "out.log")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        wait_line(proc, "open")
        run = ws.registered_run("uncached-run")
        assert run.status == RunStatus.RUNNING and run.plan[uid].state == StepState.RUNNING
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
        proc.stdout.close()
    run = ws.registered_run("uncached-run")
    assert run.status == RunStatus.CRASHED and run.plan[uid].state == StepState.CRASHED
