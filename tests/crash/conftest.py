"""Fixtures of the crash, concurrency and bad-input tests."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
# The helpers live next to this file under names no other test directory uses.
sys.path.insert(0, str(HERE))


@pytest.fixture(scope="session")
def load_storm() -> Any:
    """``scripts/kill_storm.py`` as a module."""
    from crash_support import load_kill_storm

    return load_kill_storm()


@pytest.fixture
def fast_dir(tmp_path: Path) -> Iterator[Path]:
    """A fresh directory on tmpfs (``/dev/shm``) when there is room, else ``tmp_path``.

    fsync costs nothing there, so a short storm gets through its executions quickly on a busy CI
    disk; the full ``scripts/kill_storm.py`` run uses a real disk.
    """
    # A short storm writes ~5 MB; containers often give /dev/shm only 64 MB.
    usable = os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK)
    if not usable or shutil.disk_usage("/dev/shm").free < 64 * 2**20:
        yield tmp_path
        return
    path = Path(tempfile.mkdtemp(prefix="tango-tui-crash-", dir="/dev/shm"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
