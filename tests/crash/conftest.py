"""Fixtures of the crash, concurrency and bad-input tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The helpers live next to this file under a name no other test directory uses.
sys.path.insert(0, str(HERE))

import pytest


@pytest.fixture(scope="session")
def load_storm():
    """``scripts/kill_storm.py`` as a module."""
    from crash_support import load_kill_storm

    return load_kill_storm()


@pytest.fixture
def fast_dir(tmp_path):
    """A fresh directory on tmpfs (``/dev/shm``) when there is one, else ``tmp_path``.

    fsync costs nothing there, so a storm gets through its executions quickly on a busy CI disk;
    the full ``scripts/kill_storm.py`` run uses a real disk.
    """
    import shutil
    import tempfile
    from pathlib import Path

    if not os.path.isdir("/dev/shm") or not os.access("/dev/shm", os.W_OK):
        yield tmp_path
        return
    path = Path(tempfile.mkdtemp(prefix="tango-tui-crash-", dir="/dev/shm"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
