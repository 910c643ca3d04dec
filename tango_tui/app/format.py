"""Text helpers shared by the dashboard's widgets: states, times, durations, progress.

Everything here is pure (no Textual): it turns model values into Rich ``Text`` or ``str``.
The clock is :func:`now`, a module attribute so tests can freeze it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.text import Text

from tango_tui.core import Progress, RunStatus, StepReason, StepState

STATE_STYLE: dict[str, str] = {
    "running": "bold dodger_blue1",
    "completed": "green",
    "failed": "bold red",
    "crashed": "bold magenta",
    "incomplete": "dim",
    "uncacheable": "cyan",
}
"""Rich style per step state / run status value (runs and steps share the words)."""

STATE_ICON: dict[str, str] = {
    "running": "▶",
    "completed": "✔",
    "failed": "✘",
    "crashed": "☠",
    "incomplete": "·",
    "uncacheable": "○",
}
"""A one-cell marker per state, so a state reads without colour too."""

COUNT_ORDER = ("running", "completed", "uncacheable", "failed", "crashed", "incomplete")


def now() -> datetime:
    """The current UTC time (tests replace this to freeze ticking durations)."""
    return datetime.now(UTC)


def state_text(state: StepState | RunStatus | str) -> Text:
    """A coloured ``icon word`` for a step state or run status."""
    value = str(state)
    return Text(f"{STATE_ICON.get(value, '?')} {value}", style=STATE_STYLE.get(value, ""))


def counts_text(counts: dict[StepState, int] | dict[str, int]) -> Text:
    """Per-state counts, e.g. ``✔12 ▶2 ✘1``, coloured, zero counts left out."""
    by_value = {str(k): v for k, v in counts.items()}
    out = Text()
    for value in COUNT_ORDER:
        n = by_value.get(value, 0)
        if n:
            if out:
                out.append(" ")
            out.append(f"{STATE_ICON[value]}{n}", style=STATE_STYLE[value])
    return out


def fmt_datetime(value: datetime | None) -> str:
    """Local date and time to the second, or an empty string."""
    if value is None:
        return ""
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def fmt_time(value: datetime | None) -> str:
    """Local time of day to the second, or an empty string."""
    if value is None:
        return ""
    return value.astimezone().strftime("%H:%M:%S")


def fmt_seconds(seconds: float | None) -> str:
    """A compact duration: ``0.4s``, ``12s``, ``3m05s``, ``2h01m``, ``3d04h``."""
    if seconds is None:
        return ""
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f}s"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h}h{m:02d}m"
    d, h = divmod(h, 24)
    return f"{d}d{h:02d}h"


def duration_text(start: datetime | None, end: datetime | None, running: bool) -> str:
    """The duration between ``start`` and ``end``; while running, up to :func:`now`."""
    if start is None:
        return ""
    if end is None:
        if not running:
            return ""
        end = now()
    return fmt_seconds((end - start).total_seconds())


def reason_text(reason: StepReason | str, blocked_by: str | None, names: dict[str, str]) -> Text:
    """Why a step did (not) run, e.g. ``dependency failed: prepare``; empty for plain runs."""
    value = str(reason)
    if value in ("ran", "pending"):
        return Text("")
    if value == "dependency failed":
        who = names.get(blocked_by or "", blocked_by or "?")
        return Text(f"dependency failed: {who}", style="red")
    if value == "cached":
        return Text("cached", style="green dim")
    return Text(value, style="dim")


def fmt_count(value: float) -> str:
    """A progress count without a useless ``.0``; large values get k/M suffixes."""
    if value >= 1e6:
        return f"{value / 1e6:.1f}M"
    if value >= 1e4:
        return f"{value / 1e3:.1f}k"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def progress_text(progress: Progress | None, width: int = 12) -> Text:
    """A bar with percentage, rate and ETA, e.g. ``━━━━╸─── 42% 3.1 it/s eta 12s``."""
    if progress is None:
        return Text("")
    out = Text()
    fraction = progress.fraction
    if fraction is not None:
        filled = round(fraction * width)
        out.append("━" * filled, style="dodger_blue1")
        out.append("─" * (width - filled), style="dim")
        out.append(f" {fraction * 100:3.0f}%")
    else:
        out.append(f"{fmt_count(progress.done)} {progress.unit}")
    if progress.rate:
        out.append(
            f" {fmt_count(progress.rate) if progress.rate >= 10 else f'{progress.rate:.2g}'}"
            f" {progress.unit}/s",
            style="dim",
        )
    eta = progress.eta_seconds
    if eta is not None:
        out.append(f" eta {fmt_seconds(eta)}", style="dim")
    return out


def readable_order(steps: list[Any]) -> list[Any]:
    """Steps (``StepRow``-like) in dependency order, level by level: a step's level is one more
    than its deepest dependency's; within a level by start time (unstarted last), then name.

    The run record keeps its steps keyed by unique id, i.e. in hash order; a person reads a
    pipeline top-down: what runs first, first.
    """
    by_uid = {s.unique_id: s for s in steps}
    level: dict[str, int] = {}

    def level_of(uid: str) -> int:
        # Iterative (a 1,000-step chain must not hit the recursion limit); a cycle cannot
        # happen in a run, and a step met again while open counts as level 0.
        stack, open_ = [uid], set()
        while stack:
            top = stack[-1]
            if top in level:
                stack.pop()
                continue
            deps = [d for d in by_uid[top].dependencies if d in by_uid]
            todo = [d for d in deps if d not in level and d not in open_]
            if todo and top not in open_:
                open_.add(top)
                stack.extend(todo)
                continue
            level[top] = 1 + max((level.get(d, 0) for d in deps), default=-1)
            stack.pop()
        return level[uid]

    def key(s: Any) -> tuple[int, bool, float, str, str]:
        start = s.start_time.timestamp() if s.start_time is not None else 0.0
        return (level_of(s.unique_id), s.start_time is None, start, s.name, s.unique_id)

    return sorted(steps, key=key)
