"""Helpers shared by the Tango 1.x reader tests (imported by name: the tests dir is on sys.path)."""

from __future__ import annotations

import hashlib
import os
import select
import subprocess
import textwrap
from pathlib import Path

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "ai2-tango-1.3.2-workspace.tar.gz"
KILLED_SLOW = "SlowStep-4dGt3C98daQizyjcwmKWX7aNkTGjcMp4"
"""The step that was SIGKILLed while running (its record says running)."""


def tree_fingerprint(root: Path) -> dict[str, tuple]:
    """Every entry under ``root``: content hash for files, link text for symlinks, mode, mtime."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_file():
                out[rel] = (
                    "file",
                    hashlib.sha256(p.read_bytes()).hexdigest(),
                    st.st_mode,
                    st.st_mtime_ns,
                )
            else:
                out[rel] = ("dir", st.st_mode, st.st_mtime_ns)
    return out


def wait_line(proc: subprocess.Popen, expected: str, timeout: float = 10.0) -> None:
    """Wait (with a deadline) until ``proc`` prints a line equal to ``expected``."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, f"no {expected!r} from the helper process within {timeout}s"
    line = proc.stdout.readline().strip()
    assert line == expected, (
        f"helper said {line!r}, stderr: {proc.stderr.read() if proc.stderr else ''}"
    )


HOLD_LOCK = textwrap.dedent(
    """
    import fcntl, os, sys
    fd = os.open(sys.argv[1], os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("locked", flush=True)
    sys.stdin.read()  # hold until the test closes our stdin
    """
)
