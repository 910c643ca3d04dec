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
from ..core._model import Progress, Run, RunStatus, StepInfo, StepReason, StepState
from ._rows import RunDetail, RunRow, SourceProblem, StepRow

logger = logging.getLogger(__name__)


class WorkspaceReader:
    """Rows for a :class:`~tango_tui.core.Workspace` (all of it is re-read on each listing)."""

    def __init__(self, workspace: Any, root: Path):
        self.workspace = workspace
        self.root = root
        self.problems: list[SourceProblem] = []

    def _refresh(self) -> None:
        refresh = getattr(self.workspace, "refresh", None)
        if callable(refresh):
            refresh()

    def _collect_problems(self) -> None:
        for p in getattr(self.workspace, "problems", None) or ():
            path = getattr(p, "path", None) or str(self.root)
            problem = getattr(p, "problem", None) or getattr(p, "message", None) or str(p)
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
                self.problems.append(SourceProblem(str(self.root), f"run {run.name!r} needs step {uid} which has no record"))
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

    def _row(self, run: Run, infos: dict[str, StepInfo]) -> RunRow:
        counts: dict[StepState, int] = {}
        for info in infos.values():
            counts[info.state] = counts.get(info.state, 0) + 1
        log = self.root / "runs" / run.name / "out.log"
        return RunRow(
            run.name, run.start_date, run.end_date, self._status(run, infos), counts, len(infos), log, None,
            {name: info.unique_id for name, info in run.steps.items()},
        )

    def list_runs(self, changed: set[str] | None = None) -> list[RunRow]:
        """Every run, newest first (the workspace's own snapshot makes this cheap)."""
        self.problems = []
        self._refresh()
        rows = []
        for run in self._runs():
            infos, _ = self._infos(run)
            rows.append(self._row(run, infos))
        self._collect_problems()
        rows.sort(key=lambda r: (r.start_date, r.name), reverse=True)
        return rows

    def run_detail(self, name: str) -> RunDetail:
        """All steps of run ``name``, dependencies first.

        Raises:
            KeyError: If there is no such run.
        """
        self.problems = []
        self._refresh()
        run = self.workspace.registered_run(name)
        infos, names = self._infos(run)
        row = self._row(run, infos)
        ended = row.status != RunStatus.RUNNING
        steps: list[StepRow] = []
        for uid, info in infos.items():
            blocker = next((d for d in info.dependencies if d in infos and infos[d].state in (StepState.FAILED, StepState.CRASHED)), None)
            if info.state == StepState.COMPLETED and info.end_time is not None and info.end_time < run.start_date:
                reason = StepReason.CACHED
            elif info.state == StepState.INCOMPLETE and blocker is not None:
                reason = StepReason.DEPENDENCY_FAILED
            elif info.state == StepState.INCOMPLETE:
                reason = StepReason.NOT_REACHED if ended else StepReason.PENDING
            else:
                reason = StepReason.RAN
            log = Path(info.log_file) if info.log_file else None
            if log is not None and not log.is_absolute():
                log = self.root / log
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
                    log_path=log,
                    progress=self.step_progress(uid) if info.state == StepState.RUNNING else None,
                )
            )
        self._collect_problems()
        from ._local_reader import _dependency_order

        return RunDetail(row, _dependency_order(steps))

    def step_info(self, uid: str, run: str | None = None) -> StepInfo:
        """The workspace's record of ``uid`` (KeyError if unknown)."""
        return self.workspace.step_info(uid)  # type: ignore[no-any-return]

    def step_progress(self, uid: str, run: str | None = None) -> Progress | None:
        """The workspace's latest progress report of ``uid``, if it keeps any."""
        try:
            return self.workspace.step_progress(uid)  # type: ignore[no-any-return]
        except (KeyError, WorkspaceError):
            return None
