"""The snapshot rows the monitor hands to the dashboard and the headless commands.

Plain data: no I/O here. ``to_json_dict`` gives the stable JSON form of ``tango-tui ls/show --json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..core._errors import WorkspaceError
from ..core._model import Progress, RunStatus, StepReason, StepState, dt_to_json


class NotAWorkspaceError(WorkspaceError):
    """The path exists but is clearly not a workspace (neither tango-tui's nor Tango 1.x's)."""


@dataclass(frozen=True)
class SourceProblem:
    """A record that could not be used in the last read (the rest is still shown)."""

    path: str
    """The file or directory concerned."""
    problem: str
    """What is wrong with it, in a few words."""

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


@dataclass
class RunRow:
    """One run as the runs view lists it (read from the run's own record only)."""

    name: str
    """The run's name."""
    start_date: datetime
    """When it was registered (the run directory's time if its record is unreadable)."""
    end_date: datetime | None
    """When its executor finished, if it did."""
    status: RunStatus
    """Overall status, liveness applied (a RUNNING run whose owner is dead is CRASHED)."""
    counts: dict[StepState, int]
    """How many of its steps are in each state."""
    n_steps: int
    """Number of steps (targets and dependencies)."""
    log_path: Path | None
    """The run's log file (it may not exist yet)."""
    problem: str | None = None
    """Why the row is incomplete (unreadable record...), if it is."""
    targets: dict[str, str] = field(default_factory=dict)
    """``{step name: unique id}`` of the run's targets."""
    last_seen: datetime | None = None
    """The run's last sign of life: when its record was last written (where the duration of a
    run that ended without recording an end, a crashed one, stops); None if unknown."""

    def to_json_dict(self) -> dict[str, Any]:
        """The stable JSON form used by ``tango-tui ls --json`` (``steps`` is added by ``show``)."""
        return {
            "name": self.name,
            "start_date": dt_to_json(self.start_date),
            "end_date": dt_to_json(self.end_date),
            "status": self.status.value,
            "counts": {s.value: n for s, n in self.counts.items()},
            "n_steps": self.n_steps,
            "problem": self.problem,
        }


@dataclass
class StepRow:
    """One step of a run as the run view shows it."""

    unique_id: str
    """The step's unique id."""
    name: str
    """Its name in the run (an unnamed dependency shows its unique id)."""
    step_class_name: str
    """The step class."""
    state: StepState
    """State, liveness applied."""
    reason: StepReason
    """Why it did or did not run in this run."""
    blocked_by: str | None
    """For DEPENDENCY_FAILED: the unique id of the failed step that blocked it."""
    target: bool
    """Whether the user asked for it (as opposed to being a dependency)."""
    start_time: datetime | None
    """Start of the attempt this run made or saw."""
    end_time: datetime | None
    """End of that attempt."""
    error: str | None
    """Short error text (``Type: message``) of a failed step, or why it is CRASHED."""
    dependencies: tuple[str, ...]
    """Unique ids of the steps it depends on (edges of the run's graph)."""
    log_path: Path | None
    """The step's own log for this run's attempt, if known."""
    progress: Progress | None = None
    """The latest progress report of a RUNNING step."""
    problem: str | None = None
    """Why the row may be stale (its step record is unreadable), if so."""
    last_seen: datetime | None = None
    """For a CRASHED attempt: the last write to its log (where its duration stops)."""

    def to_json_dict(self) -> dict[str, Any]:
        """The stable JSON form of one step in ``tango-tui show --json``."""
        return {
            "unique_id": self.unique_id,
            "state": self.state.value,
            "start_time": dt_to_json(self.start_time),
            "end_time": dt_to_json(self.end_time),
            "error": self.error,
            "reason": self.reason.value,
            "target": self.target,
        }


@dataclass
class RunDetail:
    """A run with all its steps (targets and their dependencies) in dependency order."""

    run: RunRow
    """The run's own row."""
    steps: list[StepRow]
    """Every step, dependencies before their dependents."""

    def step(self, unique_id: str) -> StepRow | None:
        """The row of ``unique_id``, or None."""
        for row in self.steps:
            if row.unique_id == unique_id:
                return row
        return None

    def to_json_dict(self) -> dict[str, Any]:
        """The stable JSON form of ``tango-tui show --json``."""
        out = self.run.to_json_dict()
        steps: dict[str, Any] = {}
        for row in self.steps:
            key = row.name if row.name not in steps else row.unique_id
            steps[key] = row.to_json_dict()
        out["steps"] = steps
        return out
