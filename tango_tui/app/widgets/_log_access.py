"""A thin adapter from the log widgets to the monitor's ``LogFile``.

The widgets speak in :class:`Line` (byte offset, end offset, text); this module maps that onto
``tango_tui.monitor.logfile.LogFile`` so the widgets do not depend on its exact shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tango_tui.monitor.logfile import LogFile


@dataclass(frozen=True)
class Line:
    """One line of a log."""

    offset: int
    """Byte offset of its first character."""
    end: int
    """Byte offset just past its line break (the next line's offset)."""
    text: str
    """The line without its line break, decoded (undecodable bytes replaced)."""


@dataclass(frozen=True)
class Change:
    """What :func:`refresh` found."""

    appended: int = 0
    """Complete lines added at the end since the last look."""
    reset: str | None = None
    """``"truncated"`` or ``"replaced"`` when the file must be read again from scratch."""


def open_log(path: Path) -> Any:
    """Open ``path`` for lazy reading (raises OSError if it cannot be read)."""
    raise NotImplementedError


def close(log: Any) -> None:
    """Release the file."""


def tail(log: Any, n: int) -> list[Line]:
    """The last ``n`` lines."""
    raise NotImplementedError


def before(log: Any, offset: int, n: int) -> list[Line]:
    """Up to ``n`` lines ending just before ``offset``."""
    raise NotImplementedError


def after(log: Any, offset: int, n: int) -> list[Line]:
    """Up to ``n`` lines starting at ``offset``."""
    raise NotImplementedError


def at_end(log: Any, offset: int) -> bool:
    """Whether ``offset`` is at (or past) the last complete line."""
    raise NotImplementedError


def refresh(log: Any) -> Change:
    """Look at the file again (raises FileNotFoundError if it vanished)."""
    raise NotImplementedError


def search_file(path: Path, text: str, start: int, forward: bool) -> int | None:
    """Offset of the first line containing ``text`` after (before) ``start``, or None."""
    raise NotImplementedError


__all__ = ["Change", "Line", "LogFile"]
