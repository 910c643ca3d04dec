"""Smoke test in a real terminal: ``tango-tui DIR`` in tmux, keys sent, the screen read back."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed")


def _capture(session: str) -> str:
    return subprocess.run(
        [TMUX, "capture-pane", "-p", "-t", session], capture_output=True, text=True, check=True
    ).stdout  # type: ignore[list-item]


def _wait_screen(session: str, *needles: str, timeout: float = 15.0) -> str:
    # All needles in one capture: a capture can catch a frame half drawn.
    deadline = time.monotonic() + timeout
    needle = " and ".join(needles)
    while True:
        screen = _capture(session)
        if all(n in screen for n in needles):
            return screen
        if time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} not on screen after {timeout}s:\n{screen}")
        time.sleep(0.05)  # polling a terminal: there is no event to wait on


def test_tango_tui_in_tmux(workspace: Path) -> None:
    exe = Path(sys.executable).with_name("tango-tui")
    if not exe.exists():
        pytest.skip("the tango-tui script is not installed in this environment")
    session = f"tt-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        [
            TMUX,
            "new-session",
            "-d",
            "-s",
            session,
            "-x",
            "160",
            "-y",
            "45",
            # pytest exports COLUMNS/LINES; Textual would prefer them to the pane size.
            f"env -u COLUMNS -u LINES {exe} {workspace}",
        ],
        check=True,
    )  # type: ignore[list-item]
    try:
        _wait_screen(session, "second", "first", "failed", "completed")
        subprocess.run([TMUX, "send-keys", "-t", session, "Enter"], check=True)  # type: ignore[list-item]
        _wait_screen(session, "dependency failed: boom", "after_boom", "cached")
        subprocess.run([TMUX, "send-keys", "-t", session, "n", "Enter"], check=True)  # type: ignore[list-item]
        _wait_screen(session, "Traceback")
        subprocess.run([TMUX, "send-keys", "-t", session, "q"], check=True)  # type: ignore[list-item]
        deadline = time.monotonic() + 10
        while (
            subprocess.run(
                [TMUX, "has-session", "-t", session],  # type: ignore[list-item]
                capture_output=True,
                check=False,
            ).returncode
            == 0
        ):
            assert time.monotonic() < deadline, "tango-tui did not quit on q"
            time.sleep(0.05)
    finally:
        subprocess.run([TMUX, "kill-session", "-t", session], capture_output=True, check=False)  # type: ignore[list-item]
