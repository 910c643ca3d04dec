""" "match k of m" for the log pane's search: the matching lines counted in the background.

Counting matches reads the whole file, so it runs in a thread worker after the first match is
shown, in 1 MiB chunks, and gives up after :data:`MATCH_CAP` matches or :data:`COUNT_SECONDS`
("match 3 of 1,000+"). The offsets of the matching lines found are kept (8 bytes each, at most
``MATCH_CAP`` of them), so ``n``/``N`` give the match's rank without counting again.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field

from textual.message import Message

from tango_tui.monitor.logfile import LogFile

__all__ = ["COUNT_SECONDS", "MATCH_CAP", "MatchCount", "MatchesCounted"]

MATCH_CAP = 1000
"""The count stops after this many matching lines."""
COUNT_SECONDS = 5.0
"""... or after this long."""


@dataclass
class MatchCount:
    """How many lines of one file match one search, as far as counted."""

    text: str
    """The search."""
    generation: int
    """``LogFile.generation`` counted (a truncated or replaced file is counted afresh)."""
    offsets: list[int] = field(default_factory=list)
    """Starts of the matching lines found, in file order."""
    covered: int = 0
    """The bytes ``[0, covered)`` have been looked at."""
    capped: bool = False
    """The count stopped at the cap or the time limit before the end."""
    running: bool = False
    """A worker is counting."""

    def stale(self, log: LogFile, text: str) -> bool:
        """Whether this count is of another search or another file."""
        return text != self.text or log.generation != self.generation

    def wants_more(self, log: LogFile) -> bool:
        """Whether the file has grown past the count (and the count may go on)."""
        return not self.capped and not self.running and self.covered < log.size

    def describe(self, offset: int) -> str:
        """ "match k of m" for the matching line at ``offset``."""
        m = len(self.offsets)
        if self.running and not m:
            return "counting matches…"
        total = f"{m:,}+" if self.capped or self.running else f"{m:,}"
        k = bisect_left(self.offsets, offset)
        if k < m and self.offsets[k] == offset:
            rank = f"{k + 1:,}"
        else:
            rank = "?"  # past where the count stopped
        more = " (counting…)" if self.running else ""
        return f"match {rank} of {total}{more}"


class MatchesCounted(Message, bubble=False):
    """A match-count worker finished a run over ``[start, covered)``."""

    def __init__(
        self,
        log: LogFile,
        text: str,
        generation: int,
        offsets: list[int],
        covered: int,
        capped: bool,
        error: str | None = None,
    ) -> None:
        super().__init__()
        self.log = log
        self.text = text
        self.generation = generation
        self.offsets = offsets
        self.covered = covered
        self.capped = capped
        self.error = error
