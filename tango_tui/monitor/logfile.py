"""``LogFile``: a lazy, offset-addressed reader of a growing text log.

Built for a virtual-scrolling log pane that shows ~50 lines at a time of a file that may be
1 GB and still growing. Nothing reads the whole file up front: the tail is found by reading
backwards from the end (like ``less +G``), and only the lines asked for are read (``os.pread``).

Positions are byte offsets of line starts. A widget keeps the offset of its top line and asks::

    log = LogFile(path)          # or: with LogFile(path) as log:
    log.open()                   # WorkspaceError(path, problem) if missing/denied/a directory
    lines = log.tail(50)         # the last 50 lines, a partial last line included
    log.lines_before(lines[0].offset, 50)   # page up
    log.lines_after(lines[-1].end, 50)      # page down
    log.line_at(offset)          # the line containing any byte offset
    change = log.refresh()       # LogChange: appended / truncated / replaced / vanished / none
    hit = log.search("error", start, backwards=False, regex=False, case_sensitive=False,
                     cancel=event)          # -> Line | None, read in 1 MiB chunks
    log.count_matches("error", limit=1000, found=offsets, cancel=event)  # -> offset covered
    log.skip(offset, -20)        # the line 20 lines up, without a line count
    log.size                     # bytes known since the last open()/refresh()
    log.close()

Lines are :class:`Line` ``(offset, end, text, complete, cut)``: ``end`` is the next line's
offset; ``text`` is decoded UTF-8 with bad bytes replaced, without ``\\r\\n``, with ANSI escape
sequences removed, control characters shown as symbols (tabs kept), and a line over 64 KiB cut
for display with a marker (``cut=True``; offsets stay exact). A last line without a line break
has ``complete=False``; after a refresh that reports growth, re-read from
``LogChange.reread_from`` (that line's start) to see it whole.

Line numbers (1-based) and the line count come from a forward count that the widget runs in a
background thread, a slice at a time: ``scan(cancel=event, max_bytes=...)``. Until it has passed
an offset, ``line_number_of(offset)`` is None and ``approx_line_count`` is an estimate; once done,
``line_count`` is exact, ``offset_of_line(n)`` supports "go to line", and ``refresh()`` keeps the
count current. A byte-proportional scrollbar (``offset / size``) needs no count at all.

Threads: reads use ``pread`` (no shared file position) and state changes hold a lock, so a scan
or search thread may run beside the UI thread. A ``refresh()`` that resets the file (truncation,
replacement) makes a running scan stop and start over; a search running meanwhile may return a
line of the old file, which the caller's own reset handling discards.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from . import _logread
from ._logchange import ChangeKind, LogChange, LogFileError, open_fd
from ._lognumbers import LineNumbers
from ._logread import Line, read
from ._logscan import LineCount
from ._logsearch import compile_pattern, count_lines, find_line

__all__ = ["ChangeKind", "Line", "LogChange", "LogFile", "LogFileError"]

log = logging.getLogger(__name__)

_HEAD = 64
"""Bytes at the start of the file remembered to notice a file rewritten in place."""
_INLINE_COUNT = 32 * 1024 * 1024
"""Appends up to this size are counted during ``refresh`` (bigger ones are left to ``scan``)."""


class LogFile(LineNumbers):
    """A lazy reader of one growing log file (see the module docstring for the API tour).

    Args:
        path: The log file. Nothing is opened until :meth:`open`.
        checkpoint_every: Lines between two entries of the sparse line index.
    """

    def __init__(self, path: str | os.PathLike[str], *, checkpoint_every: int = 1000) -> None:
        self.path = Path(path)
        """The log file's path."""
        self.problem: str | None = None
        """Why the file is unavailable, while :attr:`vanished`."""
        self._stride = checkpoint_every
        self._lock = threading.RLock()
        self._fd: int | None = None
        self._retired: int | None = None
        self._identity: tuple[int, int] | None = None
        self._size = 0
        self._head = b""
        self._generation = 0
        self._count = LineCount(stride=checkpoint_every)
        self._vanished = False
        self._sample = (0, 0)  # (bytes, lines) seen by reads: estimates the line count

    # -- lifecycle -------------------------------------------------------------------------

    def open(self) -> Self:
        """Open the file. Raises :class:`LogFileError` (a ``WorkspaceError``) naming the path."""
        fd, st = open_fd(self.path)
        with self._lock:
            self._close_fd()
            self._adopt(fd, st)
        return self

    def close(self) -> None:
        """Release the file (idempotent)."""
        with self._lock:
            self._close_fd()

    def __enter__(self) -> Self:
        return self.open() if self._fd is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _close_fd(self) -> None:
        for fd in (self._fd, self._retired):
            if fd is not None:
                os.close(fd)
        self._fd = self._retired = None

    def _retire_fd(self) -> None:
        """Keep the replaced file's descriptor open until the next replacement.

        A scan or search thread may still be reading it; closing it at once would let the
        number be reused by the next ``open`` anywhere in the process, and the thread would
        read some other file.
        """
        if self._retired is not None:
            os.close(self._retired)
        self._retired, self._fd = self._fd, None

    def _adopt(self, fd: int, st: os.stat_result) -> None:
        """Start over on the open file ``fd`` (lock held)."""
        self._fd = fd
        self._identity = (st.st_dev, st.st_ino)
        self._size = st.st_size
        self._head = read(fd, 0, min(_HEAD, st.st_size))
        self._reset_index()
        self._vanished = False
        self.problem = None

    def _reset_index(self) -> None:
        self._generation += 1
        self._count = LineCount(stride=self._stride)
        self._sample = (0, 0)

    def _snapshot(self) -> tuple[int, int]:
        with self._lock:
            if self._fd is None:
                raise RuntimeError(f"{self.path}: LogFile is not open")
            return self._fd, self._size

    # -- reading ---------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Bytes of the file known since the last :meth:`open` / :meth:`refresh`."""
        return self._size

    @property
    def vanished(self) -> bool:
        """True while the path is gone or unreadable (the last refresh said VANISHED)."""
        return self._vanished

    def _note(self, lines: list[Line]) -> list[Line]:
        if lines:
            nbytes, nlines = self._sample
            self._sample = (nbytes + lines[-1].end - lines[0].offset, nlines + len(lines))
        return lines

    def tail(self, n: int) -> list[Line]:
        """The last ``n`` lines in file order (a last line without a line break included)."""
        fd, size = self._snapshot()
        return self._note(_logread.lines_before(fd, size, n, size))

    def lines_before(self, offset: int, n: int) -> list[Line]:
        """Up to ``n`` lines that end at or before ``offset`` (a line start), in file order."""
        fd, size = self._snapshot()
        return self._note(_logread.lines_before(fd, max(0, offset), n, size))

    def lines_after(self, offset: int, n: int) -> list[Line]:
        """Up to ``n`` lines from ``offset`` (a line start, e.g. a ``Line.end``) on."""
        fd, size = self._snapshot()
        return self._note(_logread.lines_after(fd, max(0, offset), n, size))

    def line_at(self, offset: int) -> Line | None:
        """The line containing byte ``offset``; None at or past the end of the file."""
        fd, size = self._snapshot()
        if offset >= size or offset < 0:
            return None
        lines = _logread.lines_after(fd, _logread.line_start(fd, offset), 1, size)
        return lines[0] if lines else None

    def search(
        self,
        pattern: str,
        start_offset: int,
        *,
        backwards: bool = False,
        regex: bool = False,
        case_sensitive: bool = False,
        cancel: Any = None,
    ) -> Line | None:
        """Find the next line matching ``pattern``, reading 1 MiB at a time.

        Args:
            pattern: Text to look for (or a regular expression with ``regex=True``; ``^`` and
                ``$`` match at line boundaries).
            start_offset: A line start. Forwards: lines from here on (pass the current match's
                ``end`` to find the next one). Backwards: lines that start before it.
            backwards: Search towards the start of the file.
            regex: Treat ``pattern`` as a Python regular expression.
            case_sensitive: Match case exactly (default: ignore case).
            cancel: A ``threading.Event`` or a callable returning True to stop early.

        Returns:
            The matching line, or None if there is none (or the search was cancelled).

        Raises:
            re.error: ``pattern`` is not a valid regular expression.
        """
        compiled = compile_pattern(pattern, regex=regex, case_sensitive=case_sensitive)
        with self._borrowed() as (fd, size, _generation):  # searches run in worker threads
            start = max(0, start_offset)
            found = find_line(fd, size, compiled, start, backwards=backwards, cancel=cancel)
            if found is None:
                return None
            lines = _logread.lines_after(fd, found, 1, size)
        return lines[0] if lines else None

    def count_matches(
        self,
        pattern: str,
        start: int = 0,
        *,
        limit: int,
        found: list[int],
        regex: bool = False,
        case_sensitive: bool = False,
        cancel: Any = None,
    ) -> int:
        """Collect the offsets of the lines matching ``pattern`` from ``start`` on (see
        :meth:`search` for the matching rules), at most ``limit`` in ``found``.

        Returns:
            The offset covered up to: :attr:`size` (as it was) once every line was looked at.
        """
        compiled = compile_pattern(pattern, regex=regex, case_sensitive=case_sensitive)
        with self._borrowed() as (fd, size, _generation):  # counts run in worker threads
            return count_lines(
                fd, size, compiled, max(0, start), limit=limit, found=found, cancel=cancel
            )

    # -- following -------------------------------------------------------------------------

    def refresh(self) -> LogChange:
        """Look at the file again: growth, truncation, replacement (rotation) or a vanished path.

        Never raises for a file that went away; the lines read so far stay readable (the old
        file stays open) until the path comes back, which is then reported as REPLACED.
        """
        with self._lock:
            if self._fd is None:
                raise RuntimeError(f"{self.path}: LogFile is not open")
            old = self._size
            problem = None
            try:
                st = os.stat(self.path)
                if not stat.S_ISREG(st.st_mode):
                    problem = "is no longer a regular file"
            except FileNotFoundError:
                problem = "log file vanished"
            except PermissionError:
                problem = "permission denied"
            except OSError as exc:
                problem = f"cannot read log file: {exc.strerror or exc}"
            if problem is None and (st.st_dev, st.st_ino) != self._identity:
                try:
                    fd, st = open_fd(self.path)
                except LogFileError as exc:
                    problem = exc.problem
                else:
                    log.debug("%s: replaced (inode changed)", self.path)
                    self._retire_fd()
                    self._adopt(fd, st)
                    return LogChange(ChangeKind.REPLACED, self._size, old, 0)
            if problem is not None:
                if not self._vanished:
                    self._vanished, self.problem = True, problem
                    return LogChange(ChangeKind.VANISHED, old, old, old, problem=problem)
            elif self._vanished:
                self._vanished, self.problem = False, None  # back under the same name
            return self._grow(old)

    def _grow(self, old: int) -> LogChange:
        """Compare the open file with what was known (lock held)."""
        assert self._fd is not None
        fd = self._fd
        new = os.fstat(fd).st_size
        head = read(fd, 0, min(_HEAD, new))
        if new < old or head[: len(self._head)] != self._head:
            log.debug("%s: truncated or rewritten (%d -> %d bytes)", self.path, old, new)
            self._size, self._head = new, head
            self._reset_index()
            return LogChange(ChangeKind.TRUNCATED, new, old, 0)
        if new == old:
            return LogChange(ChangeKind.NONE, old, old, old)
        self._head = head
        count = self._count
        reread_from = _logread.line_start(fd, old) if old else 0
        new_lines: int | None = None
        if new - old <= _INLINE_COUNT:
            data = read(fd, old, new)
            new_lines = data.count(b"\n")
            if count.cursor == old:
                count.feed(data, old)  # keep a finished count finished
        self._size = new
        return LogChange(ChangeKind.APPENDED, new, old, reread_from, new_lines)
