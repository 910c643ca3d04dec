"""Every dashboard view and the headless commands on a read-only copy of a real workspace.

The copy (written by ``run_steps``, with a failed step) is made read-only twice over: ``chmod -R
a-w`` with the probes running as user nobody (root ignores permissions), and, where a private
mount namespace can be made, a read-only bind mount. Checksums of every file (and the listing)
must be unchanged afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from corpus_cases import build_base
from crash_steps import Fail, Plain
from crash_support import tree_checksums

HERE = Path(__file__).resolve().parent
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
BOOM = Fail(x=Plain(x=1)).unique_id


@pytest.fixture
def ro_copy() -> Iterator[tuple[Path, Path]]:
    """(workspace, scratch): a workspace in a world-readable directory, and a writable scratch."""
    top = Path(tempfile.mkdtemp(prefix="tango-tui-ro-"))
    top.chmod(0o755)
    scratch = top / "scratch"
    scratch.mkdir()
    scratch.chmod(0o777)
    build_base(top / "ws")
    try:
        yield top / "ws", scratch
    finally:
        for dirpath, dirnames, _ in os.walk(top):
            os.chmod(dirpath, 0o755)
        shutil.rmtree(top, ignore_errors=True)


def _chmod_read_only(root: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*filenames, *dirnames]:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p):
                mode = stat.S_IMODE(os.lstat(p).st_mode)
                os.chmod(p, mode & ~0o222)
    os.chmod(root, stat.S_IMODE(os.stat(root).st_mode) & ~0o222)


def _probe(prefix: list[str], root: Path, scratch: Path) -> dict[str, Any]:
    spec = [{"id": "ro", "root": str(root), "run": "second", "uid": BOOM, "log_screen": True}]
    spec_file, result_file = scratch / "spec.json", scratch / "result.json"
    spec_file.write_text(json.dumps(spec))
    env = {**os.environ, "HOME": str(scratch), "TZ": "UTC"}
    cmd = [*prefix, sys.executable, str(HERE / "crash_corpus.py"), str(spec_file), str(result_file)]
    proc = subprocess.run(cmd, env=env, capture_output=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-4000:]
    return json.loads(result_file.read_text())["ro"]


def _check(res: dict[str, Any]) -> None:
    lib, cli, app = res["lib"], res["cli"], res["app"]
    assert lib["foreign"] == [] and lib["errors"] == [], lib
    assert lib["runs"] == ["first", "second"]
    for call in cli:
        assert call["traceback"] is None and call["code"] == 0, call
        assert "skipped" not in call["err"], call
    assert "second" in cli[0]["out"] and "first" in cli[0]["out"]
    assert "boom" in cli[2]["out"] and "failed" in cli[2]["out"]
    assert app["error"] is None, app["error"]
    assert app["visited"] == ["runs", "run", "step", "log", "help"]
    assert app["final_screen"] == "RunsScreen"
    text = app["text"]
    assert "planned failure on 1" in text  # the failed step's error, in the step view
    assert "Run 'second'" in text  # the run's log, in the log view


def _nobody_works() -> bool:
    if shutil.which("setpriv") is None:
        return False
    return subprocess.run([*NOBODY, "true"], capture_output=True, check=False).returncode == 0


def test_every_view_on_a_chmod_read_only_copy(ro_copy: tuple[Path, Path]) -> None:
    if not _nobody_works():
        pytest.skip("cannot switch to user nobody here (setpriv)")
    root, scratch = ro_copy
    _chmod_read_only(root)
    before = tree_checksums(root)
    # Root ignores the missing write bits: the probes run as nobody, for whom they are real.
    denied = subprocess.run(
        [*NOBODY, "touch", str(root / "probe")], capture_output=True, check=False
    )
    assert denied.returncode != 0
    _check(_probe(NOBODY, root, scratch))
    assert tree_checksums(root) == before


def _bind_mount_prefix(root: Path) -> list[str] | None:
    if shutil.which("unshare") is None:
        return None
    inner = 'mount --bind -o ro "$0" "$0" && touch "$0/probe" 2>/dev/null && exit 3 || exec "$@"'
    prefix = ["unshare", "-m", "sh", "-c", inner, str(root)]
    works = subprocess.run([*prefix, "true"], capture_output=True, check=False)
    return prefix if works.returncode == 0 else None


def test_every_view_on_a_read_only_bind_mount(ro_copy: tuple[Path, Path]) -> None:
    root, scratch = ro_copy
    prefix = _bind_mount_prefix(root)
    if prefix is None:
        pytest.skip("no private mount namespace here (unshare -m / mount --bind not permitted)")
    before = tree_checksums(root)
    _check(_probe(prefix, root, scratch))
    assert tree_checksums(root) == before
    assert not (root / "probe").exists()
