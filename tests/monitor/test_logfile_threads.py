"""A LogFile read from a worker thread while the pane closes the file (monitor/_lognumbers.py).

Closing a descriptor frees its number for the next ``open`` anywhere in the process. A search or
count running in a worker thread must keep reading the file it started on, never whatever file
took the number meanwhile.
"""

from __future__ import annotations

import os
from pathlib import Path

from tango_tui.monitor.logfile import LogFile


def _close_and_reuse(log: LogFile, other: Path, taken: list[int]) -> bool:
    """A ``cancel`` callback that, on its first call, closes ``log`` and puts ``other`` on the
    descriptor number it had; it never asks to stop."""
    if not taken:
        number = log._fd  # the number a reader holding the bare descriptor would keep using
        assert number is not None
        log.close()
        fd = os.open(other, os.O_RDONLY)  # usually gets the freed number itself
        if fd != number:
            os.dup2(fd, number)
            os.close(fd)
        taken.append(number)
    return False


def _logs(tmp_path: Path) -> tuple[Path, Path]:
    mine = tmp_path / "mine.log"
    mine.write_text("alpha beta\n" * 300_000)  # > 3 MiB: read in several chunks
    other = tmp_path / "other.log"
    other.write_text("NEEDLE in another file\n" * 300_000)
    return mine, other


def test_a_search_never_reads_the_file_that_took_the_closed_descriptor(tmp_path: Path) -> None:
    mine, other = _logs(tmp_path)
    log = LogFile(mine).open()
    taken: list[int] = []
    try:
        found = log.search("NEEDLE", 0, cancel=lambda: _close_and_reuse(log, other, taken))
        assert taken, "the callback ran (the scenario happened)"
        assert found is None  # mine.log has no NEEDLE; other.log, at the reused number, has
    finally:
        for fd in taken:
            os.close(fd)


def test_a_match_count_never_reads_the_file_that_took_the_closed_descriptor(
    tmp_path: Path,
) -> None:
    mine, other = _logs(tmp_path)
    log = LogFile(mine).open()
    taken: list[int] = []
    found: list[int] = []
    try:
        log.count_matches(
            "NEEDLE",
            0,
            limit=10,
            found=found,
            cancel=lambda: _close_and_reuse(log, other, taken),
        )
        assert taken
        assert found == []
    finally:
        for fd in taken:
            os.close(fd)


def test_a_line_count_stops_when_the_file_is_closed(tmp_path: Path) -> None:
    mine, other = _logs(tmp_path)
    log = LogFile(mine).open()
    taken: list[int] = []
    try:
        done = log.scan(cancel=lambda: _close_and_reuse(log, other, taken))
        assert taken and done is False
        assert log.counted_lines == 0  # nothing of other.log was counted as mine
    finally:
        for fd in taken:
            os.close(fd)
