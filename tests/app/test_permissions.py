"""Permission-denied files are shown where they occur (run as an unprivileged user: root is
never denied anything, see ENVIRONMENT.md)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

DRIVER = Path(__file__).with_name("permission_driver.py")
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def test_unreadable_run_record_and_log_are_reported(workspace: Path) -> None:
    if shutil.which("setpriv") is None or os.geteuid() != 0:
        pytest.skip("needs root and setpriv to act as an unprivileged user")
    probe = subprocess.run(
        [*NOBODY, sys.executable, "-c", "import tango_tui.app"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip("the unprivileged user cannot run this Python")
    # pytest's own temporary directories are private to root: use one others may enter.
    base = Path(tempfile.mkdtemp(prefix="tango-tui-perm-"))
    try:
        ws = Path(shutil.copytree(workspace, base / "ws", symlinks=True))
        for path in [base, *base.rglob("*")]:
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | 0o055)  # readable (and enterable) by others
        (ws / "runs" / "first" / "run.json").chmod(0o600)
        (ws / "runs" / "second" / "out.log").chmod(0o600)
        result = subprocess.run(
            [*NOBODY, sys.executable, str(DRIVER), str(ws)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (
        "RUN-PROBLEM: " in result.stdout
        and "ermission" in result.stdout.split("RUN-PROBLEM:")[1].splitlines()[0]
    )
    log_line = result.stdout.split("LOG-PROBLEM:")[1].splitlines()[0]
    assert "permission denied" in log_line and "out.log" in log_line
