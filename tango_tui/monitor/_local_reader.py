"""Read-only, incremental reader of a tango-tui workspace directory for the monitor.

It reads the documented on-disk format (:mod:`tango_tui.core._format`) directly so that listing
stays cheap (see :mod:`._run_list`: the head of one ``run.json`` per run, read again only when its
``stat`` changed); a run's plan rows and its step records are read only for its detail (and
reused while their ``stat`` is unchanged). It never writes, creates or locks anything.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from ..core import _format as fmt
from ..core._errors import RecordError
from ..core._liveness import hostname, lock_is_held, owner_is_alive
from ..core._model import (
    Progress,
    RunStatus,
    RunStep,
    StepInfo,
    StepReason,
    StepState,
)
from ._attempt import attempt_belongs
from ._plan import RunRecord, dependency_order, parse_run
from ._rows import RunDetail, RunRow, SourceProblem, StepRow
from ._run_list import RunList, read_record_bytes
from ._snapshot import StatKey

logger = logging.getLogger(__name__)
T = TypeVar("T")

_FINAL = {StepState.COMPLETED, StepState.FAILED, StepState.UNCACHEABLE}


class LocalReader:
    """Snapshots of a tango-tui workspace at ``root``; keeps parsed records keyed by file stat."""

    def __init__(self, root: Path):
        self.root = root
        self.layout = fmt.Layout(root)
        self.runs = RunList(root)
        self._plans: dict[str, tuple[StatKey, RunRecord | RecordError]] = {}
        self._steps: dict[Path, tuple[StatKey, StepInfo | RecordError]] = {}
        self._problems: list[SourceProblem] = []

    @property
    def problems(self) -> list[SourceProblem]:
        """What the last listing or detail could not use, with path and problem."""
        return [*self.runs.problems, *self._problems]

    # ----- cached record reads -------------------------------------------------------------
    def _cached(
        self,
        cache: dict[Any, tuple[StatKey, Any]],
        key: Any,
        path: str | Path,
        parse: Callable[[], T],
    ) -> T | RecordError | None:
        try:
            st_raw = os.stat(path)
        except FileNotFoundError:
            cache.pop(key, None)
            return RecordError(path, "dangling symlink") if os.path.islink(path) else None
        except NotADirectoryError:
            return RecordError(os.path.dirname(path), "a file stands where a directory belongs")
        except OSError as e:
            return RecordError(path, e.strerror or str(e))
        st: StatKey = (st_raw.st_ino, st_raw.st_size, st_raw.st_mtime_ns)
        hit = cache.get(key)
        if hit is not None and hit[0] == st:
            return hit[1]  # type: ignore[no-any-return]
        try:
            value: T | RecordError = parse()
        except FileNotFoundError:
            return None
        except RecordError as e:
            value = e
        cache[key] = (st, value)
        return value

    def _full_record(self, name: str) -> RunRecord | RecordError | None:
        """Run ``name``'s record with its plan rows (the listing keeps only the head)."""
        path = os.path.join(self.runs.runs_dir, name, fmt.RUN_RECORD)

        def parse() -> RunRecord:
            try:
                return parse_run(path, read_record_bytes(path)[1])
            except FileNotFoundError:
                raise
            except OSError as e:
                raise RecordError(path, f"cannot read record: {e.strerror or e}") from None

        return self._cached(self._plans, name, path, parse)

    def _step_record(self, path: Path) -> StepInfo | RecordError | None:
        def parse() -> StepInfo:
            doc = fmt.read_record(path, fmt.STEP_FORMAT)
            try:
                return StepInfo.from_json_dict(doc.get("step"))  # type: ignore[arg-type]
            except (ValueError, TypeError) as e:
                raise RecordError(path, f"bad step record: {e}") from None

        return self._cached(self._steps, path, path, parse)

    # ----- runs ----------------------------------------------------------------------------
    def list_runs(self, changed: set[str] | None = None) -> list[RunRow]:
        """Rows of every run, newest first (see :meth:`RunList.list_runs`)."""
        self._problems = []
        return self.runs.list_runs(changed)

    def newest_runs(self, k: int, min_runs: int = 0) -> list[RunRow] | None:
        """The ``k`` newest runs, read first (see :meth:`RunList.newest_rows`)."""
        return self.runs.newest_rows(k, min_runs)

    def run_row(self, name: str) -> RunRow:
        """The row of one run (re-read if its record changed).

        Raises:
            KeyError: If there is no such run.
            WorkspaceError: If ``runs/<name>`` cannot be reached or is not a run directory.
        """
        if not _is_component(name) or name.startswith("."):
            raise KeyError(name)
        return self.runs.run_row(name)

    # ----- steps ---------------------------------------------------------------------------
    def step_record_path(self, uid: str, run: str | None = None) -> Path:
        """Where ``uid``'s record is: its cache directory, else the run's ``steps/`` directory.

        Raises:
            KeyError: For an id (or run name) that is not a plain file name, such as ``../x``
                from a hostile record: nothing outside the workspace is ever read.
        """
        if not _is_component(uid) or (run is not None and not _is_component(run)):
            raise KeyError(uid)
        path = self.layout.step_record(uid)
        if run is not None and not os.path.lexists(path):
            alt = self.layout.run_step_dir(run, uid) / fmt.STEP_RECORD
            if os.path.lexists(alt):
                return alt
        return path

    def step_info(self, uid: str, run: str | None = None) -> StepInfo:
        """The step's record with liveness applied.

        Raises:
            KeyError: No record for ``uid``.
            RecordError: The record exists but is unusable.
        """
        path = self.step_record_path(uid, run)
        info = self._step_record(path)
        if info is None:
            raise KeyError(uid)
        if isinstance(info, RecordError):
            raise info
        return self._with_liveness(info, path.parent / fmt.STEP_LOCK)

    @staticmethod
    def _with_liveness(info: StepInfo, lock: Path) -> StepInfo:
        """CRASHED when the record says RUNNING but its owner is gone or gave up the lock
        (the same verdict as LocalWorkspace.step_info)."""
        if info.state != StepState.RUNNING:
            return info
        owner = info.owner
        who = f"pid {owner.pid} on host {owner.host}" if owner else "an unrecorded process"
        alive = owner_is_alive(owner, lock)
        if alive is False:
            return replace(info, crashed=f"the process that ran it ({who}) is gone")
        if alive and owner is not None and owner.host == hostname() and lock_is_held(lock) is False:
            return replace(
                info, crashed=f"its process ({who}) no longer holds the step lock {lock}"
            )
        return info

    def step_progress(self, uid: str, run: str | None = None) -> Progress | None:
        """The latest progress report of a step, or None.

        ``progress.json`` sits next to the attempt's ``logs/`` directory: in the step's cache
        directory, or in ``runs/<run>/steps/<uid>/`` for an uncacheable step.
        """
        try:
            record = self.step_record_path(uid, run)
        except KeyError:
            return None
        path = self.layout.step_progress(uid)
        info = self._step_record(record)
        if isinstance(info, StepInfo) and info.log_file:
            log = self._log_path(info.log_file)
            if log is not None:
                path = log.parent.parent / fmt.PROGRESS_FILE
        try:
            doc = fmt.read_record(path, fmt.PROGRESS_FORMAT)
            return Progress.from_json_dict(doc.get("progress"))  # type: ignore[arg-type]
        except FileNotFoundError:
            return None
        except (RecordError, ValueError, TypeError) as e:
            self._problems.append(SourceProblem(str(path), str(getattr(e, "problem", e))))
            return None

    def _log_path(self, rel: str | None) -> Path | None:
        if not rel:
            return None
        try:
            self.layout.resolve(rel)  # refuses a path that escapes the workspace
        except RecordError as e:
            self._problems.append(SourceProblem(e.path, e.problem))
            return None
        except (OSError, RuntimeError) as e:  # pathlib's resolve: RuntimeError on a link loop
            self._problems.append(SourceProblem(os.path.join(self.root, rel), str(e)))
            return None
        # Spelled under the root as given (not resolved), like the paths the watcher reports.
        return Path(os.path.normpath(os.path.join(self.root, rel)))

    def run_detail(self, name: str) -> RunDetail:
        """All steps of run ``name`` in dependency order.

        Raises:
            KeyError: If there is no such run.
        """
        row = self.run_row(name)
        # This record's problem is said once, by the detail (others' stay, as `ls --json` reads
        # every run's detail after the listing).
        record_path = str(self.layout.run_record(name))
        self.runs.problems = [p for p in self.runs.problems if p.path != record_path]
        self._problems = [p for p in self._problems if p.path != record_path]
        rec = self._full_record(name) if row.problem is None else None
        if not isinstance(rec, RunRecord):
            problem = rec.problem if isinstance(rec, RecordError) else row.problem
            if problem:
                self._problems.append(SourceProblem(record_path, problem))
            return RunDetail(row, [])
        finished = rec.end_date is not None and row.status != RunStatus.RUNNING
        ctx = _RunContext(rec, self._last_update(name, rec), row.status)
        steps: list[StepRow] = []
        for uid, raw in (rec.plan or {}).items():
            try:
                rs = RunStep.from_json_dict(raw)
            except (ValueError, TypeError) as e:
                self._problems.append(
                    SourceProblem(str(self.layout.run_record(name)), f"plan row {uid}: {e}")
                )
                rs = RunStep(unique_id=uid, name=uid, step_class_name="?")
            steps.append(self._step_row(name, rs, finished, ctx))
        return RunDetail(row, dependency_order(steps))

    def _last_update(self, name: str, rec: RunRecord) -> datetime | None:
        """The run's end date, else when its record was last written."""
        if rec.end_date is not None:
            return rec.end_date
        hit = self._plans.get(name)
        if hit is None or hit[0] is None:
            return None
        return datetime.fromtimestamp(hit[0][2] / 1e9, tz=UTC)

    def _step_row(self, run: str, rs: RunStep, finished: bool, ctx: _RunContext) -> StepRow:
        status = ctx.status
        state, reason, error = rs.state, rs.reason, rs.error
        start, end, log_rel, problem = rs.start_time, rs.end_time, rs.log_file, None
        live_elsewhere: StepInfo | None = None
        live_here = False  # the run's own attempt, whose record shows a live owner
        if (
            not finished
            and rs.reason in (StepReason.PENDING, StepReason.RAN)
            and state not in _FINAL
        ):
            try:
                info = self.step_info(rs.unique_id, run)
            except KeyError:
                info = None
            except RecordError as e:
                self._problems.append(SourceProblem(e.path, e.problem))
                info, problem = None, e.problem
            if info is not None and info.state != StepState.INCOMPLETE and not ctx.owns(info):
                # Another run's attempt (a later rerun, an earlier run): not this run's row.
                if info.state == StepState.RUNNING:
                    live_elsewhere = info
                info = None
            if info is not None and info.state != StepState.INCOMPLETE:
                state, start, end = info.state, info.start_time, info.end_time
                live_here = state == StepState.RUNNING  # liveness applied: not known dead
                error = info.crashed or info.error
                log_rel = info.log_file or log_rel
                if reason == StepReason.PENDING:  # the record has left INCOMPLETE
                    reason = StepReason.RAN
        if state == StepState.RUNNING and status == RunStatus.CRASHED and not live_here:
            if live_elsewhere is None:
                state, error = StepState.CRASHED, error or "the run's process is gone"
            else:  # this run's attempt died with it; the step's record is a newer, live one
                who = live_elsewhere.owner
                state, error = (
                    StepState.CRASHED,
                    (
                        "the run's process is gone (the step is running again"
                        + (f" in pid {who.pid} on host {who.host})" if who else ")")
                    ),
                )
        if (
            state == StepState.INCOMPLETE
            and reason == StepReason.PENDING
            and status not in (RunStatus.RUNNING,)
        ):
            reason = StepReason.NOT_REACHED
        progress = self.step_progress(rs.unique_id, run) if state == StepState.RUNNING else None
        log_path = self._log_path(log_rel)
        last_seen = None
        if state == StepState.CRASHED and end is None and log_path is not None:
            with contextlib.suppress(OSError):  # the attempt's log: its last sign of life
                last_seen = datetime.fromtimestamp(log_path.stat().st_mtime, UTC)
        return StepRow(
            unique_id=rs.unique_id,
            name=rs.name,
            step_class_name=rs.step_class_name,
            state=state,
            reason=reason,
            blocked_by=rs.blocked_by,
            target=rs.target,
            start_time=start,
            end_time=end,
            error=error,
            dependencies=rs.dependencies,
            log_path=log_path,
            progress=progress,
            problem=problem,
            last_seen=last_seen,
        )


@dataclass(frozen=True)
class _RunContext:
    """What deciding whether a step attempt is a run's own needs to know about the run."""

    rec: RunRecord
    last_update: datetime | None
    status: RunStatus

    def owns(self, info: StepInfo) -> bool:
        if self.rec.owner is None and self.rec.end_date is None:
            # Registered without an executor (Tango's style: register_run, then step.result()):
            # nothing bounds the run's lifetime, so any attempt made since it began is its own.
            return info.start_time is None or info.start_time >= self.rec.start_date
        return attempt_belongs(
            info,
            self.rec.start_date,
            self.rec.owner,
            self.last_update,
            live=self.status == RunStatus.RUNNING,
        )


def _is_component(name: str) -> bool:
    """Whether ``name`` is a single, plain path component (no separator, not ``.``/``..``)."""
    return bool(name) and name not in (".", "..") and "/" not in name and "\0" not in name
