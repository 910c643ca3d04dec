"""``run_steps``: register a run, execute its steps in dependency order, record what happened.

Exceptions raised by steps do **not** propagate out of :func:`run_steps`: the returned
:class:`Run` says what failed (``run.status``, and per step ``run.plan[uid].state/reason/error``).
Only an error of the executor itself, or a ``KeyboardInterrupt``, propagates, after the run has
been given a final status (INCOMPLETE). SIGTERM and SIGHUP are handled like Ctrl-C while
``run_steps`` runs in the main thread (see :mod:`tango_tui.core._signals`): the running step is
interrupted and recorded FAILED ("interrupted by SIGTERM"), workers are stopped, the run is
recorded INCOMPLETE, then the previous handler gets the signal (by default the process ends,
killed by it). Worker processes die with the executor's process, even when it is SIGKILLed.

Which steps are *tasks*: every cacheable step, and every target. An uncacheable step that is not
a target is computed where a dependent needs it (in that dependent's process), as Tango's
multicore executor does; within one process it is computed once per run.

Reasons recorded per step (``RunStep.reason``): RAN (its body executed in this run; its state
says how that ended), CACHED (its result came from the cache, possibly after waiting for another
process; for an uncacheable non-target step: not needed because its dependents were cached),
DEPENDENCY_FAILED (``blocked_by`` names the failed step), NOT_REACHED (the run ended first).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Mapping

from ._errors import InvalidNameError
from ._liveness import current_owner
from ._memory import MemoryWorkspace
from ._model import Run, RunStatus, RunStep, StepReason, StepState, utc_now
from ._recorder import RunRecorder
from ._runner import StepRunner
from ._signals import SignalInterrupt, StopSignals, redeliver
from ._step import Step
from ._workspace import Workspace

logger = logging.getLogger(__name__)

_OK_STATES = (StepState.COMPLETED, StepState.UNCACHEABLE)


def _named_targets(targets: Mapping[str, Step] | Iterable[Step]) -> dict[str, Step]:
    """``{name: step}``; a step given under another name is copied with that name (never mutated)."""
    items = (
        list(targets.items()) if isinstance(targets, Mapping) else [(s.name, s) for s in targets]
    )
    out: dict[str, Step] = {}
    for name, step in items:
        if not isinstance(step, Step):
            raise TypeError(f"target {name!r} is a {type(step).__qualname__}, not a Step")
        if step.name != name:
            step = copy.copy(step)
            step.name = name
        other = out.get(name)
        if other is not None and other.unique_id != step.unique_id:
            raise InvalidNameError(name, "two different target steps have this name")
        out[name] = step
    return out


def run_steps(
    workspace: Workspace,
    targets: Mapping[str, Step] | Iterable[Step],
    *,
    name: str | None = None,
    parallelism: int = 1,
) -> Run:
    """Register a run of ``targets``, execute them and their dependencies, return the final Run.

    Args:
        workspace: Where results, records and logs go.
        targets: ``{name: step}``, or a list of (named) steps.
        name: The run's name; a readable one is invented when None.
        parallelism: Up to this many independent steps execute at once, each in its own worker
            process (forked; the worker reopens the workspace from its URL). A MemoryWorkspace
            cannot be shared with other processes, so there it falls back to 1 (with a warning).

    Returns:
        The run as the workspace stores it once finished: ``status`` COMPLETED or FAILED, and a
        ``plan`` row per step saying whether it ran, came from the cache, or was blocked.
        A failing step does not raise here; its dependents are marked DEPENDENCY_FAILED and
        independent steps go on.

    Raises:
        RunExistsError: A run called ``name`` exists.
        KeyboardInterrupt: Re-raised after recording the run as INCOMPLETE. SIGTERM and SIGHUP
            (when their handler was not SIG_IGN, and only if called from the main thread) act
            the same, then are re-sent to this process with the previous handlers restored: by
            default it ends killed by that signal; if a handler of the caller's returns, a
            ``SignalInterrupt`` (a KeyboardInterrupt) is raised.
    """
    if parallelism < 1:
        raise ValueError(f"parallelism must be at least 1, got {parallelism}")
    if parallelism > 1 and isinstance(workspace, MemoryWorkspace):
        logger.warning(
            "a MemoryWorkspace cannot be shared with worker processes; running steps one at a time"
        )
        parallelism = 1
    named = _named_targets(targets)
    with StopSignals() as stop:
        try:
            run = workspace.register_run(list(named.values()), name)
            with workspace.capture_logs_for_run(run.name):
                _Execution(workspace, run, named, parallelism, stop).execute()
        except SignalInterrupt as e:
            # Everything is recorded and the log closed: now the signal does what it would have.
            stop.restore()
            redeliver(e.signum)
            raise
    return workspace.registered_run(run.name)


class _Execution:
    """One execution of a registered run."""

    def __init__(
        self,
        ws: Workspace,
        run: Run,
        named: dict[str, Step],
        parallelism: int,
        stop: StopSignals | None = None,
    ):
        self.ws = ws
        self.stop = stop if stop is not None else StopSignals()  # an inactive one: holds nothing
        self.run = run
        self.parallelism = parallelism
        self.steps: dict[str, Step] = {}
        self.order: list[str] = []  # every step, dependencies first
        target_ids = {s.unique_id for s in named.values()}
        for step in named.values():
            self._visit(step)
        for uid, step in self.steps.items():
            run.plan.setdefault(
                uid,
                RunStep(
                    unique_id=uid,
                    name=step.name,
                    step_class_name=step.step_class_name,
                    target=uid in target_ids,
                    dependencies=tuple(sorted(d.unique_id for d in step.dependencies)),
                    cacheable=step.cache_results,
                ),
            )
        self.tasks = [u for u in self.order if self.steps[u].cache_results or u in target_ids]
        task_set = set(self.tasks)
        self.task_deps: dict[str, set[str]] = {}
        for uid in self.order:  # dependencies come first, so theirs are known already
            deps: set[str] = set()
            for dep in self.steps[uid].dependencies:
                deps |= (
                    {dep.unique_id} if dep.unique_id in task_set else self.task_deps[dep.unique_id]
                )
            self.task_deps[uid] = deps
        self.outcome: dict[str, str] = {}  # uid -> "ok" | "failed" | "blocked"
        self.root_failure: dict[str, str] = {}  # uid -> the failed step that blocked or was it
        self.recorder = RunRecorder(ws, run)

    def _visit(self, root: Step) -> None:
        # Iterative post-order DFS (pipelines can be deep); dependencies in argument order.
        stack: list[tuple[Step, bool]] = [(root, False)]
        while stack:
            step, expanded = stack.pop()
            uid = step.unique_id
            if uid in self.steps:
                continue
            if expanded:
                self.steps[uid] = step
                self.order.append(uid)
                continue
            stack.append((step, True))
            for dep in reversed(step.ordered_dependencies()):
                if dep.unique_id not in self.steps:
                    stack.append((dep, False))

    # ----- rows -----------------------------------------------------------------------------
    def _mark(
        self,
        uid: str,
        reason: StepReason,
        *,
        blocked_by: str | None = None,
        state: StepState | None = None,
        error: str | None = None,
    ) -> None:
        try:
            info = self.ws.step_info(self.steps[uid])
        except Exception as e:  # noqa: BLE001 -- a damaged record must not stop the bookkeeping
            logger.warning("cannot read the record of step %s: %s", uid, e)
            info = None
        with self.recorder.lock:
            row = self.run.plan[uid]
            row.reason = reason
            row.blocked_by = blocked_by
            if info is not None and reason is not StepReason.DEPENDENCY_FAILED:
                row.state, row.start_time, row.end_time = info.state, info.start_time, info.end_time
                row.error, row.log_file = info.error, info.log_file
            if state is not None:
                row.state = state
            if error is not None:
                row.error = error
            self.recorder.changed()

    def _state(self, uid: str) -> StepState | None:
        try:
            return self.ws.step_info(self.steps[uid]).state
        except Exception as e:  # noqa: BLE001 -- a damaged record: let the runner deal with it
            logger.warning("cannot read the record of step %s: %s", uid, e)
            return None

    def _on_start(self, step: Step) -> None:
        self._mark(step.unique_id, StepReason.RAN)

    def _blocker(self, uid: str) -> str | None:
        for dep in sorted(self.task_deps[uid]):
            if self.outcome.get(dep) in ("failed", "blocked"):
                return self.root_failure[dep]
        return None

    def _block(self, uid: str, root: str) -> None:
        self.outcome[uid], self.root_failure[uid] = "blocked", root
        self._mark(uid, StepReason.DEPENDENCY_FAILED, blocked_by=root, state=StepState.INCOMPLETE)
        logger.warning(
            "Step %r not run: it depends on step %r (%s), which failed",
            self.steps[uid].name,
            self.run.plan[root].name,
            root,
        )

    def _cached_now(self, uid: str) -> bool:
        step = self.steps[uid]
        # Only a COMPLETED record counts: a result left by a killed attempt is adopted by the runner.
        if (
            step.cache_results
            and step in self.ws.step_cache
            and self._state(uid) is StepState.COMPLETED
        ):
            self.outcome[uid] = "ok"
            self._mark(uid, StepReason.CACHED)
            logger.info("Step %r: result found in the cache", step.name)
            return True
        return False

    def _after(self, uid: str, started: list[str], failed: str | None, error: str | None) -> None:
        """Record a task's end: ``started`` bodies ran, ``failed`` (if any) raised ``error``."""
        for s in started:
            if s != uid:  # uncacheable dependencies computed on the way
                self._mark(s, StepReason.RAN)
                self.outcome[s] = "failed" if s == failed else "ok"
                self.root_failure[s] = s
        if error is None:
            self.outcome[uid] = "ok"
            self._mark(uid, StepReason.RAN if uid in started else StepReason.CACHED)
            return
        if failed is not None and failed != uid:
            self._block(uid, failed)
            return
        self.outcome[uid], self.root_failure[uid] = "failed", uid
        if uid in started:
            self._mark(uid, StepReason.RAN, error=None if failed == uid else error)
        else:  # the executor could not even start it (e.g. its log or record is unusable)
            self._mark(uid, StepReason.RAN, state=StepState.FAILED, error=error)
        logger.error("Step %r failed: %s", self.steps[uid].name, error)

    # ----- execution ------------------------------------------------------------------------
    def execute(self) -> None:
        run = self.run
        logger.info(
            "Run %r: %d steps (%d to consider), parallelism %d",
            run.name,
            len(self.steps),
            len(self.tasks),
            self.parallelism,
        )
        with self.recorder.lock:
            run.owner, run.status = current_owner(), RunStatus.RUNNING
        self.recorder.flush()
        self.recorder.start()
        try:
            if self.parallelism == 1:
                self._sequential()
            else:
                from ._parallel import Parallel  # only here: keeps multiprocessing out of imports

                Parallel(self).go()
        except BaseException as e:
            logger.error("Run %r interrupted: %s", run.name, type(e).__name__)
            self._finish(interrupted=True)  # a second stop signal is ignored meanwhile
            raise
        with self.stop.hold():  # a stop signal now is raised once the run's end is recorded
            self._finish(interrupted=False)

    def _sequential(self) -> None:
        runner = StepRunner(self.ws, self.run.name, on_start=self._on_start)
        for uid in self.tasks:
            if self._cached_now(uid):  # a cached result needs none of its dependencies
                continue
            root = self._blocker(uid)
            if root is not None:
                self._block(uid, root)
                continue
            runner.started, runner.failed = [], None
            error = None
            try:
                runner.result(self.steps[uid])
            except Exception as e:  # noqa: BLE001 -- a step's failure is recorded, not raised
                error = f"{type(e).__name__}: {e}"
            self._after(uid, runner.started, runner.failed, error)

    def _finish(self, *, interrupted: bool) -> None:
        self.recorder.stop()
        run = self.run
        for uid in self.order:
            row = run.plan[uid]
            if row.state is StepState.RUNNING or (interrupted and row.reason is StepReason.RAN):
                # The record now says how the attempt ended; the reason stays what it was.
                reason = StepReason.RAN if row.reason is StepReason.PENDING else row.reason
                self._mark(uid, reason, blocked_by=row.blocked_by)
        # Dependents first, so a chain of unneeded uncacheable steps is seen as such.
        for uid in reversed(self.order):
            if run.plan[uid].reason is not StepReason.PENDING:
                continue
            root = None if interrupted else self._dep_failure(uid)
            if root is not None:
                self._block(uid, root)
            elif not interrupted and self._dependents_cached(uid):
                self._mark(uid, StepReason.CACHED)
            else:
                self._mark(uid, StepReason.NOT_REACHED)
        rows = list(run.plan.values())
        if interrupted:
            status = RunStatus.INCOMPLETE
        elif any(
            r.state in (StepState.FAILED, StepState.CRASHED)
            or r.reason is StepReason.DEPENDENCY_FAILED
            for r in rows
        ):
            status = RunStatus.FAILED
        elif any(r.reason is StepReason.NOT_REACHED for r in rows):
            status = RunStatus.INCOMPLETE
        else:
            status = RunStatus.COMPLETED
        with self.recorder.lock:
            run.status, run.end_date, run.owner = status, utc_now(), None
        try:
            self.recorder.flush()
        except Exception as e:
            if not interrupted:
                raise
            logger.error("could not record the end of run %r: %s", run.name, e)
        logger.info("Run %r %s", run.name, status.value)

    def _dep_failure(self, uid: str) -> str | None:
        for dep in self.steps[uid].dependencies:
            if self.outcome.get(dep.unique_id) in ("failed", "blocked"):
                return self.root_failure[dep.unique_id]
            root = self._dep_failure(dep.unique_id) if dep.unique_id not in self.outcome else None
            if root is not None:
                return root
        return None

    def _dependents_cached(self, uid: str) -> bool:
        dependents = [r for r in self.run.plan.values() if uid in r.dependencies]
        return bool(dependents) and all(r.reason is StepReason.CACHED for r in dependents)
