"""Every OSError of the monitor's read paths becomes a WorkspaceError or a SourceProblem naming the
path; the CLI prints it instead of a traceback. Permissions are probed as user nobody (root reads
everything), in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import wsfactory as wf
from wsfactory import T0

REPO = Path(__file__).resolve().parents[2]
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

PROBE = """
import json, sys
from tango_tui.core._errors import WorkspaceError
from tango_tui.monitor.source import open_source
src = open_source(sys.argv[1])
out = {"rows": [r.name for r in src.list_runs()], "problems": [str(p) for p in src.problems]}
try:
    src.run_detail("first")
    out["detail"] = "ok"
except WorkspaceError as e:
    out["detail"] = "WorkspaceError: " + str(e)
except KeyError as e:
    out["detail"] = "KeyError"
print(json.dumps(out))
"""


def _as_nobody(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*NOBODY, sys.executable, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd="/",
        check=False,
        timeout=60,
    )


@pytest.fixture
def shared_ws() -> Iterator[Path]:
    """A workspace nobody can reach (pytest's tmp dirs are 0700), permissions restored after."""
    if shutil.which("setpriv") is None or os.geteuid() != 0:
        pytest.skip("needs root and setpriv to probe as user nobody")
    top = Path(tempfile.mkdtemp(prefix="tango-tui-denied-"))
    top.chmod(0o755)
    root = top / "ws"
    wf.init(root)
    wf.write_run(root, "first", [wf.row("A-1")], end=T0, status="completed")
    try:
        yield root
    finally:
        for dirpath, dirnames, _ in os.walk(top):
            for d in dirnames:
                os.chmod(os.path.join(dirpath, d), 0o755)
        shutil.rmtree(top, ignore_errors=True)


def test_unreadable_runs_dir_is_a_problem_and_show_names_it(shared_ws: Path) -> None:
    (shared_ws / "runs").chmod(0)
    probe = _as_nobody("-c", PROBE, str(shared_ws))
    assert probe.returncode == 0, probe.stderr
    out = json.loads(probe.stdout)
    assert out["rows"] == []
    assert out["problems"] == [f"{shared_ws / 'runs'}: Permission denied"]
    assert out["detail"].startswith(f"WorkspaceError: {shared_ws / 'runs' / 'first'}")
    assert "Permission denied" in out["detail"]
    show = _as_nobody("-m", "tango_tui", "show", str(shared_ws), "first")
    assert show.returncode == 2 and "Traceback" not in show.stderr, show.stderr
    assert show.stderr.startswith(f"tango-tui: {shared_ws / 'runs' / 'first'}")
    ls = _as_nobody("-m", "tango_tui", "ls", str(shared_ws))
    assert ls.returncode == 0, ls.stderr
    assert f"skipped {shared_ws / 'runs'}: Permission denied" in ls.stderr


def test_unreachable_workspace_parent_is_an_error_not_a_traceback(shared_ws: Path) -> None:
    shared_ws.parent.chmod(0o700)  # nobody cannot even reach the workspace
    for args in (["ls", str(shared_ws)], ["show", str(shared_ws), "first"]):
        proc = _as_nobody("-m", "tango_tui", *args)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.startswith("tango-tui: ") and str(shared_ws) in proc.stderr
        assert "ermission denied" in proc.stderr
