"""The run listing of a tango-tui workspace: one small read per run, reused while unchanged.

Cold, each run costs one ``open`` + ``fstat`` + ``read`` of its ``run.json`` and the decoding of
the record's head (the writer puts a ``counts`` summary before the per-step rows; an older record
is decoded whole). No per-step object, no per-step date, no liveness probe for a settled run, no
``stat`` of the run directory. Warm, each run costs one ``stat`` of its ``run.json``, and the
record is read again only if that changed.

Every entry of ``runs/`` is looked at: one that is not a run directory (a file, a dangling or
looping symlink) is a :class:`SourceProblem` naming it, as the library warns about it.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import heapq
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from ..core import _format as fmt
from ..core._errors import RecordError, WorkspaceError
from ..core._liveness import owner_is_alive
from ..core._model import RunStatus, StepState
from ._activity import activity_for
from ._last_seen import last_sign_of_life
from ._plan import RunRecord, newest_first, summarize_run
from ._rows import RunRow, SourceProblem
from ._snapshot import StatKey

_FINAL = {StepState.COMPLETED, StepState.FAILED, StepState.UNCACHEABLE}
_NO_RECORD = "run directory has no run.json"


def _child(parent: Path, name: str) -> Path:
    """``parent / name`` for a plain file name: pathlib's private shortcut skips re-parsing the
    parent, a fifth of the cost of a cold 10,000-run listing's row building (public fallback)."""
    make = getattr(parent, "_make_child_relpath", None)
    return make(name) if make is not None else parent / name


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic collector while thousands of small acyclic records are built (it would
    run full collections over the growing heap again and again, and find nothing)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


PREVIEW_SLACK = 1.0
"""Seconds a run's start may seem later than its record's mtime (clock granularity, skew)."""

PREVIEW_MAX_READS = 2000
"""Most records :meth:`RunList.newest_rows` reads before giving up on an early first screen."""


class NotARunError(RecordError):
    """An entry of ``runs/`` that is not a run directory (a file, a dangling or looping link)."""


def read_record_bytes(path: str) -> tuple[StatKey, bytes]:
    """The stat key and bytes of ``path`` with one open, fstat and (usually) one read.

    Raises:
        OSError: As ``os.open``/``os.read`` raise it (IsADirectoryError for a directory).
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        want = st.st_size + 1  # one byte more than the size: a short read is the end
        parts = []
        while True:
            chunk = os.read(fd, want)
            parts.append(chunk)
            if len(chunk) < want:
                break
        return (st.st_ino, st.st_size, st.st_mtime_ns), b"".join(parts)
    finally:
        os.close(fd)


def record_error(run_dir: str, path: str, e: OSError) -> RecordError | None:
    """What an OSError reaching ``run_dir/run.json`` means (None: the run vanished)."""
    if isinstance(e, NotADirectoryError):
        return NotARunError(run_dir, "a file stands where a run directory belongs")
    if isinstance(e, IsADirectoryError):
        return RecordError(path, "is a directory where a record file belongs")
    if isinstance(e, PermissionError):
        return RecordError(path, "permission denied")
    link = os.path.islink(run_dir)
    if isinstance(e, FileNotFoundError):
        if link:
            return NotARunError(run_dir, "a dangling symlink stands where a run directory belongs")
        return RecordError(path, _NO_RECORD) if os.path.isdir(run_dir) else None
    if e.errno == errno.ELOOP and link:
        return NotARunError(run_dir, "a symlink loop stands where a run directory belongs")
    return RecordError(path, f"cannot read record: {e.strerror or e}")


class RunList:
    """Rows of every run of the workspace at ``root``, kept between calls.

    Attributes:
        problems: Entries skipped or incomplete in the last listing, with path and problem.
    """

    def __init__(self, root: Path):
        self.root = root
        self._runs_path = root / fmt.RUNS_DIR
        self.runs_dir = os.fspath(self._runs_path)
        self.problems: list[SourceProblem] = []
        self.activity = activity_for(root)
        self.activity.has_reader = True
        self._names: list[str] | None = None
        # name -> (stat of run.json, what it held)
        self._records: dict[str, tuple[StatKey, RunRecord | RecordError]] = {}
        # name -> (row, the record it was made from, whether its status depends on liveness)
        self._rows: dict[str, tuple[RunRow | None, RunRecord | RecordError | None, bool]] = {}
        self._crash_times: dict[str, tuple[StatKey, datetime | None]] = {}

    # ----- reading ---------------------------------------------------------------------------
    def record(self, name: str) -> RunRecord | RecordError | None:
        """Run ``name``'s summary (re-read only if ``run.json``'s stat changed); None if gone."""
        # Plain string joins: ``name`` is one component (a scandir entry or checked by callers).
        run_dir = f"{self.runs_dir}/{name}"
        path = f"{run_dir}/{fmt.RUN_RECORD}"
        hit = self._records.get(name)
        try:
            if hit is not None:
                st = os.stat(path)
                if hit[0] == (st.st_ino, st.st_size, st.st_mtime_ns):
                    return hit[1]
            key, raw = read_record_bytes(path)
        except OSError as e:
            err = record_error(run_dir, path, e)
            if err is None:
                self._records.pop(name, None)
            self.activity.forget(name)
            return err
        try:
            value: RunRecord | RecordError = summarize_run(path, raw)
        except RecordError as e:
            value = e
        self._records[name] = (key, value)
        if isinstance(value, RunRecord):
            settled = value.owner is None and value.status not in (None, RunStatus.RUNNING)
            self.activity.record(name, settled, key[2] / 1e9, key)  # type: ignore[index]
        else:
            self.activity.forget(name)
        return value

    def _scan(self) -> list[str]:
        try:
            with os.scandir(self.runs_dir) as it:
                return [e.name for e in it if not e.name.startswith(".")]
        except FileNotFoundError:
            return []
        except OSError as e:
            self.problems.append(SourceProblem(self.runs_dir, e.strerror or str(e)))
            return []

    # ----- rows ------------------------------------------------------------------------------
    def list_runs(self, changed: set[str] | None = None) -> list[RunRow]:
        """Rows of every run, newest first.

        With ``changed=None`` every entry of ``runs/`` is looked at (a record is re-read only if
        its stat changed); with a set of names only those are (new ones added, vanished ones
        dropped). Rows of runs whose status depends on liveness are re-checked every time.
        """
        self.problems = []
        if changed is None or self._names is None:
            self._names = self._scan()
            with _gc_paused():
                rows = [self._row(name) for name in self._names]
        else:
            names = set(self._names)
            for name in changed:
                if not name.startswith(".") and os.path.lexists(os.path.join(self.runs_dir, name)):
                    names.add(name)
                else:
                    names.discard(name)
                    self._rows.pop(name, None)
                    self._records.pop(name, None)
                    self.activity.forget(name)
            self._names = list(names)
            rows = [self._row(name, refresh=name in changed) for name in self._names]
        out = [r for r in rows if r is not None]
        out.sort(key=newest_first)
        self.activity.listed.set()  # the watcher may now walk the run directories
        return out

    def newest_rows(self, k: int, min_runs: int = 0) -> list[RunRow] | None:
        """The ``k`` newest runs, exactly as :meth:`list_runs` would begin, read before the rest.

        Records are read in order of their ``run.json`` modification time, newest first, until
        no unread run can start later than the ``k``-th newest read so far (a record is written
        after its run's start; :data:`PREVIEW_SLACK` allows for clock granularity). What is read
        here is kept, so the full listing after it re-reads none of it. ``None`` if ``runs/``
        holds fewer than ``min_runs`` entries, or when :data:`PREVIEW_MAX_READS` records did not
        settle the order (runs started long before they were last written).
        """
        names = self._scan()
        if len(names) < max(min_runs, 1):
            return None
        base = self.runs_dir
        stamped = []
        for name in names:
            try:
                stamped.append((os.stat(f"{base}/{name}/{fmt.RUN_RECORD}").st_mtime, name))
            except OSError:
                continue  # no record to date it by: it comes with the full listing
        stamped.sort(reverse=True)
        rows: list[RunRow] = []
        starts: list[float] = []  # the k latest starts read so far (a min-heap)
        with _gc_paused():
            for i, (_mtime, name) in enumerate(stamped):
                if i >= PREVIEW_MAX_READS:
                    return None
                row = self._row(name)
                if row is not None:
                    rows.append(row)
                    heapq.heappush(starts, row.start_date.timestamp())
                    if len(starts) > k:
                        heapq.heappop(starts)
                nxt = stamped[i + 1][0] if i + 1 < len(stamped) else None
                if len(starts) == k and (nxt is None or starts[0] > nxt + PREVIEW_SLACK):
                    break
        self.problems = []
        rows.sort(key=newest_first)
        return rows[:k]

    def run_row(self, name: str) -> RunRow:
        """The row of one run (re-read if its record changed).

        Raises:
            KeyError: If there is no such run.
            WorkspaceError: If ``runs/<name>`` cannot be reached or is not a run directory.
        """
        run_dir = os.path.join(self.runs_dir, name)
        try:
            os.stat(run_dir)
        except (FileNotFoundError, NotADirectoryError):
            if os.path.islink(run_dir):
                raise NotARunError(
                    run_dir, "a dangling symlink stands where a run directory belongs"
                ) from None
            raise KeyError(name) from None
        except OSError as e:
            raise WorkspaceError(run_dir, e.strerror or str(e)) from None
        row = self._row(name)
        if row is None:
            rec = self.record(name)
            if isinstance(rec, RecordError):
                raise rec
            raise KeyError(name)
        return row

    def _row(self, name: str, refresh: bool = True) -> RunRow | None:
        cached = self._rows.get(name)
        if refresh or cached is None:
            rec = self.record(name)
            if cached is None or cached[1] is not rec:
                row = self._make_row(name, rec)
                cached = self._rows[name] = (row, rec, self._liveness_dependent(rec))
        row, rec, live = cached
        if isinstance(rec, RecordError) and (row is None or rec.problem != _NO_RECORD):
            self.problems.append(SourceProblem(str(rec.path), rec.problem))
        if live and row is not None:
            row.status = self._run_status(rec)  # type: ignore[arg-type]
            row.counts = self._counts(rec, row.status)  # type: ignore[arg-type]
        if row is not None and row.status == RunStatus.CRASHED and row.end_date is None:
            row.last_seen = self._crash_seen(name, row.last_seen)
        return row

    def _crash_seen(self, name: str, record_mtime: datetime | None) -> datetime | None:
        """When a crashed run's process last wrote anything (see :mod:`._last_seen`), cached
        while its record's stat stays the same (a dead run's files no longer change)."""
        hit = self._records.get(name)
        key = hit[0] if hit else None
        cached = self._crash_times.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
        when = last_sign_of_life(os.path.dirname(self.runs_dir), name)
        seen = datetime.fromtimestamp(when, UTC) if when is not None else record_mtime
        self._crash_times[name] = (key, seen)
        return seen

    @staticmethod
    def _liveness_dependent(rec: object) -> bool:
        return (
            isinstance(rec, RunRecord)
            and rec.owner is not None
            and (rec.status in (None, RunStatus.RUNNING) and not (rec.end_date and rec.status))
        )

    @staticmethod
    def _counts(rec: RunRecord, status: RunStatus) -> dict[StepState, int]:
        counts = dict(rec.state_counts)
        if status == RunStatus.CRASHED and counts.get(StepState.RUNNING):
            counts[StepState.CRASHED] = counts.get(StepState.CRASHED, 0) + counts.pop(
                StepState.RUNNING
            )
        return counts

    def _make_row(self, name: str, rec: RunRecord | RecordError | None) -> RunRow | None:
        if isinstance(rec, NotARunError):
            return None
        log = _child(_child(self._runs_path, name), fmt.RUN_LOG)
        if isinstance(rec, RunRecord):
            status = self._run_status(rec)
            hit = self._records.get(name)
            stat = hit[0] if hit else None
            seen = datetime.fromtimestamp(stat[2] / 1e9, UTC) if stat else None  # its mtime
            return RunRow(
                name,
                rec.start_date,
                rec.end_date,
                status,
                self._counts(rec, status),
                rec.n_plan or len(rec.targets),
                log,
                None,
                rec.targets,
                seen,
            )
        if rec is None:
            return None  # vanished since it was listed
        try:
            start = datetime.fromtimestamp(
                os.lstat(os.path.join(self.runs_dir, name)).st_mtime, UTC
            )
        except OSError:
            start = datetime.fromtimestamp(0, UTC)
        return RunRow(name, start, None, RunStatus.INCOMPLETE, {}, 0, log, str(rec.problem))

    @staticmethod
    def _run_status(rec: RunRecord) -> RunStatus:
        if rec.end_date is not None and rec.status is not None:
            return rec.status
        if rec.status is not None and rec.status != RunStatus.RUNNING:
            return rec.status
        if rec.owner is not None:
            alive = owner_is_alive(rec.owner)
            return RunStatus.CRASHED if alive is False else RunStatus.RUNNING
        # Registered without an executor: derive from the steps as last recorded.
        counts = rec.state_counts
        if counts.get(StepState.RUNNING):
            return RunStatus.RUNNING
        if counts.get(StepState.FAILED):
            return RunStatus.FAILED
        if rec.n_plan and sum(counts.get(s, 0) for s in _FINAL) == rec.n_plan:
            return RunStatus.COMPLETED
        return RunStatus.INCOMPLETE
