"""Fixtures for the Tango 1.x reader: the real ai2-tango 1.3.2 workspace, unpacked per test."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from tango1_support import FIXTURE, HOLD_LOCK, wait_line


@pytest.fixture
def tango_ws(tmp_path: Path) -> Path:
    """A fresh copy of the workspace written by real ai2-tango 1.3.2 (``latest`` still points at
    the absolute path it was made at, which does not exist here)."""
    with tarfile.open(FIXTURE) as tar:
        tar.extractall(tmp_path, filter="tar")
    ws = tmp_path / "ws"
    assert (ws / "stepinfo.sqlite").is_file()
    return ws


@pytest.fixture
def hold_flock() -> Iterator:
    """``hold(path)`` starts a process holding an exclusive flock on ``path``; ``release()`` ends it."""
    procs: list[subprocess.Popen] = []

    class Holder:
        def hold(self, path: Path) -> subprocess.Popen:
            proc = subprocess.Popen(
                [sys.executable, "-c", HOLD_LOCK, str(path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            procs.append(proc)
            wait_line(proc, "locked")
            return proc

        def release(self, proc: subprocess.Popen) -> None:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=10)

    yield Holder()
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None and not stream.closed:
                stream.close()


@pytest.fixture
def unpack(tmp_path: Path):
    """``unpack(name)``: extract ``fixtures/<name>`` (made by make_fixtures.py) and return its ws dir."""

    def _unpack(name: str) -> Path:
        dest = tmp_path / name.split(".")[0]
        with tarfile.open(Path(__file__).parent / "fixtures" / name) as tar:
            tar.extractall(dest, filter="tar")
        return dest / "ws"

    return _unpack
