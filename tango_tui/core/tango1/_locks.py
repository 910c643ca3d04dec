"""Is Tango's step lock held? Answered from ``/proc/locks``, never by taking the lock.

Tango 1.x holds an ``flock`` (through ``filelock``) on ``cache/<uid>/lock`` while a cacheable
step runs, and records nothing else about the process. Probing by acquiring the lock (Tango's own
``guess_step_dir_state`` does) races with a Tango process that is about to take it, so we read the
kernel's lock table instead: a lock on the same device and inode as the lock file means held.

Caveats handled here:

* overlay filesystems report another device number through ``stat`` than the kernel's lock table
  shows; a lock on the same inode is then confirmed through the holder's open file descriptors;
* ``/proc/locks`` only knows this machine's locks: on NFS, or for a step recorded by another host,
  the answer is ``None`` (cannot be told), never a false "not held".
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

logger = logging.getLogger(__name__)

PROC_LOCKS = "/proc/locks"

_NETWORK_FS = {
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "ceph",
    "glusterfs",
    "fuse.sshfs",
    "lustre",
    "gpfs",
    "beegfs",
}


def _parse_proc_locks(text: str) -> list[tuple[int, int, int, int]]:
    """``[(pid, major, minor, inode)]`` for every lock in a ``/proc/locks`` text."""
    out = []
    for line in text.splitlines():
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 6053 fe:00:2189287 0 EOF"; blocked waiters have "->" after
        # the index and are not holders.
        if len(fields) < 6 or fields[1] == "->":
            continue
        try:
            pid = int(fields[4])
            major, minor, inode = fields[5].split(":")
            out.append((pid, int(major, 16), int(minor, 16), int(inode)))
        except ValueError:
            continue
    return out


def _fd_writable(pid: int, fd: str) -> bool:
    try:
        with open(f"/proc/{pid}/fdinfo/{fd}", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags:"):
                    return int(line.split()[1], 8) & (os.O_WRONLY | os.O_RDWR) != 0
    except (OSError, ValueError, IndexError):
        pass
    return False


def _fd_points_at(pid: int, st: os.stat_result, *, writers_only: bool = False) -> bool | None:
    """Whether process ``pid`` has the file ``st`` open (for writing, with ``writers_only``);
    None if its fds cannot be listed."""
    fd_dir = f"/proc/{pid}/fd"
    try:
        names = os.listdir(fd_dir)
    except FileNotFoundError:
        return False
    except OSError:
        return None
    for name in names:
        try:
            other = os.stat(f"{fd_dir}/{name}")
        except OSError:
            continue
        same = other.st_ino == st.st_ino and other.st_dev == st.st_dev
        if same and (not writers_only or _fd_writable(pid, name)):
            return True
    return False


def lock_held_per_proc_locks(
    path: str | os.PathLike[str], proc_locks: str = PROC_LOCKS
) -> bool | None:
    """Whether some process on this machine holds a lock on ``path``, per the kernel's lock table.

    Never opens ``path`` and never takes a lock.

    Args:
        path: The lock file (Tango's ``cache/<uid>/lock``).
        proc_locks: The lock table to read (a parameter for tests).

    Returns:
        True if a lock on the file is listed, False if none is (or the file does not exist),
        None if it cannot be told (no ``/proc/locks``, a network filesystem where other hosts'
        locks are invisible, an unreadable holder on an overlay filesystem).
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    except OSError:
        return None
    try:
        with open(proc_locks, encoding="ascii", errors="replace") as f:
            entries = _parse_proc_locks(f.read())
    except OSError:
        return None
    major, minor = os.major(st.st_dev), os.minor(st.st_dev)
    unsure = False
    for pid, maj, mnr, ino in entries:
        if ino != st.st_ino:
            continue
        if (maj, mnr) == (major, minor):
            return True
        # Same inode, other device: an overlay (or a coincidence); ask the holder's fds.
        seen = _fd_points_at(pid, st)
        if seen:
            return True
        if seen is None:
            unsure = True
    if unsure:
        return None
    if is_network_fs(path):
        return None
    return False


def _mounts() -> list[tuple[str, str]]:
    try:
        text = Path("/proc/self/mounts").read_text(errors="replace")
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            # Mount points escape spaces as \040.
            out.append((parts[1].replace("\\040", " "), parts[2]))
    return out


def filesystem_type(path: str | os.PathLike[str]) -> str | None:
    """The type of the filesystem ``path`` is on (``ext4``, ``nfs4``...), or None if unknown."""
    try:
        real = os.path.realpath(path)
    except OSError:
        return None
    best, fstype = "", None
    for mount_point, kind in _mounts():
        prefix = mount_point.rstrip("/") + "/"
        if (real == mount_point or real.startswith(prefix)) and len(mount_point) >= len(best):
            best, fstype = mount_point, kind
    return fstype


def is_network_fs(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is on a network filesystem (where other hosts' locks are invisible)."""
    kind = filesystem_type(path)
    return kind is not None and (kind in _NETWORK_FS or kind.startswith("nfs"))


def open_for_writing_by_some_process(path: str | os.PathLike[str]) -> bool | None:
    """Whether another process on this machine has ``path`` open for writing (Tango keeps its
    ``out.log`` open for the whole run, so this tells a live run from a dead one without touching
    the file).

    Returns:
        True or False when every process could be inspected, None when some could not (another
        user's processes without root, no ``/proc``) and none of the readable ones had it open,
        or when the file is on a network filesystem.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    except OSError:
        return None
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return None
    unsure = False
    me = os.getpid()
    for pid in pids:
        if int(pid) == me:
            continue
        # Only a writer counts: a viewer (this one, or a pager) reading the log keeps no run alive.
        seen = _fd_points_at(int(pid), st, writers_only=True)
        if seen:
            return True
        if seen is None:
            unsure = True
    if unsure or is_network_fs(path):
        return None
    return False


UNKNOWN_TTL = 5.0
"""Seconds a "cannot tell whether a process writes this run log" answer is reused."""


class RunLogWriters:
    """Whether some process still writes a run's ``out.log``, asking ``/proc`` only when needed.

    A log nobody writes stays that way until it changes, so its ``/proc`` walk is done once per
    (inode, size, mtime). "Cannot tell" (other users' processes unreadable) is reused for
    :data:`UNKNOWN_TTL` seconds; "alive" is always asked again, so a killed run shows as crashed
    at the next look. Not thread-safe: the workspace serialises calls.
    """

    def __init__(self) -> None:
        self._dead: set[tuple[str, int, int, int]] = set()
        self._unknown: dict[str, float] = {}

    def alive(self, log_path: Path) -> bool | None:
        """True/False as :func:`open_for_writing_by_some_process`; None also for a missing log."""
        try:
            st = log_path.stat()
        except OSError:
            return None
        key = (str(log_path), st.st_ino, st.st_size, st.st_mtime_ns)
        if key in self._dead:
            return False
        unknown_since = self._unknown.get(str(log_path))
        if unknown_since is not None and time.monotonic() - unknown_since < UNKNOWN_TTL:
            return None
        alive = open_for_writing_by_some_process(log_path)
        if alive is False:
            self._dead.add(key)
        elif alive is None:
            self._unknown[str(log_path)] = time.monotonic()
        return alive
