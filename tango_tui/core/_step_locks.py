"""The step locks this process holds, and the verdict on a RUNNING record's liveness.

A process executes a step only while it holds the ``flock`` on ``cache/<uid>/lock`` (exclusive,
non-blocking, on a descriptor of its own; the file is created if missing and never removed, as
Tango 1.x's ``filelock`` leaves it). The locks held here are kept in a module-level table keyed by
the lock file's real path, so every :class:`~tango_tui.core.LocalWorkspace` object of the process
agrees on them; each entry remembers the pid that took it, so a forked child never mistakes its
parent's locks for its own, and the child closes its inherited copies of the descriptors at once
(:func:`os.register_at_fork`) so that a worker outliving its parent cannot keep the parent's
steps looking alive. The lock call itself is :mod:`portalocker`'s (``flock`` on POSIX): a thin,
well-kept wrapper that costs ~25 us an acquire; :mod:`filelock` 4, used before, spent ~250 us an
acquire on its own bookkeeping, more than a tenth of a step's whole start+finish.

On NFS, Linux emulates ``flock`` with byte-range locks, which need a descriptor open for writing:
hence ``O_RDWR``.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import portalocker

from ._format import this_pid
from ._liveness import hostname, lock_is_held, owner_is_alive
from ._model import StepInfo, StepState

_OPEN_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
_EXCLUSIVE_NOW = portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING


def as_os_error(e: portalocker.LockException, path: str | os.PathLike[str]) -> OSError:
    """The :class:`OSError` behind a failed lock call (portalocker wraps it), naming ``path``."""
    cause = e.args[0] if e.args and isinstance(e.args[0], OSError) else None
    if cause is not None and cause.filename is None:
        return type(cause)(cause.errno, cause.strerror, os.fspath(path))
    return cause if cause is not None else OSError(f"cannot lock {os.fspath(path)}: {e}")


class StepLock:
    """One flock taken by :func:`try_acquire`: the descriptor and the pid that took it."""

    __slots__ = ("fd", "pid")

    def __init__(self, fd: int, pid: int):
        self.fd = fd
        self.pid = pid

    def release(self) -> None:
        """Unlock and close (only in the process that took the lock; idempotent)."""
        fd, self.fd = self.fd, -1
        if fd < 0 or self.pid != this_pid():
            return
        try:
            portalocker.unlock(fd)
        except (OSError, portalocker.LockException):
            pass  # closing the descriptor below releases the lock anyway
        finally:
            os.close(fd)


_HELD: dict[str, StepLock] = {}


def _forget_inherited() -> None:
    """In a forked child: close the parent's lock descriptors and forget them."""
    for key, lock in list(_HELD.items()):
        if lock.pid != os.getpid():
            del _HELD[key]
            if lock.fd >= 0:
                try:
                    os.close(lock.fd)  # closing a copy never unlocks the parent's lock
                except OSError:
                    pass
                lock.fd = -1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_inherited)


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
    return _lock_key(os.fspath(path))


@functools.lru_cache(maxsize=1024)  # a step's key is asked for four times per execution
def _lock_key(path: str) -> str:
    step_dir, name = os.path.split(path)
    parent, uid = os.path.split(step_dir)
    return os.path.join(_real_dir(parent), uid, name)


def holds(path: str | os.PathLike[str]) -> bool:
    """Whether this process holds the lock at ``path``."""
    entry = _HELD.get(lock_key(path))
    return entry is not None and entry.pid == this_pid()


def try_acquire(path: str | os.PathLike[str]) -> StepLock | None:
    """Take the lock at ``path`` without waiting; None if another holder has it.

    The lock is not recorded as held until :func:`remember` (the caller first checks the record).

    Raises:
        OSError: The lock file cannot be opened or locked for another reason than contention.
    """
    fd = os.open(path, _OPEN_FLAGS, 0o644)
    try:
        portalocker.lock(fd, _EXCLUSIVE_NOW)
    except portalocker.AlreadyLocked:
        os.close(fd)
        return None
    except portalocker.LockException as e:
        os.close(fd)
        raise as_os_error(e, path) from e
    except BaseException:
        os.close(fd)
        raise
    return StepLock(fd, this_pid())


def remember(path: str | os.PathLike[str], lock: StepLock) -> None:
    """Record ``lock`` (acquired by :func:`try_acquire`) as held by this process."""
    _HELD[lock_key(path)] = lock


def release(path: str | os.PathLike[str]) -> None:
    """Release and forget the lock at ``path`` if this process holds it."""
    entry = _HELD.pop(lock_key(path), None)
    if entry is not None:
        entry.release()  # a no-op for an entry inherited over fork


def crashed_reason(info: StepInfo, lock_path: Path | str) -> str | None:
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
