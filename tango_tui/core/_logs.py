"""Log capture: a run's Python logging into a file, and one step execution's whole output.

:func:`file_handler` is Tango's context manager, except that INFO records are kept (Tango's
default level drops them). :func:`capture_output` is ours: while a step executes, its logging
records *and* whatever it prints (``sys.stdout``/``sys.stderr``) go to the step's log file, line
by line, so someone tailing the file sees each line as it is written; the output still reaches
the original streams too (a tee).

Limits: the tee swaps the process-wide ``sys.stdout``/``sys.stderr``, so two steps executing in
threads of one process would share their captures (the executor runs parallel steps in separate
processes); output written straight to file descriptors 1 and 2 (C extensions, child processes)
is not captured.
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
from typing import IO, TextIO

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
        # Code that writes to the descriptor reaches the terminal (not captured; see module doc).
        if self._original is None:
            raise io.UnsupportedOperation("fileno")
        return self._original.fileno()

    @property
    def buffer(self) -> IO[bytes]:
        """The original stream's byte buffer (bytes written there are not captured)."""
        if self._original is None or not hasattr(self._original, "buffer"):
            raise AttributeError("buffer")
        return self._original.buffer  # type: ignore[no-any-return]

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._original, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self._original, "errors", None)


@contextlib.contextmanager
def capture_output(path: str | os.PathLike[str], level: int = logging.INFO) -> Iterator[None]:
    """Capture logging records and ``sys.stdout``/``sys.stderr`` into ``path`` (appending).

    The file is line-buffered, so every complete line is on disk as soon as it is printed. On
    exit the original streams, handlers and root level are restored, whatever happened inside.
    The parent directory must exist.
    """
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
