"""Stopping a run cleanly on SIGTERM and SIGHUP, and tying worker processes to their parent.

A run killed with plain ``kill`` (SIGTERM) or by a closing SSH session (SIGHUP) must end the way a
Ctrl-C ends it: workers stopped, steps that were running recorded as such, the run recorded
INCOMPLETE. :class:`StopSignals` turns those signals into :class:`SignalInterrupt` (a
``KeyboardInterrupt``) in the main thread while ``run_steps`` runs; afterwards the previous
handlers come back and :func:`redeliver` hands the signal to them, so the process still ends the
conventional way (killed by SIGTERM, exit status 143 in a shell) after the cleanup.

A worker process cannot outlive a SIGKILLed parent either: :func:`die_with_parent` asks Linux
(``prctl(PR_SET_PDEATHSIG, SIGKILL)``) to kill it when its parent goes, so its step lock is
released and its step reads CRASHED at once instead of running on as an orphan.

The processes a worker's step started go when the worker is stopped: the worker is a "child
subreaper" (:func:`adopt_orphans`), so even processes whose parent exited (``sh -c "cmd &"``,
double forks) stay in its tree, and :func:`end_tree` ends that tree (SIGTERM, then SIGKILL),
from the interrupted worker itself or, for a worker stuck in C code (``os.system``), from the
executor before it kills the worker. A SIGKILLed executor still leaves them running (the workers
die without a chance to clean up), and so does an executor running steps in its own process
(parallelism 1): its children are also the caller's, which are not ours to end.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any, Self

logger = logging.getLogger(__name__)

STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)
"""The signals that stop a run like Ctrl-C does (those this platform has)."""

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_PR_SET_CHILD_SUBREAPER = 36


class SignalInterrupt(KeyboardInterrupt):
    """Raised in the main thread (or a worker) when a stop signal arrives; str() is
    ``"interrupted by SIGTERM"`` (or SIGHUP).

    Attributes:
        signum: The signal received.
    """

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.signum,))


class StopSignals:
    """While active, SIGTERM and SIGHUP raise :class:`SignalInterrupt` (the first one only).

    Does nothing outside the main thread (Python runs handlers only there, and the caller's
    handlers are not ours to replace), and leaves alone a signal whose handler is SIG_IGN (e.g.
    SIGHUP under ``nohup``: the user asked for it to be ignored) or was not set from Python.
    Further signals while the first is being handled are logged and ignored, so the cleanup
    runs to its end; :meth:`restore` (also on exit) puts the previous handlers back.
    """

    def __init__(self) -> None:
        self.previous: dict[int, Any] = {}
        self.received: int | None = None
        self._held = 0
        self._pending = False

    def __enter__(self) -> Self:
        if threading.current_thread() is not threading.main_thread():
            return self
        for sig in STOP_SIGNALS:
            previous = signal.getsignal(sig)
            if previous is None or previous == signal.SIG_IGN:
                continue
            signal.signal(sig, self._handle)
            self.previous[sig] = previous
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None:
            logger.warning(
                "%s received while stopping after %s; still stopping",
                signal.Signals(signum).name,
                signal.Signals(self.received).name,
            )
            return
        self.received = signum
        if self._held:
            self._pending = True  # raised when the held section ends
            return
        raise SignalInterrupt(signum)

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Defer a first stop signal arriving inside this block to its end (e.g. while the final
        record of a finished run is written), then raise it."""
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
        if not self._held and self._pending and self.received is not None:
            self._pending = False
            raise SignalInterrupt(self.received)

    def restore(self) -> None:
        """Put the handlers that were there before back."""
        for sig, previous in self.previous.items():
            signal.signal(sig, previous)
        self.previous = {}

    def __exit__(self, *exc: object) -> None:
        self.restore()


def redeliver(signum: int) -> None:
    """Send ``signum`` to this process again, now that the previous handler is back.

    With the default disposition the process ends as if the signal had killed it (after our
    cleanup); a handler of the caller's runs as it would have. Returns if that handler returns.
    """
    signal.raise_signal(signum)


_libc_handle: Any = None


def libc() -> Any:
    """The C library through ctypes, loaded once (the executor loads it before forking workers)."""
    global _libc_handle
    if _libc_handle is None:
        import ctypes

        _libc_handle = ctypes.CDLL(None, use_errno=True)
    return _libc_handle


def die_with_parent(parent_pid: int) -> bool:
    """In a freshly forked worker: be SIGKILLed by Linux when the parent process dies.

    If the parent died before the request took effect (``getppid()`` is no longer
    ``parent_pid``), exits at once. Returns False where the kernel offers no such request (then a
    worker of a SIGKILLed parent runs on, as before, until its step ends).

    The kernel sends the signal when the parent *thread* that forked ends: ``run_steps`` forks
    from the thread that runs it, which outlives its workers.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        c = libc()
        if c.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
            logger.warning("prctl(PR_SET_PDEATHSIG) failed: %s", os.strerror(ctypes.get_errno()))
            return False
    except (OSError, AttributeError) as e:  # no libc, or no prctl in it
        logger.warning("cannot ask to die with the parent process: %s", e)
        return False
    if os.getppid() != parent_pid:  # the parent died before prctl: nobody will kill us
        os._exit(1)
    return True


def stop_like_interrupt_in_worker() -> None:
    """In a worker: a stop signal raises :class:`SignalInterrupt` (once), as in the parent.

    The worker inherits the parent's handler object on fork; it gets its own here. A signal the
    parent ignored stays ignored.
    """
    guard = StopSignals()
    for sig in STOP_SIGNALS:
        try:
            if signal.getsignal(sig) != signal.SIG_IGN:
                signal.signal(sig, guard._handle)
        except ValueError:  # not the main thread (cannot happen in a forked child; be safe)
            return


def adopt_orphans() -> bool:
    """In a worker: orphaned descendants become our children (Linux ``PR_SET_CHILD_SUBREAPER``),
    so :func:`descendants` still finds them. False where the kernel offers no such request."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return bool(libc().prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _start_time(pid: int) -> str | None:
    """The process's start time (clock ticks since boot, from /proc), None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count from its closing one.
    return stat[stat.rfind(b")") + 2 :].split()[19].decode()


def descendants(pid: int) -> list[tuple[int, str]]:
    """``(pid, start time)`` of every live descendant of ``pid`` (Linux ``/proc``; else [])."""
    found: list[tuple[int, str]] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{parent}/task/{tid}/children", "rb") as f:
                    children = [int(c) for c in f.read().split()]
            except OSError:
                continue
            for child in children:
                started = _start_time(child)
                if started is not None:
                    found.append((child, started))
                    todo.append(child)
    return found


def _signal_tree(tree: list[tuple[int, str]], sig: int) -> list[tuple[int, str]]:
    """Send ``sig`` to the processes of ``tree`` that are still those processes; return them."""
    alive = []
    for pid, started in tree:
        if _start_time(pid) != started:  # gone, or its pid now names another process
            continue
        try:
            os.kill(pid, sig)
        except OSError:
            continue
        alive.append((pid, started))
    return alive


def end_tree(tree: list[tuple[int, str]], grace: float) -> None:
    """SIGTERM the processes of ``tree``, then SIGKILL those still there after ``grace`` s.

    A process is signalled only if its start time is still the one recorded, so a pid reused
    since :func:`descendants` listed it is left alone. Zombies count as gone.
    """
    alive = _signal_tree(tree, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while alive and time.monotonic() < deadline:
        alive = [(p, s) for p, s in alive if _start_time(p) == s and not _is_zombie(p)]
        if alive:
            time.sleep(0.02)  # processes give no event to wait on
    _signal_tree(alive, signal.SIGKILL)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return True
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] in (b"Z", b"X")
