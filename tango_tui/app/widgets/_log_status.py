"""The log pane's status line, fitted to the pane's width.

The first line says whether the pane follows the file and where the view is; it is made of
parts, each with a rank, and the least useful parts (key hints, the file's size, the line total)
are dropped first until it fits, so it never wraps and the text does not jump as the position
changes. The search and a problem get a line each; a problem's path keeps its file name (the
middle of the path gives way).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.text import Text

if TYPE_CHECKING:
    from .log_lines import LogLines

__all__ = ["Part", "fit", "middle_ellipsis", "status_parts"]

KEEP = 0
"""The rank of a part that is never dropped."""


@dataclass(frozen=True, slots=True)
class Part:
    """One piece of the status line."""

    text: str
    """What it says (with its leading spaces)."""
    style: str
    """Its Rich style."""
    rank: int = KEEP
    """Drop order when the line is too wide: the highest rank goes first; ``KEEP`` stays."""


def fit(parts: list[Part], width: int) -> Text:
    """The parts as one line at most ``width`` cells wide (``width`` <= 0: all of them).

    Parts are dropped highest rank first (the later of two equal ranks first); if the kept
    parts still do not fit, the line ends with an ellipsis.
    """
    kept = list(parts)
    if width > 0:
        while sum(cell_len(p.text) for p in kept) > width:
            droppable = [i for i, p in enumerate(kept) if p.rank != KEEP]
            if not droppable:
                break
            del kept[max(droppable, key=lambda i: (kept[i].rank, i))]
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    run, style = "", None
    for part in kept:  # a tail (" of 2.0 MB") and its head in one span, as drawn before
        if run and (part.style != style or part.text.startswith("  ")):
            text.append(run, style=style)
            run = ""
        run, style = run + part.text, part.style
    if run:
        text.append(run, style=style)
    if width > 0 and text.cell_len > width:
        text.truncate(width, overflow="ellipsis")
    return text


def middle_ellipsis(text: str, width: int) -> str:
    """``text`` cut to ``width`` cells by an ellipsis in its middle, keeping its end (the file
    name of a path) whole when it can."""
    if width <= 0 or cell_len(text) <= width:
        return text
    if width < 5:
        return text[-width:]
    tail = max(width // 2, min(len(text.rsplit("/", 1)[-1]) + 1, width - 4))
    head = width - 1 - tail
    return f"{text[:head]}…{text[len(text) - tail :]}"


def status_parts(lines: LogLines, *, size: str | None) -> list[Part]:
    """The first status line's parts for ``lines`` (``size``: the file's size, formatted)."""
    parts: list[Part] = []
    log = lines.logfile
    if lines.follow and (lines.problem or log is None):
        # The file is gone or unreadable: nothing is being followed until it is back.
        parts.append(Part("○ waiting for the file", "bold yellow"))
    elif lines.follow:
        parts.append(Part("● following", "bold green"))
    else:
        parts.append(Part("⏸ paused", "bold yellow"))
        if lines.new_lines:
            n = lines.new_lines
            parts.append(Part(f"  {n:,} new line{'' if n == 1 else 's'}", "bold", 1))
        parts.append(Part("  (f or G to follow)", "dim", 9))
    if log is not None and lines.window and log.size:
        # Position by bytes: needs no line count, so it is right at once on a 1 GB log.
        parts.append(Part(f"  {min(100, lines.window[-1].end * 100 // log.size)}%", "dim", 4))
        if size is not None:
            parts.append(Part(f" of {size}", "dim", 8))
        number = lines.first_number()
        if number is not None:
            parts.append(Part(f"  line {number:,}", "dim", 5))
            total = log.line_count
            if total is not None:
                parts.append(Part(f" of {total:,}", "dim", 7))
    progress = lines.count_progress
    if lines.goto_line is not None:
        done = f" {progress:.0%}" if progress is not None else ""
        parts.append(Part(f"  → line {lines.goto_line:,}: counting lines{done}", "cyan", 3))
        parts.append(Part(" (esc: stop)", "cyan", 6))
    elif lines.moving:
        parts.append(Part("  moving…", "cyan", 3))
        parts.append(Part(" (esc: stop)", "cyan", 6))
    elif progress is not None and lines.show_numbers:
        parts.append(Part(f"  counting lines {progress:.0%}", "dim", 3))
        parts.append(Part(" (esc: stop)", "dim", 6))
    elif lines.show_numbers and lines.count_stopped and log is not None and log.line_count is None:
        # The gutter shows "?" past the count: say why, for as long as it does.
        parts.append(Part("  line count stopped", "yellow", 2))
        parts.append(Part(" (# twice: count again)", "dim", 6))
    if lines.wrap:
        parts.append(Part("  wrap", "cyan", 5))
    elif lines.x_offset:
        parts.append(Part(f"  col {lines.x_offset + 1}", "cyan", 5))
        parts.append(Part(" (0: back)", "cyan", 8))
    return parts
