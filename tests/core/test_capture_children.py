"""Processes a step started end when its worker is stopped (SIGTERM to the executor)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tango_tui.core._signals import _is_zombie, _start_time

REPO = Path(__file__).resolve().parent.parent.parent

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="Linux /proc and prctl"
)

SCRIPT = textwrap.dedent(
    """
    import json, os, subprocess, sys, time
    from pathlib import Path
    from tango_tui import LocalWorkspace, Step, run_steps

    class InSystem(Step):
        # Waits in os.system (C code): the worker cannot act on SIGTERM; the executor kills it.
        def run(self, pid_file):
            os.system(f"sleep 600 & echo $! > {pid_file}.tmp; mv {pid_file}.tmp {pid_file}; wait")
            return 1

    class Orphans(Step):
        # A grandchild whose parent (sh) exits at once: only a subreaper still sees it.
        def run(self, pid_file):
            subprocess.run(["sh", "-c", f"sleep 600 & echo $! > {pid_file}.tmp; mv {pid_file}.tmp {pid_file}"])
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                time.sleep(0.01)
            return 1

    ws = LocalWorkspace(sys.argv[1])
    d = Path(sys.argv[2])
    steps = {"sys": InSystem(pid_file=str(d / "sys.pid")), "orphan": Orphans(pid_file=str(d / "orphan.pid"))}
    try:
        run_steps(ws, steps, name="r", parallelism=2)
    except KeyboardInterrupt:
        pass
    """
)


def _gone(pid: int, started: str) -> bool:
    return _start_time(pid) != started or _is_zombie(pid)


def test_stopping_a_parallel_run_ends_the_processes_its_steps_started(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    err_file = tmp_path / "stderr"
    with err_file.open("wb") as err:  # a file: surviving processes cannot hold up our reading
        proc = subprocess.Popen(
            [sys.executable, "-c", SCRIPT, str(tmp_path / "ws"), str(tmp_path)],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
        )
    pid_files = [tmp_path / "sys.pid", tmp_path / "orphan.pid"]
    sleeps: list[tuple[int, str]] = []
    try:
        deadline = time.monotonic() + 60
        while not all(p.exists() for p in pid_files) and time.monotonic() < deadline:
            time.sleep(0.01)  # polling for a condition, with a deadline
        assert all(p.exists() for p in pid_files), err_file.read_text()
        for p in pid_files:
            pid = int(p.read_text())
            started = _start_time(pid)
            assert started is not None
            sleeps.append((pid, started))
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        assert proc.returncode == -signal.SIGTERM, err_file.read_text()
        deadline = time.monotonic() + 30
        while not all(_gone(*s) for s in sleeps) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert all(_gone(*s) for s in sleeps), sleeps
        assert (
            b"ignored SIGTERM; killing it"
            in (tmp_path / "ws" / "runs" / "r" / "out.log").read_bytes()
        )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid, started in sleeps:
            if not _gone(pid, started):
                os.kill(pid, signal.SIGKILL)
