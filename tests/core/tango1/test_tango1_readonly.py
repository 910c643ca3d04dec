"""Reading a Tango workspace changes nothing in it, and works on a read-only filesystem."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
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
    cmd = f"mount --bind -o ro {tango_ws} {tango_ws} && touch {tango_ws}/probe 2>/dev/null; " \
          f"exec {sys.executable} -c '{READ_EVERYTHING}' {tango_ws}"
    proc = subprocess.run(["unshare", "-m", "sh", "-c", cmd], capture_output=True, text=True,
                          cwd=root, timeout=60, check=False)
    if proc.returncode != 0 and not proc.stdout and any(w in proc.stderr for w in ("unshare:", "mount:")):
        pytest.skip(f"no private read-only mount here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["killed-run"] == "crashed" and out["ok-run"] == "completed"
    assert out["#steps"]["SlowStep-4dGt3C98daQizyjcwmKWX7aNkTGjcMp4"] == "crashed"
    assert out["#problems"] == [] and out["#lines"] > 5
    assert not (tango_ws / "probe").exists()  # the mount really was read-only
    assert tree_fingerprint(tango_ws) == before
