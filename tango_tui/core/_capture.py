"""File-descriptor-level capture of a step's output: what C code and child processes write too.

While an :class:`FdCapture` is active, file descriptors 1 and 2 of the process are the write ends
of pipes. One reader thread per process (:class:`~tango_tui.core._capture_pump.Pump`, started
on first use and kept for the next steps) reads them and sends every byte both to
the step's log and to the original descriptor, so the terminal (or whatever fds 1/2 were) still
shows the output as it comes. Bytes are kept as they are (binary, invalid UTF-8).

- One pipe instead of two when fds 1 and 2 are the same file (a terminal, ``2>&1``): stdout and
  stderr then keep their exact order, in the log and on the original descriptor.
- A pseudo-terminal instead of a pipe when the original is a terminal, so the step's programs
  still see one (``isatty``: colours, progress bars, width), as without the capture.
- The log receives whole lines: a stream's unfinished line waits for its end (at most 0.2 s or
  64 KiB, see :mod:`~tango_tui.core._capture_log`), so lines of stdout and stderr never mix.
- :meth:`FdCapture.drain` reads what is in the pipes right now, in the calling thread: the
  logging handler calls it before writing a record (output written before the record comes
  before it in the log) and the runner before recording a step's end.
- :meth:`FdCapture.stop` puts fds 1/2 back (even if a KeyboardInterrupt/SIGTERM interrupts it),
  then reads until every pipe reports end-of-file. A child process that still holds the pipe
  after ``DRAIN_TIMEOUT`` seconds is left alone: the log says so and stops there, and a ``cat``
  process takes the pipe over, copying what the child writes later to the original descriptor
  (closing the pipe would kill the child with SIGPIPE; a thread of ours would die with us).
- A nested capture (a step computed inside another step's body) forwards its output to the outer
  capture in-process, never through the outer pipe (the reader thread would write to a pipe only
  it reads: a deadlock once the pipe is full).

Linux and other POSIX systems with ``select.epoll`` only; :func:`fd_capture_possible` says when
it can be used (see :func:`tango_tui.core._logs.capture_output` for the fallback).
"""

from __future__ import annotations

import _thread
import os
import select
import threading

from ._capture_log import LineLog
from ._capture_pump import Pump, flush_python_streams, hand_over, open_channel, write_all

DRAIN_TIMEOUT = 0.5
"""Seconds :meth:`FdCapture.stop` waits for processes started by the step to close the pipes."""

_READ = 65536

DETACHED_NOTE = (
    b"[tango-tui] processes started by this step still hold its stdout/stderr open; "
    b"their further output is not in this log (it still goes to the run's terminal)\n"
)
"""The line a capture ends with when it stops waiting for such processes."""

_lock = threading.Lock()  # guards the creation of _pump
_pump: Pump | None = None
_stack: list[FdCapture] = []  # active captures of the main thread, innermost last


def _after_fork_in_child() -> None:
    # The reader thread does not exist in a forked child; captures inherited from the parent
    # belong to the parent (FdCapture checks the pid before touching shared state).
    global _lock, _pump
    _lock = threading.Lock()
    _pump = None
    _stack.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


FD_CAPTURE_ENV = "TANGO_TUI_FD_CAPTURE"
"""Environment variable: ``0`` turns fd-level capture off (steps get the Python-level tee)."""


def fd_capture_possible() -> bool:
    """True when fds 1 and 2 may be captured here: POSIX with epoll, the main thread, and not
    turned off with ``TANGO_TUI_FD_CAPTURE=0``.

    Only the main thread redirects the process's descriptors: another thread does not own them
    (the main thread may be an application drawing on stderr), and two threads entering and
    leaving captures in any order could not restore them correctly. (fds 1/2 closed is found
    by :meth:`FdCapture.start`, which then raises OSError.)
    """
    return (
        os.environ.get(FD_CAPTURE_ENV) != "0"
        and os.name == "posix"
        and hasattr(select, "epoll")
        and threading.current_thread() is threading.main_thread()
    )


def active() -> FdCapture | None:
    """The innermost fd capture of this process, if one is active."""
    return _stack[-1] if _stack else None


def drain_output() -> None:
    """Bring everything written to fds 1/2 so far into the active capture's log (no-op without)."""
    cap = active()
    if cap is not None:
        cap.drain()


def _the_pump() -> Pump:
    global _pump
    with _lock:
        if _pump is None:
            _pump = Pump()
        return _pump


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


class _Section:
    """``with``: hold the capture's lock; gives False if re-entered in the same thread."""

    __slots__ = ("cap", "first")

    def __init__(self, cap: FdCapture):
        self.cap = cap
        self.first = False

    def __enter__(self) -> bool:
        cap = self.cap
        cap.lock.acquire()
        self.first = not cap.inside
        cap.inside = True
        return self.first

    def __exit__(self, *exc: object) -> None:
        if self.first:
            self.cap.inside = False
        self.cap.lock.release()


class FdCapture:
    """Redirects fds 1 and 2 into pipes whose bytes go to ``log_fd`` and to the original fds.

    Args:
        log_fd: An open descriptor of the step's log (opened for appending). The capture never
            closes it, and stops writing to it when :meth:`stop` returns.

    Use :meth:`start` (raises OSError if the descriptors cannot be redirected; nothing changed
    then) and :meth:`stop` (always, once started). Only in the main thread.
    """

    def __init__(self, log_fd: int):
        self.log = LineLog(log_fd, merged=False)
        self.pid = os.getpid()
        # Re-entrant: a signal handler in the main thread may log while the main thread is
        # inside a locked section (StopSignals logs a second SIGTERM); see write_record.
        self.lock = threading.RLock()
        self.inside = False  # a locked section is running (its state may be half-updated)
        self.parent: FdCapture | None = None
        self.read_fds: list[int] = []
        self.saved: list[int] = []  # dups of the original fds 1 and 2
        self.merged = False
        self.pty = False  # a channel is a pseudo-terminal
        self.done = False
        self._done_lock = _thread.allocate_lock()  # released once done (cheaper than an Event)
        self._done_lock.acquire()
        self.detached = False
        self._pump: Pump | None = None
        self._forward_ok = [True, True]
        self.restored = False

    def _section(self) -> _Section:
        return _Section(self)

    # ----- start/stop ----------------------------------------------------------------------
    def start(self) -> None:
        """Redirect fds 1/2 (Python's buffered output is flushed first, to where it was going)."""
        out, err = os.fstat(1), os.fstat(2)
        self.merged = self.log.merged = _same_file(out, err)
        self.parent = active()
        pump = _the_pump()
        flush_python_streams()
        opened: list[int] = []
        writers: list[int] = []
        try:
            self.saved = [os.dup(1), os.dup(2)]
            opened += self.saved
            for like, st in ((1, out),) if self.merged else ((1, out), (2, err)):
                r, w, pty = open_channel(like, st.st_mode)
                opened += [r, w]
                self.pty = self.pty or pty
                self.read_fds.append(r)
                writers.append(w)
            os.dup2(writers[0], 1)
            os.dup2(writers[-1], 2)
            while writers:  # fds 1/2 are the write ends now
                fd = writers.pop()
                opened.remove(fd)
                os.close(fd)
            self._pump = pump
            pump.add(self, self.read_fds)
            _stack.append(self)
        except BaseException:  # also a KeyboardInterrupt: leave everything as it was
            if len(self.saved) == 2:
                os.dup2(self.saved[0], 1)
                os.dup2(self.saved[1], 2)
            for fd in self.read_fds:
                pump.unwatch(fd)
            for fd in opened:
                os.close(fd)
            self.saved, self.read_fds = [], []
            if self in _stack:
                _stack.remove(self)
            pump.discard(self)
            raise

    def stop(self, timeout: float = DRAIN_TIMEOUT) -> bool:
        """Put fds 1/2 back, read the pipes to their end; True if the capture had to detach.

        fds 1/2 are restored even if a KeyboardInterrupt arrives meanwhile (it is re-raised
        once they are). If processes started by the step still hold a pipe ``timeout`` seconds
        later, the log gets :data:`DETACHED_NOTE` and the capture lets go of it.
        """
        if os.getpid() != self.pid:  # a forked child unwinding its parent's capture
            self._restore()
            return False
        pump = self._pump
        for fd in self.read_fds:  # read here from now on: closing the writers wakes no thread
            if pump is not None and fd >= 0:
                pump.unwatch(fd)
        interrupted: BaseException | None = None
        drained = False
        while True:
            try:
                if not drained:  # before the writers close (a pseudo-terminal may drop the rest)
                    drained = True
                    if self.pty:
                        self.drain()
                    elif not self.restored:
                        flush_python_streams()
                self._restore()
                break
            except KeyboardInterrupt as e:  # restoring is idempotent: do it to the end
                interrupted = e
        try:
            with self._section():
                if self.parent is not None or self.done:
                    # Nested: output goes to the parent in-process. Done: nothing to forward.
                    self._close_saved()
                self._read_all_locked()
                if not self.done and pump is not None:  # a child holds a pipe: wait for it
                    for idx, fd in enumerate(self.read_fds):
                        if fd >= 0:
                            pump.watch(self, idx, fd)
            if not self.done:
                self._done_lock.acquire(timeout=timeout)
        except KeyboardInterrupt as e:
            interrupted = interrupted or e
        if not self.done:
            self._detach()
        with self._section():
            self.log.close()  # the caller closes it
        if interrupted is not None:
            raise interrupted
        return self.detached

    def _restore(self) -> None:
        if not self.restored and self.saved:
            os.dup2(self.saved[0], 1)
            os.dup2(self.saved[1], 2)
        self.restored = True
        if self in _stack:
            _stack.remove(self)

    def _close_saved(self) -> None:
        """Close the dups of the original fds (with ``lock`` held, once restored)."""
        while self.saved:
            os.close(self.saved.pop())

    def _detach(self) -> None:
        """Stop waiting: the log gets the note, a ``cat`` takes over each pipe (see module doc)."""
        with self._section():
            if self.done:
                return
            self._read_all_locked()
            for idx in (0, 1):
                self.log.flush_partial(idx)
            self.log.write(DETACHED_NOTE, record=True)
            self.log.close()
            self.detached = True
            for idx, fd in enumerate(self.read_fds):
                if fd < 0:
                    continue
                try:
                    hand_over(fd, 1 + idx)
                except OSError:  # no cat: the reader thread forwards it while we live
                    continue
                self._close_read_locked(idx, fd)

    def _finish_locked(self) -> None:
        """Every pipe reached its end: last partial lines to the log, originals closed."""
        if self.done:
            return
        for idx in (0, 1):
            self.log.flush_partial(idx)
        if self._pump is not None:
            self._pump.discard(self)
        if self.restored:  # else fds 1/2 still need them (closed by the step itself?)
            self._close_saved()
        self.done = True
        self._done_lock.release()

    # ----- reading ---------------------------------------------------------------------------
    def drain(self) -> None:
        """Read what the pipes hold now into the log and the original fds (calling thread)."""
        if os.getpid() != self.pid:
            return
        flush_python_streams()
        with self._section():
            self._read_all_locked()

    def _read_all_locked(self) -> None:
        for idx, fd in enumerate(self.read_fds):
            if fd >= 0:
                self._read_locked(idx, fd, limit=None)

    def pump_read(self, idx: int, fd: int) -> None:
        """Read what ``fd`` holds (the pump's call; a stale ``fd`` is ignored)."""
        with self._section():
            if idx < len(self.read_fds) and self.read_fds[idx] == fd:
                self._read_locked(idx, fd, limit=16)

    def _read_locked(self, idx: int, fd: int, limit: int | None) -> None:
        n = 0
        while limit is None or n < limit:
            n += 1
            try:
                data = os.read(fd, _READ)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._close_read_locked(idx, fd)
                return
            self._feed_locked(idx, data)

    def _close_read_locked(self, idx: int, fd: int) -> None:
        if self._pump is not None:
            self._pump.unwatch(fd)
        self.read_fds[idx] = -1
        os.close(fd)
        if all(f < 0 for f in self.read_fds):
            self._finish_locked()

    def tick(self, now: float) -> None:
        """Write out unfinished lines that waited too long (the pump's call)."""
        with self._section():
            self.log.flush_old(now)

    # ----- writing ---------------------------------------------------------------------------
    def _feed_locked(self, idx: int, data: bytes) -> None:
        self._forward(idx, data)
        self.log.stream(idx, data)

    def _forward(self, idx: int, data: bytes) -> None:
        parent = self.parent
        if parent is not None:
            parent.feed(idx, data)
            return
        if not self.saved or not self._forward_ok[idx]:
            return
        fd = self.saved[idx]
        try:
            write_all(fd, data)
        except OSError:  # the original went away (closed pipe): keep logging
            self._forward_ok[idx] = False

    def feed(self, idx: int, data: bytes, *, forward: bool = True) -> None:
        """Take ``data`` as written to stdout (0) or stderr (1) (a nested capture's output, or
        Python-level text that does not go through the descriptors when ``forward`` is False)."""
        with self._section() as first:
            if not first:  # re-entered (a signal handler): as it is, no state touched
                if forward:
                    self._forward(idx, data)
                self.log.raw(data)
                return
            self._read_all_locked()  # what reached our own pipes first comes first
            if forward:
                self._forward(idx, data)
            self.log.stream(idx, data)

    def write_record(self, data: bytes) -> None:
        """Write a logging record's line(s) after everything already written to fds 1/2."""
        if os.getpid() != self.pid:  # a child forked by the step: its own line, no draining
            self.log.raw(data)
            return
        # Python's streams are line-buffered meanwhile (see capture_output): no flush here.
        with self._section() as first:
            if not first:  # re-entered (a signal handler): just the line, no state touched
                self.log.raw(data)
                return
            self._read_all_locked()
            self.log.write(data, record=True)
