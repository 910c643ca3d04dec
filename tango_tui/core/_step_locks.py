"""The step locks this process holds, and the verdict on a RUNNING record's liveness.

A process executes a step only while it holds the ``flock`` on ``cache/<uid>/lock`` (taken with
:mod:`filelock`, non-blocking). The locks held here are kept in a module-level table keyed by the
lock file's real path, so every :class:`~tango_tui.core.LocalWorkspace` object of the process
agrees on them; each entry remembers the pid that took it, so a forked child never mistakes its
parent's locks for its own (filelock itself closes inherited descriptors in the child).
"""

from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path

import filelock

from ._liveness import hostname, lock_is_held, owner_is_alive
from ._model import StepInfo, StepState

_HELD: dict[str, tuple[int, filelock.UnixFileLock]] = {}


@functools.lru_cache(maxsize=64)
def _real_dir(path: str) -> str:
    return os.path.realpath(path)


def lock_key(path: str | os.PathLike[str]) -> str:
    """The table key of a lock file: its real path (``cache/<uid>/lock`` under the real cache dir).

    Only the directory above the step directory is resolved, once per process (a full realpath
    costs an lstat per path component, four times per step execution): step directories are
    made by us, never symlinks. Two LocalWorkspace objects opened through different paths to one
    workspace still agree.
    """
    step_dir, name = os.path.split(os.fspath(path))
    parent, uid = os.path.split(step_dir)
    return os.path.join(_real_dir(parent), uid, name)


def holds(path: str | os.PathLike[str]) -> bool:
    """Whether this process holds the lock at ``path``."""
    entry = _HELD.get(lock_key(path))
    return entry is not None and entry[0] == os.getpid()


def try_acquire(path: str | os.PathLike[str]) -> filelock.UnixFileLock | None:
    """Take the lock at ``path`` without waiting; None if another holder has it.

    The lock is not recorded as held until :func:`remember` (the caller first checks the record).
    """
    lock = filelock.UnixFileLock(
        path, timeout=0, thread_local=False, fallback_to_soft=False, preserve_lock_file=True
    )
    try:
        lock.acquire(timeout=0, blocking=False)
    except filelock.Timeout:
        return None
    return lock


def remember(path: str | os.PathLike[str], lock: filelock.UnixFileLock) -> None:
    """Record ``lock`` (acquired by :func:`try_acquire`) as held by this process."""
    _HELD[lock_key(path)] = (os.getpid(), lock)


def release(path: str | os.PathLike[str]) -> None:
    """Release and forget the lock at ``path`` if this process holds it."""
    entry = _HELD.pop(lock_key(path), None)
    if entry is not None and entry[0] == os.getpid():
        with contextlib.suppress(Exception):  # releasing must never mask the caller's outcome
            entry[1].release()


def crashed_reason(info: StepInfo, lock_path: Path) -> str | None:
    """Why a RUNNING record is really dead, or None if it may be running (never writes).

    Dead when: the owner is on this host and its pid is gone, recycled, or from before a reboot;
    the owner is alive here but no longer holds the step's lock (an abandoned attempt); or the
    owner is on another host and nobody holds the lock.
    """
    if info.state is not StepState.RUNNING:
        return None
    owner = info.owner
    alive = owner_is_alive(owner, lock_path)
    who = f"pid {owner.pid} on host {owner.host}" if owner else "an unrecorded process"
    if alive is False:
        return f"the process that ran it ({who}) is gone"
    if (
        alive
        and owner is not None
        and owner.host == hostname()
        and lock_is_held(lock_path) is False
    ):
        return f"its process ({who}) no longer holds the step lock {lock_path}"
    return None
