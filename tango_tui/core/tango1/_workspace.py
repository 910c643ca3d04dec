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
import json
import logging
import os
import pickle
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NoReturn, TypeVar, cast
from urllib.parse import ParseResult

from .._errors import TangoTuiError, UnsafePickleError
from .._liveness import hostname
from .._model import Progress, Run, StepInfo, StepState
from .._workspace import RunSort, StepInfoSort, Workspace
from ._convert import Tango1StepInfo, to_step_info, with_liveness
from ._db import Problem, StepInfoTable
from ._locks import lock_held_per_proc_locks, open_for_writing_by_some_process
from ._logs import RunLogScanner, lines_for_step
from ._progress import progress_from_log
from ._runs import build_run, read_run_files
from ._unpickle import restricted_loads

logger = logging.getLogger(__name__)

F = TypeVar("F")

UNKNOWN_TTL = 5.0
"""Seconds a "cannot tell whether a process writes this run log" answer is reused."""


def _locked(method: F) -> F:
    """Serialise a method on the instance's lock (the dashboard reads from several threads)."""

    @functools.wraps(method)  # type: ignore[arg-type]
    def wrapper(self: TangoWorkspace, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)  # type: ignore[operator]

    return cast(F, wrapper)


def is_tango1_workspace(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` looks like a workspace written by ai2-tango 1.x (and not by tango-tui).

    Decided from names only: ``settings.json`` with a Tango version, ``stepinfo.sqlite``, or a
    version-1 ``cache/*/stepinfo.dill``; a directory with ``tango-tui.json`` is ours.
    """
    root = Path(path)
    if os.path.lexists(root / "tango-tui.json"):
        return False
    try:
        settings = json.loads((root / "settings.json").read_text(encoding="utf-8"))
        if isinstance(settings, dict) and settings.get("version") in (1, 2):
            return True
    except (OSError, ValueError):
        pass
    if os.path.isfile(root / "stepinfo.sqlite"):
        return True
    cache = root / "cache"
    try:
        with os.scandir(cache) as it:
            for i, entry in enumerate(it):
                if os.path.isfile(os.path.join(entry.path, "stepinfo.dill")):
                    return True
                if i > 50:
                    break
    except OSError:
        pass
    return False


@Workspace.register("tango1")
class TangoWorkspace(Workspace):
    """A workspace written by ai2-tango 1.x, opened read-only (``tango1:///path``).

    Read methods return tango-tui's model; write methods raise :class:`TangoTuiError`. The read
    methods are serialised on an internal lock, so several threads may share one instance.
    Step records are decoded by a restricted unpickler (nothing is executed); a step recorded as
    running whose lock is not held (per ``/proc/locks``) is CRASHED.

    Args:
        dir: The workspace directory.
    """

    def __init__(self, dir: str | os.PathLike[str]):
        self.dir = Path(dir).absolute()
        self._lock = threading.RLock()
        self.version = self._read_version()
        self.table = StepInfoTable(self.dir / "stepinfo.sqlite")
        self._infos: dict[str, Tango1StepInfo] = {}
        self._v1: dict[str, tuple[tuple[int, int], Tango1StepInfo | None, Problem | None]] = {}
        self._convert_problems: dict[str, Problem] = {}
        self._scanners: dict[str, RunLogScanner] = {}
        self._dead_logs: set[tuple[str, int, int, int]] = set()
        self._unknown_logs: dict[str, float] = {}
        self._run_problems: list[Problem] = []
        self._liveness_notes: dict[str, Problem] = {}
        self._pending: set[str] = set()
        self._run_ids: dict[str, tuple[int, frozenset[str]]] = {}

    def _read_version(self) -> int:
        try:
            settings = json.loads((self.dir / "settings.json").read_text(encoding="utf-8"))
            return int(settings.get("version", 1))
        except (OSError, ValueError, AttributeError, TypeError):
            return 1

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
        changed = self._pending | self._refresh_now()
        self._pending = set()
        return changed

    def _refresh_now(self) -> set[str]:
        changed = set(self.table.refresh().changed)
        if self.version == 1:
            # A directory opened before Tango wrote settings.json may turn out to be version 2.
            self.version = self._read_version()
        if self.version == 1 or self._v1:
            changed |= self._refresh_v1()
        for key in changed:
            self._infos.pop(key, None)
            self._convert_problems.pop(key, None)
        return changed

    def _refresh_v1(self) -> set[str]:
        changed: set[str] = set()
        seen: set[str] = set()
        try:
            entries = list(os.scandir(self.dir / "cache"))
        except OSError:
            entries = []
        for entry in entries:
            for fname in ("stepinfo.dill", "stepinfo.json"):
                path = Path(entry.path) / fname
                try:
                    st = path.stat()
                except OSError:
                    continue
                uid = entry.name
                seen.add(uid)
                sig = (st.st_mtime_ns, st.st_size)
                if uid in self._v1 and self._v1[uid][0] == sig:
                    break
                self._v1[uid] = (sig, *self._decode_v1(path, uid))
                changed.add(uid)
                break
        for gone in set(self._v1) - seen:
            del self._v1[gone]
            changed.add(gone)
        return changed

    def _decode_v1(self, path: Path, uid: str) -> tuple[Tango1StepInfo | None, Problem | None]:
        try:
            data = path.read_bytes()
            record: Any = (json.loads(data) if path.suffix == ".json"
                           else restricted_loads(data, path=path))
            return to_step_info(record, uid), None
        except UnsafePickleError as e:
            return None, Problem(str(path), uid, e.problem)
        except (OSError, ValueError, pickle.UnpicklingError, EOFError) as e:
            return None, Problem(str(path), uid, f"unreadable record: {e}")
        except Exception as e:  # noqa: BLE001 - one odd record must not hide the others
            return None, Problem(str(path), uid, f"not a step record: {type(e).__name__}: {e}")

    def _ensure_fresh(self) -> None:
        # Every read looks at the database's signature (a stat and a 100-byte read), so callers
        # that never call refresh() still see current data; the changes wait for refresh().
        self._pending |= self._refresh_now()

    @property
    @_locked
    def problems(self) -> list[Problem]:
        """Rows and files skipped, and conditions met (busy database, hot journal) in the last read."""
        out = list(self.table.snapshot.problems)
        out += [p for (_, _, p) in self._v1.values() if p is not None]
        out += list(self._convert_problems.values())
        out += self._run_problems
        out += list(self._liveness_notes.values())
        return out

    # ----- steps ----------------------------------------------------------------------------
    def _record(self, uid: str) -> Tango1StepInfo | None:
        """The stored record (no liveness applied), converted once per change."""
        if uid in self._infos:
            return self._infos[uid]
        raw = self.table.snapshot.rows.get(uid)
        info: Tango1StepInfo | None = None
        if raw is not None:
            try:
                info = to_step_info(raw, uid)
            except Exception as e:  # noqa: BLE001 - one odd record must not hide the others
                self._convert_problems[uid] = Problem(str(self.table.path), uid, f"not a step record: {e}")
        elif uid in self._v1:
            info = self._v1[uid][1]
        if info is not None:
            self._infos[uid] = info
        return info

    def _live(self, info: Tango1StepInfo) -> Tango1StepInfo:
        """Apply the liveness verdict to a record that says RUNNING (noting an unknown verdict)."""
        checked = self._judge(info)
        if checked.liveness_unknown:
            lock = self.dir / "cache" / info.unique_id / "lock"
            self._liveness_notes[info.unique_id] = Problem(
                str(lock), info.unique_id, f"shown as running, but may be dead: {checked.liveness_unknown}")
        else:
            self._liveness_notes.pop(info.unique_id, None)
        return checked

    def _judge(self, info: Tango1StepInfo) -> Tango1StepInfo:
        if info.state != StepState.RUNNING:
            return info
        lock = self.dir / "cache" / info.unique_id / "lock"
        held = lock_held_per_proc_locks(lock)
        if held:
            return info
        host = info.platform.host if info.platform else None
        if host and host != hostname():
            return with_liveness(info, None, f"recorded by host {host!r}; its lock cannot be checked from {hostname()!r}")
        if held is None:
            return with_liveness(info, None, f"cannot tell whether {lock} is locked (network filesystem?)")
        why = "no process holds its lock" if os.path.lexists(lock) else "its lock file is missing"
        return with_liveness(info, f"recorded as running, but {why} ({lock})", None)

    def _all_ids(self) -> set[str]:
        return set(self.table.snapshot.rows) | {k for k, v in self._v1.items() if v[1] is not None}

    @_locked
    def step_info(self, step_or_unique_id: Any) -> StepInfo:
        """The record of a step (liveness applied).

        Raises:
            KeyError: If the workspace has no readable record for it.
        """
        uid = getattr(step_or_unique_id, "unique_id", step_or_unique_id)
        self._ensure_fresh()
        info = self._record(str(uid))
        if info is None:
            raise KeyError(uid)
        return self._live(info)

    @_locked
    def all_step_infos(self) -> dict[str, StepInfo]:
        """``{unique id: StepInfo}`` for every readable record (liveness applied)."""
        self._ensure_fresh()
        out: dict[str, StepInfo] = {}
        for uid in sorted(self._all_ids()):
            info = self._record(uid)
            if info is not None:
                out[uid] = self._live(info)
        return out

    @_locked
    def search_step_info(self, *, sort_by: StepInfoSort | None = None, sort_descending: bool = True,
                         match: str | None = None, state: StepState | None = None, start: int = 0,
                         stop: int | None = None) -> list[StepInfo]:
        """Records whose unique id or step name contains ``match``, in ``state``, sorted, sliced."""
        infos = list(self.all_step_infos().values())
        if match:
            needle = match.lower()
            infos = [i for i in infos if needle in i.unique_id.lower() or needle in (i.step_name or "").lower()]
        if state is not None:
            infos = [i for i in infos if i.state == state]
        if sort_by == StepInfoSort.START_TIME:
            floor = min((i.start_time for i in infos if i.start_time), default=None)
            infos.sort(key=lambda i: (i.start_time or floor, i.unique_id) if floor else i.unique_id,
                       reverse=sort_descending)
        elif sort_by in (StepInfoSort.UNIQUE_ID, None):
            infos.sort(key=lambda i: i.unique_id, reverse=sort_descending)
        return infos[start:stop]

    # ----- runs -----------------------------------------------------------------------------
    def run_names(self) -> list[str]:
        """Names of the run directories (cheap: one directory listing)."""
        try:
            return sorted(e.name for e in os.scandir(self.dir / "runs") if e.is_dir(follow_symlinks=False))
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
        self._ensure_fresh()
        return self._build(name)

    def _build(self, name: str) -> Run:
        files = read_run_files(self.dir / "runs" / name)
        self._run_problems = [p for p in self._run_problems if not p.path.startswith(str(self.dir / "runs" / name) + os.sep)]
        self._run_problems += files.problems
        scanner = self._scanners.get(name)
        if scanner is None:
            scanner = self._scanners[name] = RunLogScanner(files.log_path)
        log = scanner.scan() if os.path.exists(files.log_path) else None

        def info_of(uid: str) -> StepInfo | None:
            info = self._record(uid)
            return None if info is None else self._live(info)

        return build_run(name, files, info_of, log, lambda: self._log_writer_alive(files.log_path))

    def _log_writer_alive(self, log_path: Path) -> bool | None:
        try:
            st = log_path.stat()
        except OSError:
            return None
        key = (str(log_path), st.st_ino, st.st_size, st.st_mtime_ns)
        # A log nobody writes stays that way until it changes, so the /proc walk is done once.
        # "Cannot tell" (other users' processes unreadable) is reused for a moment; "alive" is
        # always asked again, so a killed run shows as crashed at the next look.
        if key in self._dead_logs:
            return False
        unknown_since = self._unknown_logs.get(str(log_path))
        if unknown_since is not None and time.monotonic() - unknown_since < UNKNOWN_TTL:
            return None
        alive = open_for_writing_by_some_process(log_path)
        if alive is False:
            self._dead_logs.add(key)
        elif alive is None:
            self._unknown_logs[str(log_path)] = time.monotonic()
        return alive

    @_locked
    def registered_runs(self) -> dict[str, Run]:
        """All runs, ``{name: Run}``."""
        self._ensure_fresh()
        # Rebuilt from scratch, so problems of runs deleted meanwhile go too.
        self._run_problems = []
        return {name: self._build(name) for name in self.run_names()
                if os.path.isdir(self.dir / "runs" / name)}

    @_locked
    def search_registered_runs(self, *, sort_by: RunSort | None = None, sort_descending: bool = True,
                               match: str | None = None, start: int = 0, stop: int | None = None) -> list[Run]:
        """Runs whose name contains ``match``; runs outside the slice are not built when sorting by name."""
        names = self.run_names()
        if match:
            names = [n for n in names if match.lower() in n.lower()]
        if sort_by == RunSort.NAME:
            names.sort(reverse=sort_descending)
            self._ensure_fresh()
            return [self._build(n) for n in names[start:stop]]
        return super().search_registered_runs(sort_by=sort_by, sort_descending=sort_descending,
                                              match=match, start=start, stop=stop)

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
            step_names = [n for n, u in read_run_files(self.dir / "runs" / name).ids.items() if u == uid]
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

    def step_log_lines(self, run_name: str, step_name: str, *, limit: int | None = None) -> list[str]:
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
