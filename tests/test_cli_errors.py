"""The tango-tui command on user mistakes and damaged runs: real subprocesses, real workspaces."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from datetime import timedelta
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "ai2-tango-1.3.2-workspace.tar.gz"
sys.path.insert(0, str(REPO / "tests" / "monitor"))
import wsfactory as wf


def tango_tui(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m tango_tui ARGS`` with stdin and stdout not terminals (as under CI or cron)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("TANGO_TUI_ALLOW_NO_TTY", None)
    return subprocess.run(
        [sys.executable, "-m", "tango_tui", *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
    )


def test_a_mistyped_command_is_not_a_workspace_to_wait_for(tmp_path: Path) -> None:
    proc = tango_tui("sho", cwd=tmp_path)
    assert proc.returncode == 2
    assert "no such directory 'sho' (did you mean 'show'?)" in proc.stderr
    proc = tango_tui("bogus-cmd", cwd=tmp_path)
    assert proc.returncode == 2 and "no such directory 'bogus-cmd'" in proc.stderr
    assert "./bogus-cmd" in proc.stderr  # how to say "wait for it" instead
    assert "Traceback" not in proc.stderr and list(tmp_path.iterdir()) == []


def test_dashboard_without_a_terminal_refuses(tmp_path: Path) -> None:
    # A path with a slash is waited for: it gets as far as starting the dashboard, which then
    # refuses because stdin/stdout are not terminals (instead of drawing into a pipe forever).
    for path in ("./ws", str(tmp_path / "not" / "yet")):
        proc = tango_tui(path, cwd=tmp_path)
        assert proc.returncode == 2, proc
        assert "needs a terminal" in proc.stderr and "tango-tui ls" in proc.stderr
        assert "no such directory" not in proc.stderr and proc.stdout == ""
    assert list(tmp_path.iterdir()) == []  # never creates what it watches


def test_show_of_a_torn_run_record_fails_naming_the_path(tmp_path: Path) -> None:
    from tango_tui import LocalWorkspace

    ws = LocalWorkspace(tmp_path)
    run = ws.register_run({}, name="torn")
    record = tmp_path / "runs" / run.name / "run.json"
    raw = record.read_bytes()
    record.write_bytes(raw[: len(raw) // 2])  # cut inside, as a copy interrupted midway
    for extra in ((), ("--json",)):
        proc = tango_tui("show", str(tmp_path), "torn", *extra)
        assert proc.returncode == 1, proc
        assert str(record) in proc.stderr and "not valid JSON" in proc.stderr
        assert proc.stdout == ""


def test_ls_duration_of_a_crashed_run_stops_at_its_last_update(tmp_path: Path) -> None:
    from tango_tui.core._model import StepReason, StepState

    wf.init(tmp_path)
    rec = wf.write_run(
        tmp_path,
        "killed",
        [wf.row("Load-1", StepState.INCOMPLETE, StepReason.PENDING)],
        owner=wf.DEAD_OWNER,
        status="running",
    )
    last = (wf.T0 + timedelta(minutes=1, seconds=30)).timestamp()
    os.utime(rec, (last, last))  # its executor's last rewrite, 90 s after the start
    proc = tango_tui("ls", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    line = next(line for line in proc.stdout.splitlines() if line.startswith("killed"))
    assert line.split()[1] == "crashed" and "1:30" in line.split()


@pytest.fixture(scope="module")
def tango1_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("tango1")
    with tarfile.open(FIXTURE) as tar:
        tar.extractall(dest, filter="tar")
    return dest / "ws"


def test_headless_commands_take_workspace_urls(tango1_ws: Path) -> None:
    plain = tango_tui("ls", str(tango1_ws))
    assert plain.returncode == 0 and plain.stdout.strip()
    for url in (f"tango1://{tango1_ws}", f"local://{tango1_ws}"):
        proc = tango_tui("ls", url)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == plain.stdout


def test_demo_help_describes_its_options() -> None:
    out = tango_tui("demo", "--help").stdout
    assert "DIR" in out and "fresh temporary directory" in out
    no_ui = out[out.index("--no-ui  ") :]
    assert "foreground" in no_ui.split("--poll")[0]
    assert "--poll SECONDS" in out and "--theme NAME" in out
