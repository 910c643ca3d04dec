"""The tango-tui command as a user runs it: real subprocesses, real workspaces."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "ai2-tango-1.3.2-workspace.tar.gz"


def tango_tui(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m tango_tui ARGS`` with the repository on the path."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "tango_tui", *args],
        check=False,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def tango1_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("tango1")
    with tarfile.open(FIXTURE) as tar:
        tar.extractall(dest, filter="tar")
    return dest / "ws"


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace written by the real demo pipeline (real Steps, run_steps, two workers)."""
    ws = tmp_path_factory.mktemp("demo") / "ws"
    proc = tango_tui("demo", "--no-ui", str(ws), env={"TANGO_TUI_DEMO_SPEED": "100"}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return ws


EXPECTED_DEMO_STATES = {
    "load_data": "completed",
    "fetch_vocab": "completed",
    "tokenize": "completed",
    "train": "completed",
    "evaluate": "completed",
    "check_labels": "failed",
    "publish": "incomplete",
    "summary": "uncacheable",
}


# ----- usage and errors --------------------------------------------------------------------------
def test_version_and_help() -> None:
    from tango_tui import __version__

    assert tango_tui("--version").stdout.strip() == f"tango-tui {__version__}"
    out = tango_tui("--help").stdout
    for word in ("ls DIR", "show DIR RUN", "demo", "--poll", "--theme"):
        assert word in out


def test_not_a_workspace_exits_2_with_a_clear_message(tmp_path: Path) -> None:
    (tmp_path / "thesis.tex").write_text("\\documentclass{article}")
    for args in (["ls", str(tmp_path)], ["show", str(tmp_path), "r"], [str(tmp_path)]):
        proc = tango_tui(*args)
        assert proc.returncode == 2, (args, proc)
        assert str(tmp_path) in proc.stderr and "not a tango-tui or Tango workspace" in proc.stderr
        assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_missing_directory_for_headless_commands(tmp_path: Path) -> None:
    proc = tango_tui("ls", str(tmp_path / "nope"))
    assert proc.returncode == 2 and "no such directory" in proc.stderr


def test_empty_workspace_lists_nothing(tmp_path: Path) -> None:
    proc = tango_tui("ls", str(tmp_path))
    assert proc.returncode == 0 and "no runs" in proc.stdout
    assert json.loads(tango_tui("ls", str(tmp_path), "--json").stdout) == []


def test_bad_poll_value_is_a_usage_error(tmp_path: Path) -> None:
    proc = tango_tui(str(tmp_path), "--poll", "-1")
    assert proc.returncode == 2 and "must be > 0" in proc.stderr


def test_unknown_theme_is_a_usage_error(tmp_path: Path) -> None:
    proc = tango_tui(str(tmp_path), "--theme", "no-such-theme")
    assert proc.returncode == 2 and "unknown theme 'no-such-theme'" in proc.stderr


def test_demo_without_a_terminal_refuses(tmp_path: Path) -> None:
    proc = tango_tui("demo", str(tmp_path / "d"))
    assert proc.returncode != 0
    assert "needs a terminal" in proc.stderr and "--no-ui" in proc.stderr
    assert not (tmp_path / "d").exists()


# ----- tango-tui workspace in the documented layout ----------------------------------------------
def test_ls_and_show_on_a_tango_tui_workspace(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "tests" / "monitor"))
    import wsfactory as wf

    from tango_tui.core._model import StepReason, StepState

    wf.init(tmp_path)
    wf.write_run(
        tmp_path,
        "good",
        [wf.row("Load-1", target=False), wf.row("Train-2", dependencies=("Load-1",))],
        end=wf.T0,
        status="completed",
    )
    wf.write_run(
        tmp_path,
        "killed",
        [wf.row("Load-1", StepState.INCOMPLETE, StepReason.PENDING)],
        owner=wf.DEAD_OWNER,
        status="running",
        start=wf.T0.replace(hour=13),
    )
    (tmp_path / "runs" / "torn").mkdir()
    (tmp_path / "runs" / "torn" / "run.json").write_text("{")
    proc = tango_tui("ls", str(tmp_path), "--json")
    assert proc.returncode == 0
    runs = {r["name"]: r for r in json.loads(proc.stdout)}
    assert runs["good"]["status"] == "completed"
    assert runs["good"]["steps"] == {
        "load": {
            "unique_id": "Load-1",
            "state": "completed",
            "start_time": "2026-01-01T12:00:00+00:00",
            "end_time": "2026-01-01T12:00:05+00:00",
            "error": None,
            "reason": "ran",
            "target": False,
        },
        "train": {
            "unique_id": "Train-2",
            "state": "completed",
            "start_time": "2026-01-01T12:00:00+00:00",
            "end_time": "2026-01-01T12:00:05+00:00",
            "error": None,
            "reason": "ran",
            "target": True,
        },
    }
    assert runs["killed"]["status"] == "crashed"
    assert runs["killed"]["steps"]["load"]["reason"] == "not reached"
    assert runs["torn"]["problem"] and "not valid JSON" in runs["torn"]["problem"]
    assert "skipped" in proc.stderr and "torn" in proc.stderr  # the problem is reported, not fatal
    shown = tango_tui("show", str(tmp_path), "good")
    assert shown.returncode == 0
    assert [line.split()[0] for line in shown.stdout.splitlines()[2:4]] == ["load", "train"]


def test_demo_refuses_a_directory_that_is_not_a_workspace(tmp_path: Path) -> None:
    (tmp_path / "paper.md").write_text("draft")
    proc = tango_tui("demo", "--no-ui", str(tmp_path))
    assert proc.returncode == 2 and "not a tango-tui or Tango workspace" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["paper.md"]


# ----- Tango 1.x workspace -----------------------------------------------------------------------
def test_ls_and_show_on_a_tango1_workspace(tango1_ws: Path) -> None:
    runs = json.loads(tango_tui("ls", str(tango1_ws), "--json").stdout)
    by_name = {r["name"]: r for r in runs}
    assert set(by_name) == {"ok-run", "helped-clam", "killed-run", "api-run", "simple-poodle"}
    assert by_name["ok-run"]["status"] == "completed"
    assert by_name["killed-run"]["status"] == "crashed"
    proc = tango_tui("show", str(tango1_ws), "helped-clam", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert {"name", "start_date", "end_date", "status", "steps"} <= doc.keys()
    steps = doc["steps"]
    assert steps["broken"]["state"] == "failed" and "IntentionalFailure" in steps["broken"]["error"]
    assert steps["after_broken"]["state"] == "incomplete"
    for step in steps.values():
        assert {"unique_id", "state", "start_time", "end_time", "error"} <= step.keys()
    killed = json.loads(tango_tui("show", str(tango1_ws), "killed-run", "--json").stdout)
    assert killed["steps"]["slow"]["state"] == "crashed"
    human = tango_tui("show", f"local://{tango1_ws}", "helped-clam")
    assert (
        human.returncode == 0 and "broken" in human.stdout and "dependency failed" in human.stdout
    )
    table = tango_tui("ls", str(tango1_ws)).stdout.splitlines()
    assert table[0].split()[:3] == ["RUN", "STATUS", "STARTED"]
    assert table[1].split()[0] == "killed-run"  # newest first


def test_show_missing_run_exits_1(tango1_ws: Path) -> None:
    proc = tango_tui("show", str(tango1_ws), "no-such-run")
    assert proc.returncode == 1 and "no run named 'no-such-run'" in proc.stderr


# ----- the real executor, through the demo pipeline ----------------------------------------------
def test_demo_no_ui_finishes_with_the_expected_states(demo_ws: Path) -> None:
    runs = json.loads(tango_tui("ls", str(demo_ws), "--json").stdout)
    assert len(runs) == 1
    run = runs[0]
    assert run["status"] == "failed" and run["end_date"] is not None
    assert {name: s["state"] for name, s in run["steps"].items()} == EXPECTED_DEMO_STATES
    assert run["steps"]["publish"]["reason"] == "dependency failed"
    assert "KeyError" in run["steps"]["check_labels"]["error"]
    shown = json.loads(tango_tui("show", str(demo_ws), run["name"], "--json").stdout)
    assert shown["steps"] == run["steps"]


def test_demo_run_again_reuses_cached_steps(demo_ws: Path, tmp_path: Path) -> None:
    import shutil

    ws = tmp_path / "again"
    shutil.copytree(demo_ws, ws, symlinks=True)
    proc = tango_tui("demo", "--no-ui", str(ws), env={"TANGO_TUI_DEMO_SPEED": "100"}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    newest = json.loads(tango_tui("ls", str(ws), "--json").stdout)[0]
    reasons = {name: s["reason"] for name, s in newest["steps"].items()}
    for name in ("load_data", "fetch_vocab", "tokenize", "train", "evaluate"):
        assert reasons[name] == "cached", reasons
    assert reasons["check_labels"] == "ran" and reasons["publish"] == "dependency failed"


def test_human_output_of_a_real_run(demo_ws: Path) -> None:
    name = json.loads(tango_tui("ls", str(demo_ws), "--json").stdout)[0]["name"]
    out = tango_tui("show", str(demo_ws), name).stdout
    lines = out.splitlines()
    assert lines[0].startswith(f"run {name}: failed")
    header = lines[1]
    assert header.split()[:3] == ["STEP", "STATE", "REASON"]
    # Aligned: the STATE column starts at the same offset on every row.
    col = header.index("STATE")
    assert all(line[col - 2 : col] == "  " for line in lines[2:-1])
    assert "textual" not in tango_tui("ls", str(demo_ws)).stderr


def test_headless_commands_do_not_import_textual(tango1_ws: Path) -> None:
    code = (
        "import sys\nfrom tango_tui.cli import main\n"
        f"main(['ls', {str(tango1_ws)!r}])\n"
        "assert 'textual' not in sys.modules, 'textual was imported'\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_demo_in_a_real_terminal_opens_the_dashboard(tmp_path: Path) -> None:
    """`tango-tui demo DIR` in tmux: the dashboard shows the run the background pipeline writes."""
    import re
    import signal
    import time

    session = f"tt-demo-{os.getpid()}"
    ws = tmp_path / "ws"
    command = (
        f"cd {REPO} && TANGO_TUI_DEMO_SPEED=20 PYTHONPATH={REPO} {sys.executable} -m tango_tui demo {ws}"
        " ; sleep 60"
    )

    def screen() -> str:
        return subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", session],
            capture_output=True,
            text=True,
            check=False,
        ).stdout

    def wait_for(pred, what: str) -> str:
        end = time.monotonic() + 30
        while time.monotonic() < end:
            text = screen()
            if pred(text):
                return text
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}:\n{screen()}")

    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "150", "-y", "40", command], check=True
    )
    pid = None
    try:
        shown = wait_for(
            lambda t: "Steps" in t and ("running" in t or "failed" in t), "the runs view"
        )
        assert "tango-tui — " in shown  # the title bar names the workspace
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
        # Back on the normal screen: the launcher's lines, including the pipeline's pid.
        after = wait_for(
            lambda t: "reopen with" in t or "pipeline exited" in t or "(pid" in t, "the app to exit"
        )
        match = re.search(r"\(pid (\d+)", after)
        assert match, after
        pid = int(match.group(1))
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
        # End the detached pipeline we started (if it has not finished by itself).
        if pid is not None:
            try:
                if b"tango_tui.demo" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)
            except (FileNotFoundError, ProcessLookupError):
                pass
