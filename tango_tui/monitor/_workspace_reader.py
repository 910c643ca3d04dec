"""Snapshot rows from any read-only :class:`~tango_tui.core.Workspace` (used for Tango 1.x).

A Tango workspace keeps no per-run step table, so a run's steps are its targets plus their
recursive dependencies, looked up with ``step_info``, and why a step did or did not run is
inferred: completed before the run started means cached; not run with a failed dependency means
dependency failed.
"""

from __future__ import annotations

import logging
from collections import deque
from pathlib import Path
from typing import Any

from ..core._errors import WorkspaceError
from ..core._model import Progress, Run, RunStatus, RunStep, StepInfo, StepReason, StepState
from ._plan import dependency_order
from ._rows import RunDetail, RunRow, SourceProblem, StepRow

logger = logging.getLogger(__name__)


class WorkspaceReader:
    """Rows for a :class:`~tango_tui.core.Workspace` (all of it is re-read on each listing)."""

    def __init__(self, workspace: Any, root: Path):
        self.workspace = workspace
        self.root = root
        self.problems: list[SourceProblem] = []
        self._rows: dict[str, RunRow] = {}

    def _collect_problems(self) -> None:
        for p in getattr(self.workspace, "problems", None) or ():
            path = getattr(p, "path", None) or str(self.root)
            problem = getattr(p, "problem", None) or getattr(p, "message", None) or str(p)
            if getattr(p, "key", None):
                problem = f"{p.key}: {problem}"
            self.problems.append(SourceProblem(str(path), str(problem)))

    def _infos(self, run: Run) -> tuple[dict[str, StepInfo], dict[str, str]]:
        """Every step of ``run`` by uid (targets first, then dependencies breadth-first), and
        ``{uid: name}`` of the targets."""
        infos: dict[str, StepInfo] = {}
        names: dict[str, str] = {}
        queue: deque[str] = deque()
        for name, info in run.steps.items():
            names.setdefault(info.unique_id, name)
            infos[info.unique_id] = info
            queue.extend(info.dependencies)
        while queue:
            uid = queue.popleft()
            if uid in infos:
                continue
            try:
                info = self.workspace.step_info(uid)
            except KeyError:
                self.problems.append(
                    SourceProblem(
                        str(self.root), f"run {run.name!r} needs step {uid} which has no record"
                    )
                )
                continue
            except WorkspaceError as e:
                self.problems.append(SourceProblem(e.path, e.problem))
                continue
            infos[uid] = info
            queue.extend(info.dependencies)
        return infos, names

    def _runs(self) -> list[Run]:
        try:
            return list(self.workspace.registered_runs().values())
        except WorkspaceError as e:
            self.problems.append(SourceProblem(e.path, e.problem))
            return []

    @staticmethod
    def _status(run: Run, infos: dict[str, StepInfo]) -> RunStatus:
        if run.end_date is not None:
            return run.status
        states = {i.state for i in infos.values()}
        if StepState.RUNNING in states:
            return RunStatus.RUNNING
        if StepState.CRASHED in states:
            return RunStatus.CRASHED
        if StepState.FAILED in states:
            return RunStatus.FAILED
        if states <= {StepState.COMPLETED, StepState.UNCACHEABLE}:
            return RunStatus.COMPLETED
        return RunStatus.INCOMPLETE

    def _row(self, run: Run, infos: dict[str, StepInfo] | None = None) -> RunRow:
        if run.plan:
            counts = run.counts()
            n = len(run.plan)
            status = run.status
        else:
            infos = infos if infos is not None else self._infos(run)[0]
            counts = {}
            for info in infos.values():
                counts[info.state] = counts.get(info.state, 0) + 1
            n = len(infos)
            status = self._status(run, infos)
        log_of = getattr(self.workspace, "run_log_path", None)
        log = log_of(run.name) if callable(log_of) else self.root / "runs" / run.name / "out.log"
        targets = {name: info.unique_id for name, info in run.steps.items()}
        return RunRow(run.name, run.start_date, run.end_date, status, counts, n, log, None, targets)

    def list_runs(self, changed: set[str] | None = None) -> list[RunRow]:
        """Every run, newest first. With ``changed``, only those runs and the runs using steps
        whose records changed are rebuilt; the other rows are reused."""
        self.problems = []
        names_of = getattr(self.workspace, "run_names", None)
        if changed is None or not self._rows or not callable(names_of):
            self._refresh_ids()  # everything is re-read: start counting changes from here
            self._rows = {run.name: self._row(run) for run in self._runs()}
        else:
            changed_uids = self._refresh_ids()
            using = getattr(self.workspace, "runs_using", None)
            if changed_uids and callable(using):
                changed = changed | using(changed_uids)
            present = set(names_of())
            for name in list(self._rows):
                if name not in present:
                    del self._rows[name]
            for name in present:
                if name in changed or name not in self._rows:
                    try:
                        self._rows[name] = self._row(self.workspace.registered_run(name))
                    except KeyError:
                        self._rows.pop(name, None)
        self._collect_problems()
        return sorted(self._rows.values(), key=lambda r: (r.start_date, r.name), reverse=True)

    def _refresh_ids(self) -> set[str]:
        refresh = getattr(self.workspace, "refresh", None)
        return set(refresh() or ()) if callable(refresh) else set()

    def run_detail(self, name: str) -> RunDetail:
        """All steps of run ``name``, dependencies first.

        Raises:
            KeyError: If there is no such run.
        """
        self.problems = []
        run = self.workspace.registered_run(name)
        row = self._row(run)
        steps = (
            [self._plan_row(run, rs) for rs in run.plan.values()]
            if run.plan
            else self._inferred_rows(run, row)
        )
        self._collect_problems()
        return RunDetail(row, dependency_order(steps))

    def _plan_row(self, run: Run, rs: RunStep) -> StepRow:
        log = Path(rs.log_file) if rs.log_file else None
        if log is not None and not log.is_absolute():
            log = self.root / log
        return StepRow(
            unique_id=rs.unique_id,
            name=rs.name,
            step_class_name=rs.step_class_name,
            state=rs.state,
            reason=rs.reason,
            blocked_by=rs.blocked_by,
            target=rs.target,
            start_time=rs.start_time,
            end_time=rs.end_time,
            error=rs.error,
            dependencies=rs.dependencies,
            log_path=log,
            progress=self.step_progress(rs.unique_id) if rs.state == StepState.RUNNING else None,
        )

    def _inferred_rows(self, run: Run, row: RunRow) -> list[StepRow]:
        infos, names = self._infos(run)
        ended = row.status != RunStatus.RUNNING
        steps: list[StepRow] = []
        for uid, info in infos.items():
            blocker = next(
                (
                    d
                    for d in info.dependencies
                    if d in infos and infos[d].state in (StepState.FAILED, StepState.CRASHED)
                ),
                None,
            )
            if (
                info.state == StepState.COMPLETED
                and info.end_time is not None
                and info.end_time < run.start_date
            ):
                reason = StepReason.CACHED
            elif info.state == StepState.INCOMPLETE and blocker is not None:
                reason = StepReason.DEPENDENCY_FAILED
            elif info.state == StepState.INCOMPLETE:
                reason = StepReason.NOT_REACHED if ended else StepReason.PENDING
            else:
                reason = StepReason.RAN
            steps.append(
                StepRow(
                    unique_id=uid,
                    name=names.get(uid) or info.step_name or uid,
                    step_class_name=info.step_class_name,
                    state=info.state,
                    reason=reason,
                    blocked_by=blocker if reason == StepReason.DEPENDENCY_FAILED else None,
                    target=uid in names,
                    start_time=info.start_time,
                    end_time=info.end_time,
                    error=info.crashed or info.error,
                    dependencies=tuple(sorted(info.dependencies)),
                    log_path=None,
                    progress=self.step_progress(uid) if info.state == StepState.RUNNING else None,
                )
            )
        return steps

    def step_info(self, uid: str, run: str | None = None) -> StepInfo:
        """The workspace's record of ``uid`` (KeyError if unknown)."""
        return self.workspace.step_info(uid)  # type: ignore[no-any-return]

    def step_progress(self, uid: str, run: str | None = None) -> Progress | None:
        """The workspace's latest progress report of ``uid``, if it keeps any."""
        try:
            return self.workspace.step_progress(uid)  # type: ignore[no-any-return]
        except (KeyError, WorkspaceError):
            return None
