"""Reading a Tango workspace changes nothing in it, and works on a read-only filesystem."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from tango1_support import tree_fingerprint

from tango_tui.core.tango1 import TangoWorkspace, lines_for_step

READ_EVERYTHING = textwrap.dedent(
    """
    import json, sys
    from tango_tui.core.tango1 import TangoWorkspace, lines_for_step
    ws = TangoWorkspace(sys.argv[1])
    out = {name: run.status.value for name, run in ws.registered_runs().items()}
    out["#steps"] = {uid: i.state.value for uid, i in ws.all_step_infos().items()}
    out["#problems"] = [p.message for p in ws.problems]
    out["#lines"] = len(lines_for_step(ws.run_log_path("helped-clam"), "numbers"))
    print(json.dumps(out))
    """
)


def _read_everything(ws_dir: Path) -> None:
    ws = TangoWorkspace(ws_dir)
    for run in ws.registered_runs().values():
        for row in run.plan.values():
            ws.step_info(row.unique_id) if row.error is None else None
            lines_for_step(ws.run_log_path(run.name), row.name)
    ws.search_step_info(match="Slow")
    ws.latest_run_name()
    ws.refresh()


def test_reading_changes_no_byte_and_creates_no_file(tango_ws: Path) -> None:
    before = tree_fingerprint(tango_ws)
    _read_everything(tango_ws)
    assert tree_fingerprint(tango_ws) == before  # no -journal/-wal/-shm, no lock file, no mtime


@pytest.mark.skipif(not shutil.which("unshare"), reason="needs unshare(1)")
def test_works_on_a_read_only_bind_mount(tango_ws: Path) -> None:
    before = tree_fingerprint(tango_ws)
    root = Path(__file__).resolve().parents[3]
    cmd = (
        f"mount --bind -o ro {tango_ws} {tango_ws} && touch {tango_ws}/probe 2>/dev/null; "
        f"exec {sys.executable} -c '{READ_EVERYTHING}' {tango_ws}"
    )
    proc = subprocess.run(
        ["unshare", "-m", "sh", "-c", cmd],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=60,
        check=False,
    )
    if (
        proc.returncode != 0
        and not proc.stdout
        and any(w in proc.stderr for w in ("unshare:", "mount:"))
    ):
        pytest.skip(f"no private read-only mount here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["killed-run"] == "crashed" and out["ok-run"] == "completed"
    assert out["#steps"]["SlowStep-4dGt3C98daQizyjcwmKWX7aNkTGjcMp4"] == "crashed"
    assert out["#problems"] == [] and out["#lines"] > 5
    assert not (tango_ws / "probe").exists()  # the mount really was read-only
    assert tree_fingerprint(tango_ws) == before


def test_unreadable_files_become_problems_not_crashes(tango_ws: Path) -> None:
    # Root reads everything, so the reader runs as "nobody" on a copy with closed files.
    if not shutil.which("setpriv"):
        pytest.skip("needs setpriv(1)")
    with tempfile.TemporaryDirectory() as tmp:  # pytest's own tmp root is closed to others
        os.chmod(tmp, 0o755)
        ws = Path(shutil.copytree(tango_ws, Path(tmp) / "ws", symlinks=True))
        _read_as_nobody(ws)


def _read_as_nobody(tango_ws: Path) -> None:
    for p in [tango_ws, *tango_ws.rglob("*")]:
        if not p.is_symlink():
            p.chmod(0o755 if p.is_dir() else 0o644)
    (tango_ws / "stepinfo.sqlite").chmod(0o600)
    (tango_ws / "runs" / "ok-run").chmod(0o700)
    script = textwrap.dedent(
        """
        import json, sys
        from tango_tui.core.tango1 import TangoWorkspace
        ws = TangoWorkspace(sys.argv[1])
        runs = {n: r.status.value for n, r in ws.registered_runs().items()}
        print(json.dumps({"runs": runs, "problems": [p.message for p in ws.problems]}))
        """
    )
    root = Path(__file__).resolve().parents[3]
    proc = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            sys.executable,
            "-c",
            script,
            str(tango_ws),
        ],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=60,
        check=False,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
    )
    if proc.returncode != 0 and "setpriv" in proc.stderr:
        pytest.skip(f"setpriv not permitted: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out["runs"]) == {"ok-run", "helped-clam", "killed-run", "api-run", "simple-poodle"}
    assert any("cannot read the database" in m for m in out["problems"])
    assert any("Permission denied" in m for m in out["problems"])
