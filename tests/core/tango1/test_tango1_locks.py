"""Telling a held lock from a free one without taking it, and a live run log writer from none."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tango1_support import wait_line

from tango_tui.core.tango1 import lock_held_per_proc_locks, open_for_writing_by_some_process


def test_lock_held_and_released(tmp_path: Path, hold_flock) -> None:
    lock = tmp_path / "lock"
    lock.touch()
    assert lock_held_per_proc_locks(lock) is False
    holder = hold_flock.hold(lock)
    assert lock_held_per_proc_locks(lock) is True
    assert lock_held_per_proc_locks(tmp_path / "other") is False  # missing file
    other = tmp_path / "other-lock"
    other.touch()
    assert lock_held_per_proc_locks(other) is False  # another file on the same device
    hold_flock.release(holder)
    assert lock_held_per_proc_locks(lock) is False


def test_overlay_style_device_mismatch_is_confirmed_through_fds(tmp_path: Path, hold_flock) -> None:
    # On overlayfs the lock table shows the upper layer's device, not stat()'s. Simulate that
    # table: same inode, another device; the holder's open fds then decide.
    lock = tmp_path / "lock"
    lock.touch()
    holder = hold_flock.hold(lock)
    ino = lock.stat().st_ino
    table = tmp_path / "locks"
    table.write_text(f"1: FLOCK  ADVISORY  WRITE {holder.pid} 00:99:{ino} 0 EOF\n")
    assert lock_held_per_proc_locks(lock, proc_locks=str(table)) is True
    table.write_text(f"1: FLOCK  ADVISORY  WRITE {os.getpid()} 00:99:{ino} 0 EOF\n")
    assert lock_held_per_proc_locks(lock, proc_locks=str(table)) is False  # we do not hold it
    table.write_text(
        f"1: FLOCK  ADVISORY  WRITE 1 00:99:{ino + 1} 0 EOF\n"
        f"2: -> FLOCK  ADVISORY  WRITE {holder.pid} 00:99:{ino} 0 EOF\n"
    )
    assert lock_held_per_proc_locks(lock, proc_locks=str(table)) is False  # a waiter holds nothing
    assert lock_held_per_proc_locks(lock, proc_locks=str(tmp_path / "missing")) is None
    hold_flock.release(holder)


APPEND = textwrap.dedent(
    """
    import sys
    f = open(sys.argv[1], "a")
    print("open", flush=True)
    sys.stdin.read()
    """
)


def test_log_writer_is_seen_and_readers_do_not_count(tmp_path: Path) -> None:
    log = tmp_path / "out.log"
    log.write_text("x\n")
    with log.open() as mine:  # a viewer reading the log keeps no run alive
        assert mine.readline() == "x\n"
        assert open_for_writing_by_some_process(log) is False
    proc = subprocess.Popen(
        [sys.executable, "-c", APPEND, str(log)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        wait_line(proc, "open")
        assert open_for_writing_by_some_process(log) is True
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
        proc.stdout.close()
    assert open_for_writing_by_some_process(log) is False
