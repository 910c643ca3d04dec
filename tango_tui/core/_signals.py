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
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any, Self

logger = logging.getLogger(__name__)

STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)
"""The signals that stop a run like Ctrl-C does (those this platform has)."""

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


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
            logger.warning("%s received while stopping after %s; still stopping",
                           signal.Signals(signum).name, signal.Signals(self.received).name)
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

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
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
