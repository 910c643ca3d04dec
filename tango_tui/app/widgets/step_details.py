"""Every field of a StepInfo, rendered for reading: identity, timings, machine, config, error."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group, RenderableType
from rich.rule import Rule
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from .. import format as fmt


def _json(value: Any) -> RenderableType:
    try:
        text = json.dumps(value, indent=2, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return Syntax(text, "json", word_wrap=True, background_color="default")


def _grid() -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold grey70", no_wrap=True)
    grid.add_column(overflow="fold")
    return grid


def render_step(info: Any, progress: Any = None, run_lines: list[str] | None = None) -> Group:
    """A renderable of the whole record ``info`` (a StepInfo), ``progress`` if running.

    Dependencies are not part of it: the step screen lists them in a navigable list.
    """
    parts: list[RenderableType] = []
    head = Text()
    head.append_text(fmt.state_text(info.state))
    head.append(f"  {info.step_name or info.unique_id}", style="bold")
    parts.append(head)
    if info.crashed:
        parts.append(Text(f"crashed: {info.crashed}", style="magenta"))

    grid = _grid()
    grid.add_row("unique id", info.unique_id)
    grid.add_row("class", info.step_class_name)
    grid.add_row("version", info.version or "")
    grid.add_row("cacheable", "yes" if info.cacheable else "no")
    grid.add_row("attempt", str(info.attempt))
    grid.add_row("started", fmt.fmt_datetime(info.start_time))
    grid.add_row("ended", fmt.fmt_datetime(info.end_time))
    running = str(info.state) == "running"
    grid.add_row("duration", fmt.duration_text(info.start_time, info.end_time, running))
    if progress is not None:
        grid.add_row("progress", fmt.progress_text(progress, width=20))
    grid.add_row("result", info.result_location or "")
    grid.add_row("log", info.log_file or "")
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

    parts.append(Rule("config", align="left", style="grey35"))
    parts.append(_json(info.config) if info.config else Text("  none", style="grey62"))
    parts.append(Rule("metadata", align="left", style="grey35"))
    parts.append(_json(info.metadata) if info.metadata else Text("  none", style="grey62"))
    if info.error or info.traceback:
        parts.append(Rule("error", align="left", style="red"))
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

        parts.append(Rule("this step in the run log", align="left", style="grey35"))
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

    def show(self, info: Any, progress: Any = None, run_lines: list[str] | None = None) -> None:
        """Render ``info`` (with ``run_lines``: its lines of the run log, for Tango 1.x)."""
        self.update(render_step(info, progress, run_lines))

    def show_error(self, error: str) -> None:
        """Say why the record cannot be shown, in place of it."""
        self.update(Text(error, style="bold red"))
