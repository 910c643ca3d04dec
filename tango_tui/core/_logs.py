"""Log capture: a run's Python logging into a file, and one step execution's whole output.

:func:`file_handler` is Tango's context manager, except that INFO records are kept (Tango's
default level drops them). :func:`capture_output` is ours: while a step executes, its logging
records *and* everything written to stdout/stderr go to the step's log file, line by line, so
someone tailing the file sees each line as it is written; the output still reaches the original
destination too (a tee).

Two ways, chosen per capture (see :func:`capture_output`): at the file-descriptor level
(:mod:`tango_tui.core._capture`: C extensions, ``os.system``, child processes are captured too),
or, where that cannot be used, at the Python level (``sys.stdout``/``sys.stderr`` swapped for
tees; output written straight to fds 1 and 2 is then not captured).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, TextIO

from . import _capture

logger = logging.getLogger(__name__)
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
"""Format of the lines :func:`file_handler` and :func:`capture_output` write for logging records."""


def _formatter() -> logging.Formatter:
    return logging.Formatter(LOG_FORMAT)


@contextlib.contextmanager
def _root_level_at_most(level: int) -> Iterator[None]:
    """Lower the root logger's level to ``level`` for the duration (records below it are kept)."""
    root = logging.getLogger()
    old = root.level
    if old == logging.NOTSET or old > level:
        root.setLevel(level)
    try:
        yield
    finally:
        root.setLevel(old)


@contextlib.contextmanager
def file_handler(path: str | os.PathLike[str], level: int = logging.INFO) -> Iterator[None]:
    """Send Python logging records of ``level`` and above to ``path`` while the context is active.

    The file is opened for appending (created with its parent directories if needed) and each
    record is flushed as it is written. The handler is attached to the root logger and removed on
    exit; the root logger's level is lowered to ``level`` meanwhile so INFO lines are not lost.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="a", encoding="utf-8", errors="backslashreplace")
    handler.setLevel(level)
    handler.setFormatter(_formatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with _root_level_at_most(level):
            yield
    finally:
        root.removeHandler(handler)
        handler.close()


class _Tee(io.TextIOBase):
    """A text stream that writes to the original stream and to a log file.

    Writing to the log never breaks the step: if the log file fails (disk full), the tee stops
    writing to it and keeps serving the original stream.
    """

    def __init__(self, original: TextIO, log: IO[str], lock: threading.Lock):
        self._original = original
        self._log: IO[str] | None = log
        self._lock = lock

    def write(self, s: str) -> int:
        if self._original is not None:
            self._original.write(s)
        log = self._log
        if log is not None:
            try:
                with self._lock:
                    log.write(s)
            except (OSError, ValueError):  # disk full, or the file was closed under us
                self._log = None
        return len(s)

    def flush(self) -> None:
        if self._original is not None:
            self._original.flush()
        log = self._log
        if log is not None:
            try:
                log.flush()
            except (OSError, ValueError):
                self._log = None

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return bool(self._original is not None and self._original.isatty())

    def fileno(self) -> int:
        # Code that writes to the descriptor reaches the terminal (not captured by this tee).
        if self._original is None:
            raise io.UnsupportedOperation("fileno")
        return self._original.fileno()

    @property
    def buffer(self) -> IO[bytes]:
        """The original stream's byte buffer (bytes written there are not captured)."""
        if self._original is None or not hasattr(self._original, "buffer"):
            raise AttributeError("buffer")
        return self._original.buffer

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._original, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self._original, "errors", None)


def capture_output(
    path: str | os.PathLike[str], level: int = logging.INFO
) -> contextlib.AbstractContextManager[None]:
    """Capture logging records and stdout/stderr into ``path`` (appending).

    Every complete line is on disk as soon as it is written. On exit the original descriptors,
    streams, handlers and root level are restored, whatever happened inside (also on
    KeyboardInterrupt). The parent directory must exist.

    At the file-descriptor level (:class:`~tango_tui.core._capture.FdCapture`) when
    :func:`~tango_tui.core._capture.fd_capture_possible`: POSIX, the main thread, fds 1 and 2
    open. Then a logging handler that writes to fd 1 or 2 (a console handler) writes to the
    original descriptor directly while the capture lasts, so its records are not in the log
    twice (they are there once, from the capture's own handler), and Python streams that do not
    write to fds 1/2 (e.g. pytest's or Jupyter's) are teed at the Python level.

    Otherwise, for a step running in a non-main thread (while the main thread may use the
    terminal, and other threads could enter and leave captures in any order), with fd 1 or 2
    closed, or on Windows, the Python-level tee is used: ``sys.stdout``/``sys.stderr`` are
    process-wide, so steps executing in threads of one process share their captures (the
    executor runs parallel steps in separate processes), and output written straight to the
    descriptors is not captured.
    """
    if _capture.fd_capture_possible():
        return _fd_capture(path, level)
    return _tee_capture(path, level)


def _fd_number(stream: Any) -> int | None:
    """1 or 2 if ``stream`` writes to that file descriptor, else None."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    return fd if fd in (1, 2) else None


class _RecordHandler(logging.Handler):
    """Writes records to an fd capture's log, after the output written before them.

    Handlers are reused from capture to capture (:func:`_record_handler`): creating one costs
    more than the rest of a capture's set-up.
    """

    def __init__(self) -> None:
        super().__init__()
        self.cap: _capture.FdCapture | None = None
        self.setFormatter(_formatter())

    def emit(self, record: logging.LogRecord) -> None:
        cap = self.cap
        if cap is None:
            return
        try:
            text = self.format(record) + "\n"
            cap.write_record(text.encode("utf-8", "backslashreplace"))
        except RecursionError:
            raise
        except Exception:  # noqa: BLE001 -- logging's convention
            self.handleError(record)


_spare_handlers: list[_RecordHandler] = []


def _record_handler(cap: _capture.FdCapture, level: int) -> _RecordHandler:
    try:
        handler = _spare_handlers.pop()
    except IndexError:
        handler = _RecordHandler()
    handler.cap = cap
    handler.setLevel(level)
    return handler


class _FeedTee(io.TextIOBase):
    """A Python stream that does not write to fds 1/2, teed into an fd capture's log."""

    def __init__(self, original: TextIO, cap: _capture.FdCapture, idx: int):
        self._original = original
        self._cap = cap
        self._idx = idx

    def write(self, s: str) -> int:
        self._original.write(s)
        self._cap.feed(self._idx, s.encode("utf-8", "backslashreplace"), forward=False)
        return len(s)

    def flush(self) -> None:
        self._original.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._original.isatty()

    def fileno(self) -> int:
        return self._original.fileno()

    def __getattr__(self, name: str) -> Any:  # encoding, errors, buffer...: the original's
        return getattr(self._original, name)


class _Restorer:
    """What an fd capture changed besides the descriptors, put back idempotently."""

    def __init__(self) -> None:
        self.consoles: list[tuple[logging.StreamHandler[Any], Any, Any]] = []
        self.streams: dict[str, Any] = {}
        self.line_buffered: list[io.TextIOWrapper] = []

    def redirect_consoles(self, cap: _capture.FdCapture) -> None:
        """Point handlers that write to fds 1/2 at (dups of) the original descriptors."""
        for ref in list(getattr(logging, "_handlerList", ())):
            h = ref() if callable(ref) else None
            if (
                not isinstance(h, logging.StreamHandler)
                or isinstance(h, logging.FileHandler)
                or h is logging.lastResort
            ):  # lastResort writes to sys.stderr, whatever it is
                continue
            n = _fd_number(h.stream)
            if n is None or len(cap.saved) != 2:
                continue
            old = h.stream
            raw = io.FileIO(os.dup(cap.saved[n - 1]), "w", closefd=True)
            direct = io.TextIOWrapper(
                raw,
                encoding=getattr(old, "encoding", None) or "utf-8",
                errors=getattr(old, "errors", None) or "backslashreplace",
                write_through=True,
            )
            try:
                h.setStream(direct)
            except AttributeError:  # a handler whose stream is computed (like lastResort)
                direct.close()
                continue
            self.consoles.append((h, old, direct))

    def tee_streams(self, cap: _capture.FdCapture) -> None:
        """Line-buffer Python streams writing to fds 1/2; tee the others into the log."""
        for idx, name in enumerate(("stdout", "stderr")):
            stream = getattr(sys, name)
            if stream is None:
                continue
            if _fd_number(stream) is None:
                self.streams[name] = stream
                setattr(sys, name, _FeedTee(stream, cap, idx))
            elif isinstance(stream, io.TextIOWrapper) and not stream.line_buffering:
                stream.reconfigure(line_buffering=True)
                self.line_buffered.append(stream)

    def restore(self) -> None:
        for name, stream in self.streams.items():
            setattr(sys, name, stream)
        while self.line_buffered:
            with contextlib.suppress(Exception):
                self.line_buffered[-1].reconfigure(line_buffering=False)
            self.line_buffered.pop()
        while self.consoles:
            h, old, direct = self.consoles[-1]
            if h.stream is direct:
                h.setStream(old)
            self.consoles.pop()
            with contextlib.suppress(OSError, ValueError):
                direct.close()


def _uninterrupted(fn: Any) -> BaseException | None:
    """Run idempotent ``fn`` to its end even if KeyboardInterrupts arrive; return the last one."""
    interrupted = None
    while True:
        try:
            fn()
            return interrupted
        except KeyboardInterrupt as e:
            interrupted = e


@contextlib.contextmanager
def _fd_capture(path: str | os.PathLike[str], level: int) -> Iterator[None]:
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
    log_fd = os.open(path, flags, 0o644)
    if log_fd <= 2:  # a standard descriptor was closed: keep the log out of its place
        import fcntl

        fd, log_fd = log_fd, fcntl.fcntl(log_fd, fcntl.F_DUPFD_CLOEXEC, 3)
        os.close(fd)
    cap = _capture.FdCapture(log_fd)
    try:
        cap.start()
    except (OSError, RuntimeError) as e:  # e.g. fd 1 closed; no thread could be started
        os.close(log_fd)
        logger.debug("cannot capture fds 1/2 (%s); capturing Python's streams only", e)
        with _tee_capture(path, level):
            yield
        return
    handler = _record_handler(cap, level)
    root = logging.getLogger()
    changes = _Restorer()
    detached = False
    try:
        root.addHandler(handler)
        changes.redirect_consoles(cap)
        changes.tee_streams(cap)
        with _root_level_at_most(level):
            yield
    finally:
        try:
            detached = cap.stop()
        finally:
            fds = [log_fd]

            def undo() -> None:
                changes.restore()
                root.removeHandler(handler)
                if handler.cap is not None:
                    handler.cap = None
                    _spare_handlers.append(handler)
                while fds:
                    os.close(fds.pop())

            interrupted = _uninterrupted(undo)
            if detached:  # also when the step raised: to the run's log (out.log), not the step's
                logger.warning(
                    "processes started by the step logged in %s still hold its stdout/stderr "
                    "open; their further output is not in that log",
                    path,
                )
            if interrupted is not None:
                raise interrupted


@contextlib.contextmanager
def _tee_capture(path: str | os.PathLike[str], level: int) -> Iterator[None]:
    """The Python-level capture: ``sys.stdout``/``sys.stderr`` swapped for tees."""
    log = open(path, "a", encoding="utf-8", errors="backslashreplace", buffering=1)  # noqa: SIM115
    lock = threading.Lock()
    handler = logging.StreamHandler(log)
    handler.setLevel(level)
    handler.setFormatter(_formatter())
    root = logging.getLogger()
    old_out, old_err = sys.stdout, sys.stderr
    root.addHandler(handler)
    sys.stdout = _Tee(old_out, log, lock)
    sys.stderr = _Tee(old_err, log, lock)
    try:
        with _root_level_at_most(level):
            yield
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        sys.stdout, sys.stderr = old_out, old_err
        root.removeHandler(handler)
        handler.close()
        try:
            log.close()
        except OSError:
            pass
