"""``TangoWorkspace``: a read-only view of a workspace written by ai2-tango 1.x (LocalWorkspace).

Layout read (nothing is ever written, locked or created)::

    DIR/settings.json               {"version": 2}  (missing means version 1)
    DIR/stepinfo.sqlite             sqlitedict table "unnamed": key = unique id, value = pickled StepInfo
    DIR/cache/<uid>/                result files, cache-metadata.json, lock (flock while running), work/
    DIR/cache/<uid>/stepinfo.dill   version 1 only: the pickled StepInfo
    DIR/runs/<name>/stepinfo.json   {step name: unique id} for all steps of the run
    DIR/runs/<name>/<step name>     relative symlink to ../../cache/<uid> (cacheable targets)
    DIR/runs/<name>/out.log         the run's Rich-formatted log
    DIR/latest                      absolute symlink to DIR/runs/<newest> (as written by Tango)
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NoReturn, TypeVar, cast
from urllib.parse import ParseResult

from .._errors import TangoTuiError
from .._model import Progress, Run, StepInfo, StepState
from .._workspace import RunSort, StepInfoSort, Workspace, select_step_infos
from ._db import Problem, StepInfoTable
from ._locks import RunLogWriters
from ._logs import RunLogScanner, lines_for_step
from ._progress import progress_from_log
from ._records import StepRecords
from ._runs import build_run, read_run_files

F = TypeVar("F")


def _locked(method: F) -> F:
    """Serialise a method on the instance's lock (the dashboard reads from several threads)."""

    @functools.wraps(method)  # type: ignore[arg-type]
    def wrapper(self: TangoWorkspace, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)  # type: ignore[operator]

    return cast(F, wrapper)


@Workspace.register("tango1")
class TangoWorkspace(Workspace):
    """A workspace written by ai2-tango 1.x, opened read-only (``tango1:///path``).

    Read methods return tango-tui's model; write methods raise :class:`TangoTuiError`. The read
    methods are serialised on an internal lock, so several threads may share one instance.
    Step records are decoded by a restricted unpickler (nothing is executed); a step recorded as
    running whose lock is not held (per ``/proc/locks``) is CRASHED. The step records are kept by
    :class:`~._records.StepRecords`; runs are built here from their directories and logs.

    Args:
        dir: The workspace directory.
    """

    def __init__(self, dir: str | os.PathLike[str]):
        self.dir = Path(dir).absolute()
        self._lock = threading.RLock()
        self._records = StepRecords(self.dir)
        self._scanners: dict[str, RunLogScanner] = {}
        self._log_writers = RunLogWriters()
        self._run_problems: list[Problem] = []
        self._run_ids: dict[str, tuple[int, frozenset[str]]] = {}

    @property
    def version(self) -> int:
        """Tango's layout version (1: ``cache/*/stepinfo.dill``, 2: ``stepinfo.sqlite``)."""
        return self._records.version

    @property
    def table(self) -> StepInfoTable:
        """The reader of ``stepinfo.sqlite`` (version 2's step records)."""
        return self._records.table

    # ----- URL ------------------------------------------------------------------------------
    @classmethod
    def from_parsed_url(cls, parsed_url: ParseResult) -> TangoWorkspace:
        """``tango1:///abs/path`` or ``tango1://relative/path``."""
        path = (parsed_url.netloc + parsed_url.path) if parsed_url.netloc else parsed_url.path
        return cls(path or ".")

    @property
    def url(self) -> str:
        """``tango1://`` + the directory."""
        return f"tango1://{self.dir}"

    # ----- refreshing -----------------------------------------------------------------------
    @_locked
    def refresh(self) -> set[str]:
        """Re-read what changed on disk (cheap when nothing did).

        Returns:
            The unique ids whose records changed, appeared or vanished since the previous call
            of ``refresh()`` (reads done inside other methods in between are included, so a
            caller polling ``refresh()`` never misses a change).
        """
        return self._records.refresh()

    @property
    @_locked
    def problems(self) -> list[Problem]:
        """Rows and files skipped, and conditions met (busy database, hot journal) in the last read."""
        return self._records.record_problems() + self._run_problems + self._records.liveness_notes()

    # ----- steps ----------------------------------------------------------------------------
    def _live_info(self, uid: str) -> StepInfo | None:
        info = self._records.record(uid)
        return None if info is None else self._records.live(info)

    @_locked
    def step_info(self, step_or_unique_id: Any) -> StepInfo:
        """The record of a step (liveness applied).

        Raises:
            KeyError: If the workspace has no readable record for it.
        """
        uid = getattr(step_or_unique_id, "unique_id", step_or_unique_id)
        self._records.ensure_fresh()
        info = self._live_info(str(uid))
        if info is None:
            raise KeyError(uid)
        return info

    @_locked
    def all_step_infos(self) -> dict[str, StepInfo]:
        """``{unique id: StepInfo}`` for every readable record (liveness applied)."""
        self._records.ensure_fresh()
        out: dict[str, StepInfo] = {}
        for uid in sorted(self._records.all_ids()):
            info = self._live_info(uid)
            if info is not None:
                out[uid] = info
        return out

    @_locked
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
        """Records whose unique id or step name contains ``match``, in ``state``, sorted, sliced."""
        return select_step_infos(
            list(self.all_step_infos().values()),
            sort_by=sort_by,
            sort_descending=sort_descending,
            match=match,
            state=state,
            start=start,
            stop=stop,
        )

    # ----- runs -----------------------------------------------------------------------------
    def run_names(self) -> list[str]:
        """Names of the run directories (cheap: one directory listing)."""
        try:
            return sorted(
                e.name for e in os.scandir(self.dir / "runs") if e.is_dir(follow_symlinks=False)
            )
        except OSError:
            return []

    def latest_run_name(self) -> str | None:
        """The run ``latest`` points at, by name (Tango writes an absolute link, which a copied
        or moved workspace would get wrong)."""
        try:
            name = os.path.basename(os.readlink(self.dir / "latest").rstrip("/"))
        except OSError:
            return None
        return name if os.path.isdir(self.dir / "runs" / name) else None

    def run_log_path(self, name: str) -> Path:
        """The run's ``out.log`` (it may not exist)."""
        return self.dir / "runs" / name / "out.log"

    @_locked
    def registered_run(self, name: str) -> Run:
        """The run called ``name``, with ``plan`` rows, reasons and a derived status.

        Raises:
            KeyError: If there is no such run directory.
        """
        run_dir = self.dir / "runs" / name
        if "/" in name or name in ("", ".", "..") or not os.path.isdir(run_dir):
            raise KeyError(name)
        self._records.ensure_fresh()
        return self._build(name)

    def _build(self, name: str) -> Run:
        files = read_run_files(self.dir / "runs" / name)
        self._run_problems = [
            p
            for p in self._run_problems
            if not p.path.startswith(str(self.dir / "runs" / name) + os.sep)
        ]
        self._run_problems += files.problems
        scanner = self._scanners.get(name)
        if scanner is None:
            scanner = self._scanners[name] = RunLogScanner(files.log_path)
        log = scanner.scan() if os.path.exists(files.log_path) else None

        return build_run(
            name, files, self._live_info, log, lambda: self._log_writers.alive(files.log_path)
        )

    @_locked
    def registered_runs(self) -> dict[str, Run]:
        """All runs, ``{name: Run}``."""
        self._records.ensure_fresh()
        # Rebuilt from scratch, so problems of runs deleted meanwhile go too.
        self._run_problems = []
        return {
            name: self._build(name)
            for name in self.run_names()
            if os.path.isdir(self.dir / "runs" / name)
        }

    @_locked
    def search_registered_runs(
        self,
        *,
        sort_by: RunSort | None = None,
        sort_descending: bool = True,
        match: str | None = None,
        start: int = 0,
        stop: int | None = None,
    ) -> list[Run]:
        """Runs whose name contains ``match``; runs outside the slice are not built when sorting by name."""
        names = self.run_names()
        if match:
            names = [n for n in names if match.lower() in n.lower()]
        if sort_by == RunSort.NAME:
            names.sort(reverse=sort_descending)
            self._records.ensure_fresh()
            return [self._build(n) for n in names[start:stop]]
        return super().search_registered_runs(
            sort_by=sort_by, sort_descending=sort_descending, match=match, start=start, stop=stop
        )

    def num_registered_runs(self, *, match: str | None = None) -> int:
        """How many run directories match (no run is built)."""
        return len([n for n in self.run_names() if not match or match.lower() in n.lower()])

    @_locked
    def runs_using(self, unique_ids: Iterable[str]) -> set[str]:
        """Names of the runs whose ``stepinfo.json`` lists any of ``unique_ids`` (for the monitor:
        which run rows a database change touches). Each run file is re-read only when it changes."""
        wanted = set(unique_ids)
        out = set()
        for name in self.run_names():
            info_file = self.dir / "runs" / name / "stepinfo.json"
            try:
                mtime = info_file.stat().st_mtime_ns
            except OSError:
                mtime = -1
            cached = self._run_ids.get(name)
            if cached is None or cached[0] != mtime:
                ids = frozenset(read_run_files(self.dir / "runs" / name).ids.values())
                self._run_ids[name] = cached = (mtime, ids)
            if wanted & cached[1]:
                out.add(name)
        return out

    @_locked
    def step_progress(self, step_or_unique_id: Any) -> Progress | None:
        """The newest tqdm bar a RUNNING step logged into its run's ``out.log`` (Tango keeps no
        other progress record); None when not running or no bar was logged."""
        uid = str(getattr(step_or_unique_id, "unique_id", step_or_unique_id))
        try:
            if self.step_info(uid).state != StepState.RUNNING:
                return None
        except KeyError:
            return None
        runs = sorted(self.runs_using({uid}), key=lambda n: self._run_mtime(n), reverse=True)
        for name in runs[:1]:  # the newest run using the step is the one running it
            step_names = [
                n for n, u in read_run_files(self.dir / "runs" / name).ids.items() if u == uid
            ]
            for step_name in step_names:
                progress = progress_from_log(self.run_log_path(name), step_name)
                if progress is not None:
                    return progress
        return None

    def _run_mtime(self, name: str) -> float:
        try:
            return (self.dir / "runs" / name / "stepinfo.json").stat().st_mtime
        except OSError:
            return 0.0

    def step_log_lines(
        self, run_name: str, step_name: str, *, limit: int | None = None
    ) -> list[str]:
        """The lines of run ``run_name``'s ``out.log`` that belong to its step ``step_name``
        (see :func:`~tango_tui.core.tango1.lines_for_step`)."""
        return lines_for_step(self.run_log_path(run_name), step_name, limit=limit)

    # ----- writes: refused ------------------------------------------------------------------
    def _read_only(self, what: str) -> NoReturn:
        raise TangoTuiError(f"{self.dir}: read-only Tango 1.x workspace: cannot {what}")

    @property
    def step_cache(self) -> Any:
        """Not available: Tango's results are pickles this viewer does not load."""
        self._read_only("open the step cache (results are not loaded by this viewer)")

    def step_starting(self, step: Any) -> None:
        self._read_only("start a step")

    def step_finished(self, step: Any, result: Any) -> Any:
        self._read_only("finish a step")

    def step_failed(self, step: Any, e: BaseException) -> None:
        self._read_only("fail a step")

    def remove_step(self, step_unique_id: str) -> None:
        self._read_only("remove a step")

    def register_run(self, targets: Iterable[Any], name: str | None = None) -> Run:
        self._read_only("register a run")

    def update_run(self, run: Run) -> None:
        self._read_only("update a run")

    def work_dir(self, step: Any) -> Path:
        self._read_only("create a work directory")
