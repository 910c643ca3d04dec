"""The reader thread behind fd-level capture, and the helpers it shares with the captures.

One :class:`Pump` per process, started on first use and kept: a step does not pay for a thread
start (~0.1 ms here; a forked parallel worker, which runs one step, does). It waits on the pipes of every active capture with ``epoll`` and hands
what arrives to the capture; every ``TICK`` seconds it lets captures write out unfinished lines
that have waited too long. A capture takes its pipes out of the pump before fds 1/2 are restored,
so a step that printed nothing never wakes the thread.
"""

from __future__ import annotations

import _thread
import contextlib
import os
import select
import stat
import sys
import time
from typing import Any

TICK = 0.25
"""Seconds between the pump's looks at unfinished lines while captures are (recently) active."""

_IDLE_AFTER = 10.0  # seconds without captures before the pump sleeps without a timeout


def write_all(fd: int, data: bytes | memoryview) -> None:
    """Write all of ``data`` to ``fd`` (waiting if someone made it non-blocking)."""
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [], 1.0)
            continue
        view = view[n:]


def flush_python_streams() -> None:
    """Flush ``sys.stdout``/``sys.stderr`` (their buffered text reaches the descriptors)."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.flush()


def hand_over(read_fd: int, out_fd: int) -> None:
    """Start a ``cat`` copying the pipe ``read_fd`` to ``out_fd`` until its writers are gone.

    It outlives this process if need be, so a child still writing never gets SIGPIPE.

    Raises:
        OSError: No process could be started.
    """
    import shutil
    import subprocess

    cat = shutil.which("cat")
    cmd = (
        [cat]
        if cat
        else [sys.executable, "-c", "import os\nwhile b := os.read(0, 65536): os.write(1, b)"]
    )
    os.set_blocking(read_fd, True)  # the flag belongs to the pipe, which cat shares
    try:
        subprocess.Popen(cmd, stdin=read_fd, stdout=out_fd, stderr=subprocess.DEVNULL)
    except OSError:
        os.set_blocking(read_fd, False)
        raise


def open_channel(like: int, mode: int) -> tuple[int, int, bool]:
    """``(read_fd, write_fd, is_pty)``: a pipe, or a pseudo-terminal when ``like`` (whose
    ``st_mode`` is ``mode``) is a terminal. The read end is non-blocking.

    With a pseudo-terminal the step's programs still see a terminal on fds 1/2 (colours,
    progress bars, terminal width), as they would without the capture. Its output processing is
    off, so bytes arrive as written (no ``\\n`` -> ``\\r\\n``); the real terminal does that.
    A resize of the real terminal during the step is not passed on.
    """
    if stat.S_ISCHR(mode) and os.isatty(like):
        try:
            r, w = _open_pty(like)
            os.set_blocking(r, False)
            return r, w, True
        except (OSError, ImportError):
            pass
    import fcntl  # POSIX only: imported where used, so that this module imports everywhere

    r, w = os.pipe()
    fcntl.fcntl(r, fcntl.F_SETFL, os.O_NONBLOCK)  # a new pipe's read end has no other flag
    return r, w, False


def _open_pty(like: int) -> tuple[int, int]:
    import fcntl
    import termios

    master, slave = os.openpty()  # O_NOCTTY: never becomes a controlling terminal
    try:
        attrs = termios.tcgetattr(slave)
        attrs[1] &= ~termios.OPOST
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        with contextlib.suppress(OSError):
            size = fcntl.ioctl(like, termios.TIOCGWINSZ, b"\0" * 8)
            fcntl.ioctl(slave, termios.TIOCSWINSZ, size)
    except BaseException:
        os.close(master)
        os.close(slave)
        raise
    return master, slave


class Pump:
    """The reader thread: waits on every capture's pipes and feeds what arrives to its capture.

    A capture object provides ``pump_read(idx, fd)`` (read what is there, under its lock) and
    ``tick(now)`` (write out unfinished lines older than its limit).
    """

    def __init__(self) -> None:
        self.epoll = select.epoll()
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        self.epoll.register(self.wake_r, select.EPOLLIN)
        self.fds: dict[int, tuple[Any, int]] = {}
        self.captures: set[Any] = set()
        self.idle = False
        self.last_busy = time.monotonic()
        # A bare thread: threading.Thread.start() waits until the thread runs, which costs a
        # forked worker ~0.5 ms on a busy machine; this one is ~0.1 ms. It never blocks exit.
        _thread.start_new_thread(self._run, ())

    def add(self, cap: Any, read_fds: list[int]) -> None:
        """Start watching ``cap``'s pipes."""
        self.captures.add(cap)
        for idx, fd in enumerate(read_fds):
            self.watch(cap, idx, fd)
        if self.idle:  # asleep without a timeout (long idle): wake it for the ticks
            with contextlib.suppress(OSError):
                os.write(self.wake_w, b"w")

    def watch(self, cap: Any, idx: int, fd: int) -> None:
        """Watch one pipe (its ``idx``: 0 stdout, 1 stderr) of ``cap``."""
        self.fds[fd] = (cap, idx)
        self.epoll.register(fd, select.EPOLLIN)

    def unwatch(self, fd: int) -> None:
        """Stop watching ``fd`` (before it is closed)."""
        if self.fds.pop(fd, None) is not None:
            with contextlib.suppress(OSError, ValueError):
                self.epoll.unregister(fd)

    def discard(self, cap: Any) -> None:
        """``cap`` has ended: no more ticks for it."""
        self.captures.discard(cap)

    def _run(self) -> None:
        while True:
            try:
                self._loop()
            except Exception:  # noqa: BLE001 -- the reader must outlive a surprise, or pipes fill
                time.sleep(0.01)

    def _loop(self) -> None:
        while True:
            self.idle = True  # set before looking at captures (see add())
            busy = self.captures or time.monotonic() - self.last_busy < _IDLE_AFTER
            if busy:
                self.idle = False  # wakes up by itself within TICK
            try:
                events = self.epoll.poll(TICK if busy else -1)
            except InterruptedError:
                continue
            self.idle = False
            for fd, _ in events:
                if fd == self.wake_r:
                    with contextlib.suppress(OSError):
                        os.read(self.wake_r, 4096)
                    continue
                entry = self.fds.get(fd)
                if entry is not None:
                    entry[0].pump_read(entry[1], fd)
            now = time.monotonic()
            if self.captures:
                self.last_busy = now
            for cap in list(self.captures):
                cap.tick(now)
