"""Telling a live step owner from a dead one, without writing anything.

A running step records its :class:`~tango_tui.core._model.Owner` (host, pid, the pid's start
time, the boot id) and holds an ``flock`` on ``cache/<uid>/lock``. A reader decides:

* same host, same boot: the owner is alive iff ``/proc/<pid>/stat`` exists with the same start
  time (a recycled pid has another start time);
* same host, other boot id: the machine rebooted, so the owner is dead;
* another host (a cluster sharing NFS): the owner is alive iff some process holds a lock on the
  lock file. We ask with a shared, non-blocking ``flock`` on a read-only descriptor and release at
  once; the owner holds its lock for the whole attempt, so the probe cannot steal anything, and
  the owner's own (blocking) acquisition simply waits out the microseconds of a probe.
"""

from __future__ import annotations

import functools
import os
import socket
from pathlib import Path

import portalocker

from ._model import Owner


@functools.lru_cache(maxsize=1)
def hostname() -> str:
    """This machine's host name."""
    return socket.gethostname()


@functools.lru_cache(maxsize=1)
def boot_id() -> str | None:
    """This boot's id (changes at every reboot), or None where the kernel does not say."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def pid_start_time(pid: int) -> int | None:
    """The start time of process ``pid`` in clock ticks since boot, or None if it does not exist."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may contain spaces or ')'.
    rest = stat[stat.rfind(b")") + 2 :].split()
    try:
        # rest[0] is field 3 (state); field 22 (starttime) is rest[19].
        if rest[0] == b"Z":  # a zombie has exited; only its parent has not reaped it yet
            return None
        return int(rest[19])
    except (IndexError, ValueError):
        return None


_OWNER: Owner | None = None


def current_owner() -> Owner:
    """The Owner record describing this process (built once per process; a forked child rebuilds it)."""
    global _OWNER
    pid = os.getpid()
    owner = _OWNER
    if owner is None or owner.pid != pid:
        owner = _OWNER = Owner(
            host=hostname(), pid=pid, pid_start=pid_start_time(pid), boot_id=boot_id()
        )
    return owner


def lock_is_held(lock_path: str | os.PathLike[str]) -> bool | None:
    """Whether some process holds an flock on ``lock_path``; None if that cannot be told.

    Opens the file read-only (never creates it) and tries a shared non-blocking lock that is
    released immediately.
    """
    try:
        fd = os.open(lock_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    except OSError:
        return None
    try:
        try:
            portalocker.lock(fd, portalocker.LockFlags.SHARED | portalocker.LockFlags.NON_BLOCKING)
        except portalocker.AlreadyLocked:
            return True
        except (OSError, portalocker.LockException):
            return None
        portalocker.unlock(fd)
        return False
    finally:
        os.close(fd)


def owner_is_alive(
    owner: Owner | None, lock_path: str | os.PathLike[str] | None = None
) -> bool | None:
    """Whether the process described by ``owner`` is still running.

    Returns True or False when that can be decided, None when it cannot (no owner recorded and
    no lock file to ask).
    """
    if owner is not None and owner.host == hostname():
        if owner.boot_id and boot_id() and owner.boot_id != boot_id():
            return False
        start = pid_start_time(owner.pid)
        if start is None:
            return False
        return owner.pid_start is None or start == owner.pid_start
    if lock_path is not None:
        return lock_is_held(lock_path)
    return None
