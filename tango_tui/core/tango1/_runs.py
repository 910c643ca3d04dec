"""Building our :class:`Run` (status, plan rows, reasons) from a Tango 1.x run directory.

Tango keeps little about a run: ``runs/<name>/stepinfo.json`` (``{step name: unique id}`` for
every step of the run, dependencies included), a symlink per *cacheable target* to its cache
directory, and ``out.log``. Which steps ran in the run, came from the cache, or were never reached
is told by the log's markers (:class:`~._logs.RunLogState`); the step records give the states.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .._model import Run, RunStatus, RunStep, StepInfo, StepReason, StepState
from ._db import Problem
from ._logs import RunLogState


@dataclass
class RunFiles:
    """What the run directory holds: step ids, symlinked targets, dates."""

    ids: dict[str, str]
    """``{step name: unique id}`` for every step of the run."""
    symlinked: set[str]
    """Names that have a symlink in the run directory (cacheable targets)."""
    start_date: datetime
    """When the run was registered (``stepinfo.json``'s mtime: Tango never rewrites it)."""
    log_path: Path
    """The run's ``out.log`` (may not exist)."""
    problems: list[Problem]
    """What could not be read."""


def read_run_files(run_dir: Path) -> RunFiles:
    """Read a run directory's ``stepinfo.json`` and symlinks (falls back to symlinks alone)."""
    problems: list[Problem] = []
    symlinked: dict[str, str] = {}
    try:
        with os.scandir(run_dir) as it:
            for entry in it:
                if entry.is_symlink():
                    # Tango's symlinks are relative ("../../cache/<uid>"); the link text names the
                    # step, whether or not the target exists yet, and wherever the workspace is now.
                    target = os.readlink(entry.path)
                    symlinked[entry.name] = os.path.basename(target.rstrip("/"))
    except OSError as e:
        problems.append(Problem(str(run_dir), None, f"cannot list the run directory: {e}"))
    info_file = run_dir / "stepinfo.json"
    ids: dict[str, str] = {}
    try:
        data = json.loads(info_file.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")  # noqa: TRY004 - reported like bad JSON
        ids = {str(k): str(v) for k, v in data.items()}
        mtime = info_file.stat().st_mtime
    except FileNotFoundError:
        # Runs from older Tango versions have only the symlinks.
        ids = dict(symlinked)
        mtime = _mtime(run_dir)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        problems.append(Problem(str(info_file), None, f"unreadable run record: {e}"))
        ids = dict(symlinked)
        mtime = _mtime(run_dir)
    return RunFiles(
        ids=ids,
        symlinked=set(symlinked),
        start_date=datetime.fromtimestamp(mtime, UTC),
        log_path=run_dir / "out.log",
        problems=problems,
    )


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def build_run(
    name: str,
    files: RunFiles,
    info_of: Callable[[str], StepInfo | None],
    log: RunLogState | None,
    process_alive: Callable[[], bool | None],
) -> Run:
    """Assemble a :class:`Run` with its ``plan`` and status.

    Args:
        name: The run's name.
        files: What :func:`read_run_files` found.
        info_of: The (liveness-checked) record of a unique id, or None if there is none.
        log: The markers of the run's log so far (None when there is no log).
        process_alive: Whether a process still writes the run's log (None: cannot tell); called
            only when the log has no end marker.
    """
    log = log or RunLogState()
    infos = {uid: info_of(uid) for uid in set(files.ids.values())}
    depended: set[str] = set()
    for info in infos.values():
        if info is not None:
            depended |= info.dependencies
    targets = {n for n, uid in files.ids.items() if n in files.symlinked or uid not in depended}

    plan: dict[str, RunStep] = {}
    for step_name, uid in files.ids.items():
        info = infos.get(uid)
        plan[uid] = _row(step_name, uid, info, log, files.start_date, step_name in targets)
    _mark_blocked(plan)

    status = _status(plan, log, process_alive, os.path.exists(files.log_path))
    for row in plan.values():
        _settle_unfinished(row, log, status)
    end_date = None
    if log.run_ended or status in (RunStatus.CRASHED, RunStatus.FAILED, RunStatus.COMPLETED):
        try:
            end_date = datetime.fromtimestamp(files.log_path.stat().st_mtime, UTC)
        except OSError:
            ends = [r.end_time for r in plan.values() if r.end_time]
            end_date = max(ends) if ends else None
    steps = {n: infos[uid] or _placeholder(uid, n) for n, uid in files.ids.items() if n in targets}
    return Run(
        name=name,
        steps=steps,
        start_date=files.start_date,
        end_date=end_date,
        status=status,
        plan=plan,
    )


def _placeholder(uid: str, name: str) -> StepInfo:
    from ._convert import Tango1StepInfo

    return Tango1StepInfo(unique_id=uid, step_class_name=uid.split("-", 1)[0], step_name=name)


def _row(
    step_name: str,
    uid: str,
    info: StepInfo | None,
    log: RunLogState,
    run_start: datetime,
    target: bool,
) -> RunStep:
    if info is None:
        return RunStep(
            unique_id=uid,
            name=step_name,
            step_class_name=uid.split("-", 1)[0],
            target=target,
            error="no record of this step in stepinfo.sqlite",
        )
    state = info.state
    if step_name in log.started or step_name in log.failed or step_name in log.finished:
        reason = StepReason.RAN
    elif step_name in log.cached:
        reason = StepReason.CACHED
    elif info.start_time is not None and state != StepState.UNCACHEABLE:
        # No marker (a run made through the Python API logs nothing): tell by the times.
        reason = StepReason.CACHED if info.start_time < run_start else StepReason.RAN
    else:
        reason = StepReason.PENDING
    ran = reason == StepReason.RAN and info.cacheable
    return RunStep(
        unique_id=uid,
        name=step_name,
        step_class_name=info.step_class_name,
        target=target,
        dependencies=tuple(sorted(info.dependencies)),
        cacheable=info.cacheable,
        state=state,
        reason=reason,
        start_time=info.start_time if ran or reason == StepReason.CACHED else None,
        end_time=info.end_time if ran or reason == StepReason.CACHED else None,
        error=info.error
        if state == StepState.FAILED
        else (info.crashed if state == StepState.CRASHED else None),
    )


def _mark_blocked(plan: dict[str, RunStep]) -> None:
    """Steps that did not run because a dependency failed (directly or further up)."""
    memo: dict[str, str | None] = {}

    def blocker(uid: str, seen: frozenset[str]) -> str | None:
        if uid in memo:
            return memo[uid]
        row = plan.get(uid)
        result = None
        if row is not None and uid not in seen:
            for dep in row.dependencies:
                dep_row = plan.get(dep)
                if dep_row is None:
                    continue
                if dep_row.state == StepState.FAILED:
                    result = dep
                    break
                upstream = blocker(dep, seen | {uid})
                if upstream is not None:
                    result = upstream
                    break
        memo[uid] = result
        return result

    for uid, row in plan.items():
        if row.reason == StepReason.PENDING and row.state in (
            StepState.INCOMPLETE,
            StepState.UNCACHEABLE,
        ):
            b = blocker(uid, frozenset())
            if b is not None:
                row.reason, row.blocked_by = StepReason.DEPENDENCY_FAILED, b
                if row.state == StepState.UNCACHEABLE:
                    row.state = StepState.INCOMPLETE


def _status(
    plan: dict[str, RunStep],
    log: RunLogState,
    process_alive: Callable[[], bool | None],
    has_log: bool,
) -> RunStatus:
    states = {row.state for row in plan.values()}
    if StepState.RUNNING in states:
        return RunStatus.RUNNING
    if log.run_ended:
        failed = log.run_errors or bool(log.failed)
        return RunStatus.FAILED if failed else RunStatus.COMPLETED
    if StepState.CRASHED in states:
        return RunStatus.CRASHED
    if has_log:
        alive = process_alive()
        if alive:
            return RunStatus.RUNNING
        if alive is False:
            # The executor is gone without writing its end marker: killed, OOM, reboot.
            return RunStatus.CRASHED
    if StepState.FAILED in states:
        return RunStatus.FAILED
    if states and states <= {StepState.COMPLETED, StepState.UNCACHEABLE}:
        return RunStatus.COMPLETED
    return RunStatus.INCOMPLETE


def _settle_unfinished(row: RunStep, log: RunLogState, status: RunStatus) -> None:
    """Fix up rows the records cannot tell about, now that the run's status is known."""
    name = row.name
    if row.reason == StepReason.RAN and name in log.failed and row.state == StepState.INCOMPLETE:
        # Seen with the multicore executor: the log says the step failed, but its record was
        # reset to "never started" afterwards. The run's own account wins for the run's row.
        row.state = StepState.FAILED
        row.error = row.error or "failed in this run (see the run log; Tango reset its record)"
    if not row.cacheable and row.reason == StepReason.RAN:
        # Tango records nothing for uncacheable steps: only the log tells how they went.
        if name in log.failed:
            row.state = StepState.FAILED
        elif name not in log.finished:
            row.state = StepState.RUNNING if status == RunStatus.RUNNING else StepState.CRASHED
    if row.reason == StepReason.PENDING and status != RunStatus.RUNNING:
        row.reason = StepReason.NOT_REACHED
        if row.state == StepState.UNCACHEABLE:
            row.state = StepState.INCOMPLETE
