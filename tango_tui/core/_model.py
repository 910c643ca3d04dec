"""Plain data: step states, step records (:class:`StepInfo`), runs (:class:`Run`).

Everything here is data only. ``to_json_dict`` / ``from_json_dict`` give the JSON form that the
local workspace stores on disk (inside a versioned envelope, see :mod:`tango_tui.core._format`).
Datetimes are timezone-aware UTC and serialise as ISO 8601 strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from ._metadata import (
    EnvironmentMetadata,
    GitMetadata,
    Owner,
    PlatformMetadata,
    Progress,
    _from_dict,
    _frozen_asdict,
    _owner_dict,
    dt_from_json,
    dt_to_json,
    utc_now,
)

__all__ = [
    "EnvironmentMetadata",
    "GitMetadata",
    "Owner",
    "PlatformMetadata",
    "Progress",
    "Run",
    "RunStatus",
    "RunStep",
    "StepInfo",
    "StepReason",
    "StepState",
    "dt_from_json",
    "dt_to_json",
    "utc_now",
]


class StepState(str, Enum):
    """The state of a step, derived from its record as Tango derives it.

    ``CRASHED`` is ours: a step recorded as running whose owning process is verifiably gone
    (killed, OOM, reboot). It may be started again, like FAILED and INCOMPLETE.
    """

    INCOMPLETE = "incomplete"
    """Not run yet, or its earlier attempt left nothing (never started)."""
    RUNNING = "running"
    """Started and not finished; its owner is alive (or cannot be checked from here)."""
    COMPLETED = "completed"
    """Finished and its result is in the cache."""
    FAILED = "failed"
    """Finished with an exception."""
    UNCACHEABLE = "uncacheable"
    """Finished, but its result is not kept."""
    CRASHED = "crashed"
    """Recorded as running, but the process that ran it is dead."""

    def __str__(self) -> str:
        return self.value


class RunStatus(str, Enum):
    """The overall status of a run."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    INCOMPLETE = "incomplete"
    CRASHED = "crashed"

    def __str__(self) -> str:
        return self.value


class StepReason(str, Enum):
    """Why a step of a run did or did not execute in that run."""

    PENDING = "pending"
    """Not decided yet (the run is still going)."""
    RAN = "ran"
    """Executed in this run (its state says how it ended)."""
    CACHED = "cached"
    """Its result was already in the cache from an earlier run (or another process)."""
    DEPENDENCY_FAILED = "dependency failed"
    """Not run because a step it depends on failed (``RunStep.blocked_by`` names it)."""
    NOT_REACHED = "not reached"
    """The run ended (or crashed) before getting to it."""

    def __str__(self) -> str:
        return self.value


@dataclass
class StepInfo:
    """Everything known about one step: identity, timings, outcome and where it ran.

    The fields are Tango's, plus ``traceback``, ``owner``, ``attempt``, ``log_file`` and
    ``crashed``. ``state`` is derived from them as Tango derives it.
    """

    unique_id: str
    """The step's unique id (``ClassName-VERSION-hash``)."""
    step_class_name: str
    """Name of the :class:`~tango_tui.core.Step` subclass."""
    step_name: str | None = None
    """The step's name in the run that created the record, if it had one."""
    version: str | None = None
    """The step class's ``VERSION``."""
    dependencies: frozenset[str] = frozenset()
    """Unique ids of the steps this step depends on."""
    cacheable: bool = True
    """Whether the result is kept in the step cache."""
    start_time: datetime | None = None
    """When the latest attempt started (UTC)."""
    end_time: datetime | None = None
    """When the latest attempt ended (UTC)."""
    error: str | None = None
    """The exception of a failed attempt, as ``Type: message``."""
    traceback: str | None = None
    """The full formatted traceback of a failed attempt."""
    result_location: str | None = None
    """Where the result is stored (a path or URL), once completed."""
    config: dict[str, Any] | None = None
    """The step's arguments in JSON form (other steps appear as ``{"type": "ref", "ref": uid}``)."""
    metadata: dict[str, Any] | None = None
    """Free-form metadata the step attached to itself."""
    platform: PlatformMetadata | None = None
    """The machine the latest attempt ran on."""
    environment: EnvironmentMetadata | None = None
    """The software environment of the latest attempt."""
    owner: Owner | None = None
    """The process running the latest attempt (kept after it ends, for the record)."""
    attempt: int = 0
    """How many times the step has been started (1 for the first execution)."""
    log_file: str | None = None
    """The latest attempt's own log file, relative to the workspace root."""
    crashed: str | None = field(default=None, compare=False)
    """Set by a reader (never stored) when the record says running but the owner is dead."""

    @property
    def state(self) -> StepState:
        """The state, derived from the record as Tango derives it (plus CRASHED)."""
        if self.start_time is None and self.end_time is None and self.error is None:
            return StepState.INCOMPLETE
        if self.end_time is None and self.error is None:
            return StepState.CRASHED if self.crashed else StepState.RUNNING
        if self.error is not None:
            return StepState.FAILED
        if self.start_time is None:
            return StepState.INCOMPLETE
        return StepState.COMPLETED if self.cacheable else StepState.UNCACHEABLE

    @property
    def duration(self) -> timedelta | None:
        """How long the latest attempt took, or ``None`` while it has not ended."""
        if self.start_time is None or self.end_time is None:
            return None
        return self.end_time - self.start_time

    def to_json_dict(self) -> dict[str, Any]:
        """The record as JSON-compatible data (``crashed`` is not part of it)."""
        out: dict[str, Any] = {
            "unique_id": self.unique_id,
            "step_class_name": self.step_class_name,
            "step_name": self.step_name,
            "version": self.version,
            "dependencies": sorted(self.dependencies),
            "cacheable": self.cacheable,
            "start_time": dt_to_json(self.start_time),
            "end_time": dt_to_json(self.end_time),
            "error": self.error,
            "traceback": self.traceback,
            "result_location": self.result_location,
            "config": self.config,
            "metadata": self.metadata,
            "platform": _frozen_asdict(self.platform),
            "environment": _frozen_asdict(self.environment),
            "owner": _owner_dict(self.owner),
            "attempt": self.attempt,
            "log_file": self.log_file,
        }
        return out

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> StepInfo:
        """Rebuild a record from :meth:`to_json_dict` output.

        Raises:
            ValueError: If a field has the wrong type or a required field is missing.
        """
        if type(data) is not dict and not isinstance(data, Mapping):
            raise ValueError(f"expected an object, got {type(data).__name__}")
        try:
            uid = data["unique_id"]
            cls_name = data["step_class_name"]
        except KeyError as e:
            raise ValueError(f"missing field {e.args[0]!r}") from None
        if not isinstance(uid, str) or not isinstance(cls_name, str):
            raise ValueError("unique_id and step_class_name must be strings")  # noqa: TRY004 (callers catch ValueError)
        get = data.get  # listings decode thousands of records: one lookup per field, no more
        deps = get("dependencies") or ()
        if type(deps) is not list and not isinstance(deps, tuple | set | frozenset):
            raise ValueError("dependencies must be a list")
        try:
            dependencies: frozenset[str] = frozenset(deps)
            for d in dependencies:
                if type(d) is not str:
                    raise TypeError  # the same fallback as an unhashable entry
        except TypeError:  # a non-string entry (perhaps unhashable) is kept as its text
            dependencies = frozenset(d if type(d) is str else str(d) for d in deps)
        start, end = get("start_time"), get("end_time")
        platform, environment, owner = get("platform"), get("environment"), get("owner")
        cacheable = get("cacheable", True)
        attempt = get("attempt")
        return cls(  # positional, in field order (test_record_fast_paths sets every field)
            uid,
            cls_name,
            get("step_name"),
            get("version"),
            dependencies,
            cacheable if type(cacheable) is bool else bool(cacheable),
            None if start is None else dt_from_json(start),
            None if end is None else dt_from_json(end),
            get("error"),
            get("traceback"),
            get("result_location"),
            get("config"),
            get("metadata"),
            _from_dict(PlatformMetadata, platform),
            _from_dict(EnvironmentMetadata, environment),
            _from_dict(Owner, owner) if owner else None,
            attempt if type(attempt) is int else int(attempt or 0),
            get("log_file"),
        )


@dataclass
class RunStep:
    """One step as a run sees it: a summary row kept in the run's own record.

    The run record keeps one of these for every step of the run (targets and their
    dependencies), so a listing can count states without opening every step record.
    """

    unique_id: str
    """The step's unique id."""
    name: str
    """The step's name in this run (an unnamed dependency gets its unique id)."""
    step_class_name: str
    """Name of the step class."""
    target: bool = False
    """Whether the user asked for this step (as opposed to it being a dependency)."""
    dependencies: tuple[str, ...] = ()
    """Unique ids of the steps it depends on."""
    cacheable: bool = True
    """Whether its result is cached."""
    state: StepState = StepState.INCOMPLETE
    """Its state as last seen by the run's executor."""
    reason: StepReason = StepReason.PENDING
    """Why it did or did not run in this run."""
    blocked_by: str | None = None
    """For DEPENDENCY_FAILED: the unique id of the failed step that blocked it."""
    start_time: datetime | None = None
    """Start of the attempt this run made or saw."""
    end_time: datetime | None = None
    """End of that attempt."""
    error: str | None = None
    """Short error text for a failed step."""
    log_file: str | None = None
    """The step's log for this run's attempt, relative to the workspace root."""

    def to_json_dict(self) -> dict[str, Any]:
        """JSON form, as stored in ``run.json``."""
        return {
            "unique_id": self.unique_id,
            "name": self.name,
            "step_class_name": self.step_class_name,
            "target": self.target,
            "dependencies": list(self.dependencies),
            "cacheable": self.cacheable,
            "state": self.state.value,
            "reason": self.reason.value,
            "blocked_by": self.blocked_by,
            "start_time": dt_to_json(self.start_time),
            "end_time": dt_to_json(self.end_time),
            "error": self.error,
            "log_file": self.log_file,
        }

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> RunStep:
        """Inverse of :meth:`to_json_dict`; raises ValueError on bad data."""
        if not isinstance(data, Mapping):
            raise ValueError(f"expected an object, got {type(data).__name__}")  # noqa: TRY004 (callers catch ValueError)
        try:
            return cls(
                unique_id=str(data["unique_id"]),
                name=str(data["name"]),
                step_class_name=str(data.get("step_class_name") or ""),
                target=bool(data.get("target", False)),
                dependencies=tuple(str(d) for d in data.get("dependencies") or ()),
                cacheable=bool(data.get("cacheable", True)),
                state=StepState(data.get("state", "incomplete")),
                reason=StepReason(data.get("reason", "pending")),
                blocked_by=data.get("blocked_by"),
                start_time=dt_from_json(data.get("start_time")),
                end_time=dt_from_json(data.get("end_time")),
                error=data.get("error"),
                log_file=data.get("log_file"),
            )
        except KeyError as e:
            raise ValueError(f"missing field {e.args[0]!r}") from None


@dataclass
class Run:
    """A registered run: a set of target steps a user asked for, under a unique name.

    ``name``, ``steps`` and ``start_date`` are Tango's. The rest is ours: a run also records its
    status and end time once it finishes, and a summary row for every step it involves.
    """

    name: str
    """The run's unique name."""
    steps: Mapping[str, StepInfo]
    """``{step name: StepInfo}`` for the run's target steps."""
    start_date: datetime
    """When the run was registered (timezone-aware UTC)."""
    end_date: datetime | None = None
    """When the run's executor finished, if it did."""
    status: RunStatus = RunStatus.INCOMPLETE
    """Overall status (see :class:`RunStatus`)."""
    plan: dict[str, RunStep] = field(default_factory=dict)
    """``{unique id: RunStep}`` for every step of the run, targets and dependencies."""
    owner: Owner | None = None
    """The process executing the run, while it is executing."""

    def counts(self) -> dict[StepState, int]:
        """How many of the run's steps (per ``plan``) are in each state.

        A run read from ``run.json`` answers from the record's ``counts`` (written with the plan)
        as long as its plan has not been decoded, so listing runs never decodes their plans.
        """
        head_counts = getattr(self.plan, "head_counts", None)
        if head_counts is not None:
            counts = head_counts()
            if counts is not None:
                return counts  # type: ignore[no-any-return]
        out: dict[StepState, int] = {}
        for step in self.plan.values():
            out[step.state] = out.get(step.state, 0) + 1
        return out
