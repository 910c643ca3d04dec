"""Every field of a StepInfo, rendered for reading: identity, timings, machine, config, error."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.rule import Rule
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from .. import format as fmt

if TYPE_CHECKING:
    from ...core import StepInfo
    from ...monitor.source import StepRow


def _json(value: Any) -> RenderableType:
    try:
        text = json.dumps(value, indent=2, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return Syntax(text, "json", word_wrap=True, background_color="default")


def _grid() -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    return grid


def _attempt_of(log_file: Any) -> int | None:
    """The attempt number in a step log's name (``.../logs/002.log`` -> 2)."""
    m = re.search(r"(\d+)\.log$", str(log_file or ""))
    return int(m.group(1)) if m else None


def other_attempt(info: StepInfo, row: StepRow | None) -> bool:
    """Whether the record ``info`` is about a later attempt than the run's ``row`` shows."""
    if row is None or row.start_time is None or info.start_time is None:
        return False
    return abs((info.start_time - row.start_time).total_seconds()) > 0.001


def render_step(
    info: Any, progress: Any = None, run_lines: list[str] | None = None, row: Any = None
) -> Group:
    """A renderable of the whole record ``info`` (a StepInfo), ``progress`` if running.

    ``row`` is the step as the run it was opened from saw it (a ``StepRow``): when the record
    is already about a later attempt (another run retried the step), the state, times and log
    shown are this run's, and a note says what the latest attempt is.

    Dependencies are not part of it: the step screen lists them in a navigable list.
    """
    parts: list[RenderableType] = []
    older = other_attempt(info, row)
    state = row.state if older else info.state
    start, end = (row.start_time, row.end_time) if older else (info.start_time, info.end_time)
    head = Text()
    head.append_text(fmt.state_text(state))
    head.append(f"  {info.step_name or info.unique_id}", style="bold")
    parts.append(head)
    if older:
        latest = f"#{info.attempt}" if info.attempt else "a later one"
        parts.append(
            Text(
                f"latest attempt: {latest} at {fmt.fmt_datetime(info.start_time)}"
                f" ({info.state}; another run). State, times and log here are this run's;"
                " machine and environment are the latest attempt's.",
                style="bold yellow",
            )
        )
    if info.crashed and not older:
        parts.append(Text(f"crashed: {info.crashed}", style="magenta"))

    grid = _grid()
    grid.add_row("unique id", info.unique_id)
    grid.add_row("class", info.step_class_name)
    grid.add_row("version", info.version or "")
    grid.add_row("cacheable", "yes" if info.cacheable else "no")
    if older:
        attempt = _attempt_of(getattr(row, "log_path", None))
        grid.add_row("attempt", f"#{attempt} (this run)" if attempt else "this run's")
    else:
        # Tango 1.x records no attempt count: 0 means unknown there, not "never ran".
        grid.add_row("attempt", str(info.attempt) if info.attempt else "—")
    grid.add_row("started", fmt.fmt_datetime(start))
    grid.add_row("ended", fmt.fmt_datetime(end))
    running = str(state) == "running"
    grid.add_row("duration", fmt.duration_text(start, end, running))
    if progress is not None and not older:
        grid.add_row("progress", fmt.progress_text(progress, width=20))
    grid.add_row("result", info.result_location or "")
    log_file = getattr(row, "log_path", None) if older else None
    grid.add_row("log", str(log_file or info.log_file or ""))
    platform, env = info.platform, info.environment
    if platform is not None:
        grid.add_row("host", platform.host or "")
        grid.add_row("user", platform.user or "")
        grid.add_row("os", f"{platform.operating_system or ''} ({platform.cpu_count} cpus)")
    if env is not None:
        grid.add_row("python", f"{env.python or ''} {env.executable or ''}".strip())
        grid.add_row("command", env.command or "")
        grid.add_row("cwd", env.root or "")
        if env.git is not None:
            dirty = " (dirty)" if env.git.dirty else ""
            grid.add_row("git", f"{env.git.commit or ''}{dirty} {env.git.remote or ''}".strip())
        if env.packages:
            grid.add_row("packages", f"{len(env.packages)} recorded")
    if info.owner is not None:
        grid.add_row("owner", f"pid {info.owner.pid} on {info.owner.host}")
    parts.append(grid)

    parts.append(Rule("config", align="left", style="dim"))
    parts.append(_json(info.config) if info.config else Text("  none", style="dim"))
    parts.append(Rule("metadata", align="left", style="dim"))
    parts.append(_json(info.metadata) if info.metadata else Text("  none", style="dim"))
    if older and row.error:
        parts.append(Rule("error (this run)", align="left", style="red"))
        parts.append(Text(row.error, style="bold red"))
    if info.error or info.traceback:
        title = "error of the latest attempt" if older else "error"
        parts.append(Rule(title, align="left", style="red"))
        parts.append(Text(info.error or "", style="bold red"))
        if info.traceback:
            parts.append(
                Syntax(
                    info.traceback.rstrip(),
                    "pytb",
                    word_wrap=True,
                    background_color="default",
                    theme="ansi_dark",
                )
            )
    if run_lines:
        from .log_lines import ERROR_RE, ERROR_STYLE, WARNING_RE, WARNING_STYLE

        parts.append(Rule("this step in the run log", align="left", style="dim"))
        for line in run_lines:
            style = (
                ERROR_STYLE
                if ERROR_RE.search(line)
                else (WARNING_STYLE if WARNING_RE.search(line) else "")
            )
            parts.append(Text(line, style=style, overflow="fold"))
    return Group(*parts)


class StepDetails(Static):
    """Shows one StepInfo (:meth:`show`) or a problem reading it (:meth:`show_error`)."""

    DEFAULT_CSS = """
    StepDetails { padding: 0 1; }
    """

    def show(
        self,
        info: Any,
        progress: Any = None,
        run_lines: list[str] | None = None,
        row: Any = None,
    ) -> None:
        """Render ``info`` (``run_lines``: its lines of the run log, for Tango 1.x; ``row``:
        the step as its run saw it)."""
        self.update(render_step(info, progress, run_lines, row))

    def show_error(self, error: str) -> None:
        """Say why the record cannot be shown, in place of it."""
        self.update(Text(error, style="bold red"))
