"""Following a real ``tango run`` while it writes (skipped unless ai2-tango is in a side venv).

Set ``TANGO1_VENV`` (default ``/tmp/tango-venv``) to a virtualenv with ``ai2-tango==1.3.2``; it is
never a dependency of the project.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from make_fixtures import STEPS

from tango_tui.core import RunStatus, StepReason, StepState
from tango_tui.core.tango1 import TangoWorkspace

VENV = Path(os.environ.get("TANGO1_VENV", "/tmp/tango-venv"))
pytestmark = pytest.mark.skipif(
    not (VENV / "bin" / "tango").exists(), reason=f"ai2-tango not installed in {VENV}"
)

CONFIG = (
    '{steps: {slow: {type: "mc_emit", n: 12, tag: "live"}, after: {type: "mc_combine", '
    'a: {type: "ref", ref: "slow"}, b: {type: "ref", ref: "slow"}}}}'
)


def _wait(predicate, what: str, proc: subprocess.Popen, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc.poll() is not None and not predicate():
            raise AssertionError(f"tango exited ({proc.returncode}) before: {what}")
        time.sleep(0.02)  # polling interval, not synchronisation: the predicate decides
    raise AssertionError(f"timed out waiting for: {what}")


def test_follows_a_real_tango_run(tmp_path: Path) -> None:
    (tmp_path / "mcsteps.py").write_text(STEPS)
    (tmp_path / "config.jsonnet").write_text(CONFIG)
    ws_dir = tmp_path / "ws"
    env = dict(os.environ, PATH=f"{VENV / 'bin'}:{os.environ['PATH']}", PYTHONPATH=str(tmp_path))
    ws = TangoWorkspace(ws_dir)
    assert ws.registered_runs() == {} and ws.refresh() == set()  # nothing there yet, no error
    proc = subprocess.Popen(
        [
            "tango",
            "--log-level",
            "info",
            "run",
            "config.jsonnet",
            "-w",
            str(ws_dir),
            "-i",
            "mcsteps",
            "-n",
            "live-run",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        slow_uid = _wait(
            lambda: next(
                (
                    i.unique_id
                    for i in ws.all_step_infos().values()
                    if i.step_name == "slow" and i.state == StepState.RUNNING
                ),
                None,
            ),
            "the slow step to run",
            proc,
        )
        run = ws.registered_run("live-run")
        assert run.status == RunStatus.RUNNING and ws.latest_run_name() == "live-run"
        _wait(
            lambda: "tick 5 of live" in (ws.run_log_path("live-run").read_text()),
            "log growth",
            proc,
        )
        assert ws.step_info(slow_uid).state == StepState.RUNNING  # lock held per /proc/locks
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err  # our reads never made Tango's commits fail
    changed = ws.refresh()
    assert slow_uid in changed
    run = ws.registered_run("live-run")
    assert run.status == RunStatus.COMPLETED
    assert {r.name: r.state for r in run.plan.values()} == {
        "slow": StepState.COMPLETED,
        "after": StepState.COMPLETED,
    }
    # Run again: everything comes from the cache, and `latest` moves to the new run.
    proc = subprocess.run(
        [
            "tango",
            "--log-level",
            "info",
            "run",
            "config.jsonnet",
            "-w",
            str(ws_dir),
            "-i",
            "mcsteps",
            "-n",
            "live-run-2",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert ws.latest_run_name() == "live-run-2"
    again = ws.registered_run("live-run-2")
    assert again.status == RunStatus.COMPLETED
    assert {r.name: r.reason for r in again.plan.values()} == {
        "slow": StepReason.CACHED,
        "after": StepReason.CACHED,
    }
    assert [r.name for r in ws.search_registered_runs()] == ["live-run-2", "live-run"]
