"""``tango-tui demo [DIR]``: start the example pipeline in the background and watch it."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path


def start_background(directory: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """Start ``python -m tango_tui.demo DIR`` detached from this terminal.

    The pipeline runs in its own session, so it keeps going (and its steps finish) when the
    dashboard is closed. Its stdout/stderr go to a file next to (never inside) the workspace:
    everything the steps say is in the workspace's own logs anyway.

    Returns:
        The process and the path of its console output.
    """
    console = Path(tempfile.mkstemp(prefix="tango-tui-demo-", suffix=".out")[1])
    with open(console, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tango_tui.demo", str(directory)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    return proc, console


def cmd_demo(
    path: str | None,
    *,
    no_ui: bool = False,
    poll_interval: float | None = None,
    theme: str | None = None,
) -> int:
    """Run the demo: in the foreground with ``no_ui``, else in the background plus the dashboard."""
    if not no_ui and not sys.stdout.isatty():
        print(
            "tango-tui demo: the dashboard needs a terminal, and stdout is not one. "
            "Use 'tango-tui demo --no-ui DIR' to run only the pipeline.",
            file=sys.stderr,
        )
        return 2
    if path is None:
        directory = Path(tempfile.mkdtemp(prefix="tango-tui-demo-"))
    else:
        directory = Path(os.path.abspath(path))
        from tango_tui.monitor.source import detect_kind

        if detect_kind(directory) == "tango1":  # NotAWorkspaceError for someone else's directory
            print(
                f"tango-tui demo: {directory} is a Tango 1.x workspace; give another directory",
                file=sys.stderr,
            )
            return 2
    print(f"tango-tui demo: workspace {directory}")
    if no_ui:
        from .pipeline import main

        return main([str(directory)])

    from tango_tui import LocalWorkspace

    # Create the workspace (its marker) now, so the dashboard opens on a workspace, not an
    # unknown directory that the background process has not initialised yet.
    LocalWorkspace(directory)
    proc, console = start_background(directory)
    print(
        f"tango-tui demo: pipeline running in the background (pid {proc.pid}, output in {console})"
    )
    from tango_tui.app import make_app

    app = make_app(str(directory), poll_interval=poll_interval, theme=theme)
    app.run()
    if proc.poll() is None:
        print(
            f"tango-tui demo: the pipeline (pid {proc.pid}) is still running; reopen with: tango-tui {directory}"
        )
    elif proc.returncode != 0:
        print(
            f"tango-tui demo: the pipeline exited with {proc.returncode}; see {console}",
            file=sys.stderr,
        )
    return int(app.return_code or 0)
