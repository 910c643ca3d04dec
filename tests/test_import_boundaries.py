"""The library half stays UI-free: importing it loads neither textual nor watchdog."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

PROBE = """
import json, sys
import tango_tui.core
import tango_tui
from tango_tui import LocalWorkspace
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("textual", "watchdog", "rich"))
ours = sorted(m for m in sys.modules if m.startswith("tango_tui.") and not m.startswith("tango_tui.core"))
print(json.dumps({"heavy": heavy, "ours": ours}))
"""


def _env() -> dict[str, str]:
    extra = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *([extra] if extra else [])])}


def test_importing_the_library_loads_no_ui() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["heavy"] == []
    assert [m for m in out["ours"] if m.startswith(("tango_tui.app", "tango_tui.monitor"))] == []


def test_import_linter_contracts_hold() -> None:
    exe = Path(sys.executable).parent / "lint-imports"
    if not exe.exists():
        found = shutil.which("lint-imports")
        if found is None:
            pytest.skip("import-linter is not installed")
        exe = Path(found)
    proc = subprocess.run(
        [str(exe), "--no-cache"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "broken" not in proc.stdout.lower() or "0 broken" in proc.stdout.lower()
