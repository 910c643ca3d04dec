"""Drive a terminal app in a real (tmux) terminal and watch what it paints and what it costs.

Textual's headless mode skips writing frames to the terminal, which is a large part of a TUI's
CPU time while following a fast log; so figures about CPU, memory and "time until the last line
shows" are taken with the app in a real pseudo-terminal: a tmux pane, read back with
``tmux capture-pane``. The app's own process is measured through ``/proc/<pid>``.
tmux runs on its own socket (``-L``) so it never touches anyone else's sessions.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Self

SOCKET = f"tango-tui-bench-{os.getpid()}"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def have_tmux() -> bool:
    """Whether tmux is installed."""
    from shutil import which

    return which("tmux") is not None


class TmuxApp:
    """One app in one tmux session of ``width`` x ``height`` cells."""

    def __init__(
        self,
        argv: list[str],
        *,
        width: int = 160,
        height: int = 45,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ):
        self.name = f"b{time.monotonic_ns()}"
        self.argv = argv
        self.width, self.height = width, height
        self.env = env or {}
        self.cwd = cwd
        self.pid: int | None = None
        self.started: float = 0.0

    def _tmux(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(
            ["tmux", "-L", SOCKET, *args], capture_output=True, text=True, check=check
        )
        return proc.stdout

    def start(self) -> float:
        """Launch the app; return the monotonic time just before the launch."""
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
        cd = f"cd {shlex.quote(str(self.cwd))} && " if self.cwd else ""
        # exec: the pane's process is the app itself, so /proc/<pane_pid> measures the app.
        command = f"{cd}exec env TERM=xterm-256color COLORTERM=truecolor {exports} " + " ".join(
            shlex.quote(a) for a in self.argv
        )
        self.started = time.monotonic()
        self._tmux(
            "new-session",
            "-d",
            "-s",
            self.name,
            "-x",
            str(self.width),
            "-y",
            str(self.height),
            command,
        )
        self.pid = int(self._tmux("display-message", "-p", "-t", self.name, "#{pane_pid}").strip())
        return self.started

    def capture(self) -> str:
        """The text currently on the pane."""
        return self._tmux("capture-pane", "-p", "-t", self.name, check=False)

    def wait_for(
        self, predicate: Callable[[str], bool], timeout: float, every: float = 0.005
    ) -> float | None:
        """Poll the pane until ``predicate(text)``; return the monotonic time, or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.capture()):
                return time.monotonic()
            if not self.alive():
                return None
            time.sleep(every)
        return None

    def alive(self) -> bool:
        return self.pid is not None and Path(f"/proc/{self.pid}").exists()

    def cpu_seconds(self) -> float:
        """User + system CPU time of the app process so far (all its threads)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def memory_mb(self) -> dict[str, float]:
        """VmHWM (peak RSS), VmRSS, RssAnon, RssFile of the app process, in MB."""
        out = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0]) / 1024
        return out

    def send_keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", self.name, *keys)

    def stop(self) -> None:
        """Kill the session (and so the app); waits until the app process is gone."""
        self._tmux("kill-session", "-t", self.name, check=False)
        deadline = time.monotonic() + 10
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.02)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def kill_server() -> None:
    """Stop our private tmux server (only ours: it lives on our own socket)."""
    subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True, check=False)
    # tmux leaves its socket file behind; it is ours (named after our pid), so remove it.
    tmpdir = os.environ.get("TMUX_TMPDIR", "/tmp")
    Path(tmpdir, f"tmux-{os.getuid()}", SOCKET).unlink(missing_ok=True)
