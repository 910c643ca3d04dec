"""What ``LogFile.refresh`` reports, and opening a log file with errors that say what is wrong."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from tango_tui.core._errors import WorkspaceError

__all__ = ["ChangeKind", "LogChange", "LogFileError", "open_fd"]


class LogFileError(WorkspaceError):
    """A log file cannot be opened: missing, permission denied, a directory, not a file."""


class ChangeKind(str, Enum):
    """What :meth:`LogFile.refresh` found."""

    NONE = "none"
    """Nothing changed."""
    APPENDED = "appended"
    """The file grew; lines from ``reread_from`` on are new or completed."""
    TRUNCATED = "truncated"
    """The file shrank, or its first 64 bytes changed (rewritten in place): read it again."""
    REPLACED = "replaced"
    """The path now names another file (rotation: renamed and recreated): read again."""
    VANISHED = "vanished"
    """The path is gone (or unreadable); what was read stays available until it returns."""


@dataclass(frozen=True, slots=True)
class LogChange:
    """The result of :meth:`LogFile.refresh`."""

    kind: ChangeKind
    """What happened."""
    size: int
    """The file size now known."""
    previous_size: int
    """The size known before this refresh."""
    reread_from: int
    """Offset from which shown lines may differ: the old last line's start on APPENDED (it
    may have been partial), 0 on TRUNCATED / REPLACED, ``size`` otherwise."""
    new_lines: int | None = None
    """Line breaks added on APPENDED (None if the append was too big to count inline)."""
    problem: str | None = None
    """Why the file is unavailable, on VANISHED."""

    @property
    def reset(self) -> bool:
        """True when the caller must drop everything it read and start again."""
        return self.kind in (ChangeKind.TRUNCATED, ChangeKind.REPLACED)


def open_fd(path: Path) -> tuple[int, os.stat_result]:
    """Open ``path`` read-only; raise :class:`LogFileError` saying what is wrong."""
    try:
        # O_NONBLOCK so a FIFO at the path cannot hang the reader; no effect on regular files.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise LogFileError(path, "log file not found") from None
    except PermissionError:
        raise LogFileError(path, "permission denied") from None
    except NotADirectoryError:
        raise LogFileError(path, "a parent of the log path is not a directory") from None
    except OSError as exc:
        raise LogFileError(path, f"cannot open log file: {exc.strerror or exc}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        what = "is a directory" if stat.S_ISDIR(st.st_mode) else "is not a regular file"
        raise LogFileError(path, f"{what}, not a log file")
    return fd, st
