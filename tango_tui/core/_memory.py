"""The :class:`MemoryWorkspace`: every contract of a workspace, kept in this process's memory.

Useful for tests and notebooks. Nothing survives the process; ``Workspace.from_url("memory://")``
gives a fresh, empty one (as Tango's does). All methods are thread-safe.
"""

from __future__ import annotations

import copy
import secrets
import threading
import traceback
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import ParseResult

import coolname

from ._cache import MemoryStepCache, materialise
from ._environment import collect_environment, collect_platform
from ._errors import InvalidNameError, RunExistsError, StepStateError, WorkspaceError
from ._liveness import current_owner
from ._model import Owner, Progress, Run, RunStatus, RunStep, StepInfo, StepState, utc_now
from ._names import validate_run_name
from ._workspace import RunSort, StepInfoSort, Workspace, select_step_infos

if TYPE_CHECKING:
    from ._step import Step

T = TypeVar("T")

URL = "memory://"
_MAX_NAME_TRIES = 100


def _plan_rows(named: dict[str, Step]) -> dict[str, RunStep]:
    """A PENDING RunStep row for every target and each of its recursive dependencies."""
    names = {step.unique_id: name for name, step in named.items()}
    steps: dict[str, Step] = {}
    for step in named.values():
        steps[step.unique_id] = step
        for dep in step.recursive_dependencies:
            steps.setdefault(dep.unique_id, dep)
    return {
        uid: RunStep(
            unique_id=uid,
            name=names.get(uid, step.name),
            step_class_name=step.step_class_name,
            target=uid in names,
            dependencies=tuple(sorted(d.unique_id for d in step.dependencies)),
            cacheable=step.cache_results,
        )
        for uid, step in steps.items()
    }


class _RunRecord:
    __slots__ = ("end_date", "name", "owner", "plan", "start_date", "status", "targets")

    def __init__(self, name: str, targets: dict[str, str], plan: dict[str, RunStep]):
        self.name = name
        self.targets = targets
        self.start_date = utc_now()
        self.end_date: datetime | None = None
        self.status = RunStatus.INCOMPLETE
        self.owner: Owner | None = None
        self.plan = plan


@Workspace.register("memory")
class MemoryWorkspace(Workspace):
    """A workspace in memory (``memory://``): same contracts as LocalWorkspace, nothing on disk."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._cache = MemoryStepCache()
        self._infos: dict[str, StepInfo] = {}
        self._runs: dict[str, _RunRecord] = {}
        self._progress: dict[str, Progress] = {}

    # ----- identity -----------------------------------------------------------------------
    @classmethod
    def from_parsed_url(cls, parsed_url: ParseResult) -> MemoryWorkspace:
        """A fresh, empty MemoryWorkspace (whatever follows ``memory://`` is ignored)."""
        return cls()

    @property
    def url(self) -> str:
        """``memory://``."""
        return URL

    @property
    def step_cache(self) -> MemoryStepCache:
        """The :class:`MemoryStepCache` holding results."""
        return self._cache

    def __repr__(self) -> str:
        return f"MemoryWorkspace({len(self._infos)} steps, {len(self._runs)} runs)"

    # ----- steps --------------------------------------------------------------------------
    def step_info(self, step_or_unique_id: Step | str) -> StepInfo:
        """A copy of the step's record (KeyError for an unknown unique id; a Step is always known)."""
        with self._lock:
            if isinstance(step_or_unique_id, str):
                try:
                    return copy.deepcopy(self._infos[step_or_unique_id])
                except KeyError:
                    raise KeyError(f"no step {step_or_unique_id!r} in {URL}") from None
            info = self._infos.get(step_or_unique_id.unique_id)
            return copy.deepcopy(info) if info is not None else step_or_unique_id.make_step_info()

    def step_starting(self, step: Step) -> None:
        """Record a new RUNNING attempt (StepStateError if RUNNING or COMPLETED)."""
        with self._lock:
            previous = self._infos.get(step.unique_id)
            if previous is not None and previous.state in (StepState.RUNNING, StepState.COMPLETED):
                raise StepStateError(step, previous.state, "it cannot start again")
            info = step.make_step_info()
            info.attempt = (previous.attempt if previous is not None else 0) + 1
            info.start_time = utc_now()
            info.owner = current_owner()
            info.platform = collect_platform()
            info.environment = collect_environment()
            self._infos[step.unique_id] = info
            self._progress.pop(step.unique_id, None)

    def _running(self, step: Step, action: str) -> StepInfo:
        info = self._infos.get(step.unique_id)
        state = info.state if info is not None else StepState.INCOMPLETE
        if info is None or state is not StepState.RUNNING:
            raise StepStateError(step, state, f"cannot {action} a step that is not running")
        return info

    def step_finished(self, step: Step, result: T) -> T:
        """Store the result (if cacheable), record COMPLETED/UNCACHEABLE, return the result.

        An iterator result is stored as a list and a fresh iterator over it returned. A failure
        to store records the step FAILED and re-raises.

        Raises:
            StepStateError: If the step is not RUNNING.
        """
        with self._lock:
            self._running(step, "finish")
        stored: Any = None
        if step.cache_results:
            # Outside the lock: consuming a generator runs user code.
            try:
                stored = materialise(result)
            except BaseException as e:
                with self._lock:
                    self._record_failure(self._running(step, "finish"), e)
                raise
            if stored is not result:
                result = iter(stored)
        with self._lock:
            info = self._running(step, "finish")
            if step.cache_results:
                try:
                    self._cache[step] = stored
                except BaseException as e:
                    self._record_failure(info, e)
                    raise
            info.end_time = utc_now()
            return result

    def _record_failure(self, info: StepInfo, e: BaseException) -> None:
        info.end_time = utc_now()
        info.error = f"{type(e).__name__}: {e}"
        info.traceback = "".join(traceback.format_exception(type(e), e, e.__traceback__))

    def step_failed(self, step: Step, e: BaseException) -> None:
        """Record the error and traceback (StepStateError if the step is not RUNNING)."""
        with self._lock:
            self._record_failure(self._running(step, "fail"), e)

    def remove_step(self, step_unique_id: str) -> None:
        """Forget a step's record, result and progress (KeyError if unknown, StepStateError if
        running)."""
        with self._lock:
            info = self._infos.get(step_unique_id)
            if info is None:
                raise KeyError(f"no step {step_unique_id!r} in {URL}")
            if info.state is StepState.RUNNING:
                raise StepStateError(step_unique_id, info.state, "cannot remove a running step")
            del self._infos[step_unique_id]
            self._progress.pop(step_unique_id, None)
            if info in self._cache:
                del self._cache[info]

    def report_progress(self, step: Step, progress: Progress) -> None:
        """Keep the latest progress of a running step."""
        with self._lock:
            self._progress[step.unique_id] = progress

    def step_progress(self, step_or_unique_id: Step | str) -> Progress | None:
        """The latest progress the step reported, if any."""
        uid = (
            step_or_unique_id if isinstance(step_or_unique_id, str) else step_or_unique_id.unique_id
        )
        with self._lock:
            return self._progress.get(uid)

    def search_step_info(
        self,
        *,
        sort_by: StepInfoSort | None = None,
        sort_descending: bool = True,
        match: str | None = None,
        state: StepState | None = None,
        start: int = 0,
        stop: int | None = None,
    ) -> list[StepInfo]:
        """Records whose unique id or name contains ``match`` (case-insensitive), in ``state``."""
        with self._lock:
            infos = list(self._infos.values())
        selected = select_step_infos(
            infos,
            sort_by=sort_by,
            sort_descending=sort_descending,
            match=match,
            state=state,
            start=start,
            stop=stop,
        )
        return [copy.deepcopy(i) for i in selected]

    def num_steps(self, *, match: str | None = None, state: StepState | None = None) -> int:
        """How many records match."""
        if match is None and state is None:
            with self._lock:
                return len(self._infos)
        return len(self.search_step_info(match=match, state=state))

    # ----- runs ---------------------------------------------------------------------------
    def register_run(self, targets: Iterable[Step], name: str | None = None) -> Run:
        """Register a run (a readable name is invented when none is given).

        Raises:
            RunExistsError: If a run called ``name`` exists.
            InvalidNameError: If ``name`` is not a valid run name.
        """
        if name is not None:
            validate_run_name(name)
        named: dict[str, Step] = {}
        for step in targets:
            other = named.get(step.name)
            if other is not None and other.unique_id != step.unique_id:
                raise InvalidNameError(
                    step.name,
                    f"two different target steps are named alike ({other.unique_id}, {step.unique_id})",
                )
            named[step.name] = step
        plan = _plan_rows(named)
        with self._lock:
            if name is None:
                for attempt in range(_MAX_NAME_TRIES):
                    name = coolname.generate_slug(2)
                    if attempt >= _MAX_NAME_TRIES // 2:
                        name += f"-{secrets.token_hex(2)}"
                    if name not in self._runs:
                        break
                else:
                    raise WorkspaceError(URL, "could not invent an unused run name")
            elif name in self._runs:
                raise RunExistsError(
                    URL, f"a run named {name!r} already exists (refusing to overwrite it)"
                )
            for step in named.values():
                for s in (step, *step.recursive_dependencies):
                    self._infos.setdefault(s.unique_id, s.make_step_info())
            record = _RunRecord(name, {n: s.unique_id for n, s in named.items()}, plan)
            self._runs[name] = record
            return self._to_run(record)

    def _to_run(self, record: _RunRecord) -> Run:
        return Run(
            name=record.name,
            steps={n: copy.deepcopy(self._infos[uid]) for n, uid in record.targets.items()},
            start_date=record.start_date,
            end_date=record.end_date,
            status=record.status,
            plan=copy.deepcopy(record.plan),
            owner=record.owner,
        )

    def registered_run(self, name: str) -> Run:
        """The run called ``name`` (KeyError if none)."""
        with self._lock:
            record = self._runs.get(name)
            if record is None:
                raise KeyError(f"no run {name!r} in {URL}")
            return self._to_run(record)

    def registered_runs(self) -> dict[str, Run]:
        """All runs by name."""
        with self._lock:
            return {name: self._to_run(r) for name, r in self._runs.items()}

    def search_registered_runs(
        self,
        *,
        sort_by: RunSort | None = None,
        sort_descending: bool = True,
        match: str | None = None,
        start: int = 0,
        stop: int | None = None,
    ) -> list[Run]:
        """Runs whose name contains ``match``, sorted and sliced before any Run is built."""
        with self._lock:
            records = list(self._runs.values())
            if match:
                needle = match.lower()
                records = [r for r in records if needle in r.name.lower()]
            if sort_by == RunSort.NAME:
                records.sort(key=lambda r: r.name, reverse=sort_descending)
            else:
                records.sort(key=lambda r: (r.start_date, r.name), reverse=sort_descending)
            return [self._to_run(r) for r in records[start:stop]]

    def num_registered_runs(self, *, match: str | None = None) -> int:
        """How many runs match (no records are built)."""
        with self._lock:
            if not match:
                return len(self._runs)
            needle = match.lower()
            return sum(1 for n in self._runs if needle in n.lower())

    def update_run(self, run: Run) -> None:
        """Store a run's status, end date, owner and plan rows (KeyError for an unknown run)."""
        with self._lock:
            record = self._runs.get(run.name)
            if record is None:
                raise KeyError(f"no run {run.name!r} in {URL}")
            record.status = RunStatus(run.status)
            record.end_date = run.end_date
            record.owner = run.owner
            record.plan = copy.deepcopy(dict(run.plan))

    def capture_logs_for_run(self, name: str) -> Any:
        """Nothing to capture into (KeyError for an unknown run, as in LocalWorkspace)."""
        with self._lock:
            if name not in self._runs:
                raise KeyError(f"no run {name!r} in {URL}")
        return super().capture_logs_for_run(name)
