"""The dashboard never writes to the workspace it shows.

A separate process drives every view of the real app on the workspace. Where a private mount
namespace can be made (``unshare -m``), the workspace is bind-mounted read-only for it, so any
write attempt fails loudly; everywhere, checksums of every file are compared before and after.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from app_support import checksums

DRIVER = Path(__file__).with_name("readonly_driver.py")


def _read_only_prefix(root: Path) -> list[str]:
    """A command prefix that runs the rest under a read-only bind mount of ``root``, if possible."""
    if shutil.which("unshare") is None:
        return []
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        return []
    inner = f"mount --bind -o ro '{root}' '{root}' && exec \"$@\""
    return ["unshare", "-m", "sh", "-c", inner, "sh"]


def test_every_view_on_a_read_only_workspace_changes_nothing(workspace: Path) -> None:
    before = checksums(workspace)
    cmd = [*_read_only_prefix(workspace), sys.executable, str(DRIVER), str(workspace)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ok" in result.stdout
    assert checksums(workspace) == before
