"""Following a log that another process writes, rotates and truncates while it is read."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tango_tui.monitor.logfile import ChangeKind, Line, LogFile

# Writes `n` numbered lines, each in two pieces (so the reader often sees a partial last line,
# sometimes cut inside a multibyte character), flushing after every piece.
WRITER = r"""
import os, sys
path, n = sys.argv[1], int(sys.argv[2])
fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
for i in range(n):
    line = f"line {i:06d} é€ {'x' * (i % 50)}\n".encode()
    cut = 1 + i % (len(line) - 1)
    os.write(fd, line[:cut])
    os.write(fd, line[cut:])
os.close(fd)
"""


def expected_line(i: int) -> str:
    return f"line {i:06d} é€ {'x' * (i % 50)}"


class Follower:
    """What a log pane does: keep the complete lines seen so far, re-reading on change."""

    def __init__(self, log: LogFile) -> None:
        self.log = log
        self.lines: list[Line] = []
        self.kinds: list[ChangeKind] = []

    def poll(self) -> None:
        change = self.log.refresh()
        self.kinds.append(change.kind)
        if change.reset:
            self.lines = []
        if change.kind in (ChangeKind.APPENDED, ChangeKind.TRUNCATED, ChangeKind.REPLACED):
            start = self.lines[-1].end if self.lines else 0
            assert start <= change.reread_from or change.reset
            while batch := self.log.lines_after(start, 1000):
                complete = [line for line in batch if line.complete]
                self.lines.extend(complete)
                if len(complete) < len(batch) or not complete:
                    break
                start = complete[-1].end


def test_follow_a_writing_process_loses_and_garbles_nothing(tmp_path: Path) -> None:
    path = tmp_path / "out.log"
    path.write_bytes(b"")
    n = 20_000
    with LogFile(path) as log:
        assert log.scan()
        follower = Follower(log)
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(n)])
        try:
            while True:
                done = writer.poll() is not None
                follower.poll()
                if done:
                    break
                try:
                    writer.wait(timeout=0.002)  # give the writer a moment, then look again
                except subprocess.TimeoutExpired:
                    pass
        finally:
            writer.kill()
            writer.wait()
        follower.poll()
        assert [line.text for line in follower.lines] == [expected_line(i) for i in range(n)]
        assert ChangeKind.APPENDED in follower.kinds
        assert log.line_count == n  # the count kept up through refresh()


def test_follow_through_rotation_and_truncation(tmp_path: Path) -> None:
    path = tmp_path / "out.log"
    path.write_bytes(b"old 1\nold 2\n")
    with LogFile(path) as log:
        follower = Follower(log)
        follower.lines = log.lines_after(0, 10)
        # Rotation: the writer's file is renamed, a new one is created under the same name.
        path.rename(tmp_path / "out.log.1")
        follower.poll()
        path.write_bytes(b"new 1\n")
        follower.poll()
        assert follower.kinds[-2:] == [ChangeKind.VANISHED, ChangeKind.REPLACED]
        assert [line.text for line in follower.lines] == ["new 1"]
        # Truncation (copytruncate), then more lines.
        with open(path, "r+b") as f:
            f.truncate(0)
        follower.poll()
        with open(path, "ab") as f:
            f.write(b"after 1\nafter 2\n")
        follower.poll()
        assert follower.kinds[-2:] == [ChangeKind.TRUNCATED, ChangeKind.APPENDED]
        assert [line.text for line in follower.lines] == ["after 1", "after 2"]


def test_search_can_be_cancelled_from_another_thread(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    path.write_bytes(b"nothing to see here\n" * 1_000_000)  # 20 MB, no match
    with LogFile(path) as log:
        cancel = threading.Event()
        cancel.set()
        assert log.search("needle", 0, cancel=cancel) is None
        calls = []

        def stop_after_two() -> bool:
            calls.append(1)
            return len(calls) > 2

        assert log.search("needle", log.size, backwards=True, cancel=stop_after_two) is None
        assert len(calls) == 3  # checked once per 1 MiB chunk, stopped at the third check
        with pytest.raises(re.error):
            log.search("(unclosed", 0, regex=True)
