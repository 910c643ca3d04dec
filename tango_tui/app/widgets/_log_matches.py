""" "match k of m" for the log pane's search: the matching lines counted in the background.

Counting matches reads the whole file, so it runs in a thread worker after the first match is
shown, in 1 MiB chunks, and gives up after :data:`MATCH_CAP` matches or :data:`COUNT_SECONDS`
("match 3 of 1,000+"). The offsets of the matching lines found are kept (8 bytes each, at most
``MATCH_CAP`` of them), so ``n``/``N`` give the match's rank without counting again.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from textual import work
from textual.containers import Vertical
from textual.message import Message
from textual.worker import get_current_worker

from tango_tui.monitor.logfile import LogFile

if TYPE_CHECKING:
    from .log_lines import LogLines

__all__ = ["COUNT_SECONDS", "MATCH_CAP", "MatchCount", "MatchCounting", "MatchesCounted"]

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
    stopped: bool = False
    """Escape stopped the count (it does not start again for this search)."""

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
        k = bisect_left(self.offsets, offset)
        least = m
        if k < m and self.offsets[k] == offset:
            rank = f"{k + 1:,}"
        else:
            rank = "?"  # past where the count stopped
            least = max(m, 1)  # the match shown is one, even if the count never reached it
        total = f"{least:,}+" if self.capped or self.running else f"{least:,}"
        if self.running:
            more = " (counting…)"
        elif self.stopped:
            more = " (count stopped)"
        else:
            more = ""
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
        count: MatchCount | None = None,
    ) -> None:
        super().__init__()
        self.count = count
        """The count this run was for (a run stopped by Escape reports to it alone)."""
        self.log = log
        self.text = text
        self.generation = generation
        self.offsets = offsets
        self.covered = covered
        self.capped = capped
        self.error = error


class MatchCounting(Vertical):
    """The match-count half of the log pane (:class:`~.log_view.LogView` is the other)."""

    search_text: str
    search_status: str
    match: tuple[int, int] | None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._matches: MatchCount | None = None

    if TYPE_CHECKING:  # provided by LogView

        @property
        def lines(self) -> LogLines: ...
        def _show_status(self) -> None: ...

    def stop_match_count(self) -> bool:
        """Stop a running count (Escape): the status says how far it got. True if one ran."""
        matches = self._matches
        if matches is None or not matches.running:
            return False
        self.workers.cancel_group(self, "log-match-count")
        matches.running, matches.capped, matches.stopped = False, True, True
        self._describe_match()
        return True

    def _reset_matches(self) -> None:
        self.workers.cancel_group(self, "log-match-count")
        self._matches = None

    def _count_after_match(self, text: str) -> None:
        """Start (or go on with) counting the lines that match ``text``."""
        log = self.lines.logfile
        if log is None:
            return
        count = self._matches
        if count is None or count.stale(log, text):
            self.workers.cancel_group(self, "log-match-count")
            count = self._matches = MatchCount(text, log.generation)
        if count.stopped:
            return  # Escape stopped it: a new search counts again
        if count.covered == 0 and not count.running or count.wants_more(log):
            count.running = True
            self._count_matches(log, text, count, list(count.offsets), count.covered)

    @work(thread=True, exclusive=True, exit_on_error=False, group="log-match-count")
    def _count_matches(
        self, log: Any, text: str, count: MatchCount, found: list[int], start: int
    ) -> None:
        """Count matching lines from ``start`` (capped by number and time) in a thread."""
        worker = get_current_worker()
        generation = count.generation
        deadline = time.monotonic() + COUNT_SECONDS
        try:
            covered = log.count_matches(
                text,
                start,
                limit=MATCH_CAP,
                found=found,
                cancel=lambda: worker.is_cancelled or time.monotonic() > deadline,
            )
        except (OSError, RuntimeError) as e:
            error = f"cannot count matches in {log.path}: {e}"
            self.post_message(MatchesCounted(log, text, generation, found, start, True, error))
            return
        if not worker.is_cancelled:
            capped = len(found) >= MATCH_CAP or time.monotonic() > deadline
            self.post_message(MatchesCounted(log, text, generation, found, covered, capped))
        elif count.stopped:
            # Stopped by Escape: what was counted so far still gives "match k of m+".
            self.post_message(
                MatchesCounted(log, text, generation, found, covered, True, count=count)
            )

    def on_matches_counted(self, message: MatchesCounted) -> None:
        count = self._matches
        if count is None or message.log is not self.lines.logfile:
            return
        if count.stale(message.log, message.text) or message.generation != count.generation:
            return
        if message.count is not None and message.count is not count:
            return  # a stopped run of an earlier search for the same text
        count.offsets, count.covered = message.offsets, message.covered
        count.capped, count.running = message.capped, False
        if message.error:
            self.lines.set_notice(message.error)
        self._describe_match()
        self._show_status()

    def _describe_match(self) -> None:
        """The status line's search part: "'text': match k of m"."""
        if self.match is None:
            return
        count = self._matches
        rank = count.describe(self.match[0]) if count is not None else "match"
        self.search_status = f"{self.search_text!r}: {rank}; n/N: next/prev"
