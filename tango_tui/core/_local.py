"""The :class:`LocalWorkspace`: a directory shared by every process (and machine) using it.

The layout is documented in :mod:`tango_tui.core._format`. The rules that make it safe:

* every record is replaced atomically (``write_record``), so a reader never sees a torn one;
* a step executes only while its process holds the flock on ``cache/<uid>/lock`` (taken before the
  RUNNING record is written, released after the final record), so a reader can tell a dead
  attempt (``CRASHED``) from a live one, and the step can start again;
* a result is published (``result.json``) before the COMPLETED record, never after;
* ``read_only=True`` writes nothing at all: every mutating method raises :class:`WorkspaceError`.

Liveness: a RUNNING record is shown CRASHED (``StepInfo.crashed`` says why) when its owner is on
this host and its pid is gone (or recycled, or the machine rebooted), when its owner is alive
here but no longer holds the step's lock (an abandoned attempt), or when its owner is on another
host and nobody holds the lock (NFS clusters).

Opening: a missing directory is created (refused in read-only mode); a directory holding files
but no ``tango-tui.json`` is refused as "not a tango-tui workspace" (a Tango 1.x workspace is read
by :mod:`tango_tui.core.tango1`, not here); an empty directory is fine.

URL: ``local:///abs/path`` (``local://rel/path`` is relative to the current directory, as Tango
reads it; a plain path works too). ``?read_only=true`` opens read-only. In the URL ``%``, ``?``
and ``#`` of the path are percent-encoded; nothing else is.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import shutil
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import ParseResult, parse_qs

from . import _step_locks as step_locks
from ._environment import collect_environment, collect_platform
from ._errors import RecordError, StepStateError, WorkspaceError
from ._format import (
    MARKER_FILE,
    PROGRESS_FILE,
    STEP_FORMAT,
    STEP_RECORD,
    TMP_PREFIX,
    WORKSPACE_FORMAT,
    Layout,
    read_record,
    write_record,
)
from ._liveness import current_owner
from ._local_cache import LocalStepCache
from ._local_output import OutputMixin
from ._local_runs import RunsMixin
from ._model import StepInfo, StepState, dt_to_json, utc_now
from ._names import is_component, step_uid
from ._run_records import list_dir_names
from ._workspace import StepInfoSort, Workspace, select_step_infos

if TYPE_CHECKING:
    from ._step import Step

logger = logging.getLogger(__name__)
T = TypeVar("T")

_URL_ESCAPES = re.compile(r"%(25|3[Ff]|23)")  # the only escapes ``url`` makes: % ? #


def _open_local(path: str, read_only: bool) -> LocalWorkspace:
    return LocalWorkspace(path, read_only=read_only)


@Workspace.register("local")
class LocalWorkspace(RunsMixin, OutputMixin, Workspace):
    """A workspace in a local (or NFS) directory.

    Args:
        dir: The workspace directory. Created (with its marker) unless ``read_only``.
        read_only: Never create or write anything (for viewers such as the dashboard); every
            mutating method raises :class:`WorkspaceError`. Works on a read-only mount.

    Raises:
        WorkspaceError: The directory is missing (read-only), is not a directory, or holds files
            but is not a tango-tui workspace.
        RecordError: Its marker is damaged or of a newer format version.
    """

    def __init__(self, dir: str | os.PathLike[str], *, read_only: bool = False):
        self.dir = Path(os.path.abspath(os.path.expanduser(os.fspath(dir))))
        self.read_only = read_only
        self.layout = Layout(self.dir)
        self._cache = LocalStepCache(self.layout.cache_dir)
        self._cache_str = str(self.layout.cache_dir)
        self._active: dict[str, Path] = {}  # uid -> log file of the capture active in this process
        self._failed_in_finish: dict[str, BaseException] = {}
        # The RUNNING record of each step this object started (saves a re-read at the end).
        self._running: dict[str, StepInfo] = {}
        self._open()

    # ----- opening ------------------------------------------------------------------------
    def _open(self) -> None:
        root = self.dir
        if os.path.lexists(root) and not root.is_dir():
            raise WorkspaceError(root, "is not a directory")
        if self.read_only:
            if not root.exists():
                raise WorkspaceError(root, "workspace directory does not exist")
            self._check_marker(create=False)
            return
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise WorkspaceError(
                root, f"cannot create the workspace directory: {e.strerror or e}"
            ) from None
        self._check_marker(create=True)
        for sub in (self.layout.cache_dir, self.layout.runs_dir):
            try:
                sub.mkdir(exist_ok=True)
            except FileExistsError:
                raise WorkspaceError(sub, "a file stands where a directory belongs") from None
            except OSError as e:
                raise WorkspaceError(sub, f"cannot create directory: {e.strerror or e}") from None

    def _check_marker(self, *, create: bool) -> None:
        marker = self.layout.marker
        try:
            read_record(marker, WORKSPACE_FORMAT)
            return
        except FileNotFoundError:
            pass
        try:
            entries = [n for n in os.listdir(self.dir) if not n.startswith(TMP_PREFIX)]
        except PermissionError:
            raise WorkspaceError(self.dir, "permission denied") from None
        if entries and MARKER_FILE not in entries:
            raise WorkspaceError(
                self.dir, f"not a tango-tui workspace (it holds files but no {MARKER_FILE})"
            )
        if MARKER_FILE in entries:  # appeared meanwhile (another process created the workspace)
            read_record(marker, WORKSPACE_FORMAT)
            return
        if create:
            write_record(marker, WORKSPACE_FORMAT, {"created": dt_to_json(utc_now())})

    def _writable(self, what: str) -> None:
        if self.read_only:
            raise WorkspaceError(self.dir, f"workspace is open read-only: cannot {what}")

    # ----- URLs and identity --------------------------------------------------------------
    @classmethod
    def from_parsed_url(cls, parsed_url: ParseResult) -> LocalWorkspace:
        """``local:///abs``, ``local://rel`` (relative to cwd), or a plain path; ``?read_only=true``."""
        path = (parsed_url.netloc or "") + (parsed_url.path or "")
        path = _URL_ESCAPES.sub(lambda m: chr(int(m.group(1), 16)), path)
        if not path:
            raise ValueError(f"local workspace URL has no path: {parsed_url.geturl()!r}")
        query = parse_qs(parsed_url.query)
        read_only = query.get("read_only", ["false"])[-1].lower() in ("1", "true", "yes")
        return cls(path, read_only=read_only)

    @property
    def url(self) -> str:
        """``local:///abs/path`` (plus ``?read_only=true`` when read-only)."""
        path = str(self.dir).replace("%", "%25").replace("?", "%3F").replace("#", "%23")
        return f"local://{path}" + ("?read_only=true" if self.read_only else "")

    def __repr__(self) -> str:
        return f"LocalWorkspace({str(self.dir)!r}{', read_only=True' if self.read_only else ''})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Worker processes reopen the directory rather than copying in-process state.
        return (_open_local, (str(self.dir), self.read_only))

    @property
    def step_cache(self) -> LocalStepCache:
        """The :class:`LocalStepCache` in ``cache/``."""
        return self._cache

    # ----- step records -------------------------------------------------------------------
    def _read_info(self, uid: str) -> StepInfo:
        """The stored record, without liveness (FileNotFoundError if absent)."""
        # A string path: this runs once per step in listings of thousands.
        path = os.path.join(self._cache_str, uid, STEP_RECORD)
        doc = read_record(path, STEP_FORMAT)
        try:
            info = StepInfo.from_json_dict(doc.get("step"))  # type: ignore[arg-type]
        except (TypeError, ValueError) as e:
            raise RecordError(path, f"step record is malformed: {e}") from None
        if info.unique_id != uid:
            raise RecordError(path, f"step record is for {info.unique_id!r}, not {uid!r}")
        return info

    def _write_info(self, info: StepInfo, *, fsync: bool = False) -> None:
        # Step records are not fsynced: ``write_record``'s rename already keeps a torn record from
        # ever being seen, and no guarantee needs a record to survive a power cut. A lost RUNNING,
        # FAILED or COMPLETED record reads as the attempt before it, or as a RUNNING attempt of a
        # dead owner (CRASHED, another boot id); a result stored before a lost COMPLETED record is
        # adopted by the next run. What must survive (the result before its COMPLETED record) is
        # fsynced by LocalStepCache before the record is written.
        write_record(
            self.layout.step_record(info.unique_id),
            STEP_FORMAT,
            {"step": info.to_json_dict()},
            fsync=fsync,
        )

    def _apply_liveness(self, info: StepInfo) -> StepInfo:
        if info.state is StepState.RUNNING:  # only a running record needs (and pays for) a probe
            info.crashed = step_locks.crashed_reason(info, self.layout.step_lock(info.unique_id))
        return info

    def step_info(self, step_or_unique_id: Step | str) -> StepInfo:
        """The step's record, with liveness applied (a dead RUNNING attempt shows CRASHED).

        Raises:
            KeyError: For an unknown unique id (a Step never seen gives a fresh INCOMPLETE record).
            RecordError: If the record exists but is damaged.
        """
        if isinstance(step_or_unique_id, str):
            step, uid = None, step_or_unique_id
        else:
            step, uid = step_or_unique_id, step_uid(step_or_unique_id)
        if not is_component(uid):
            raise KeyError(f"not a valid step unique id: {uid!r}")
        try:
            info = self._read_info(uid)
        except FileNotFoundError:
            if step is None:
                raise KeyError(f"no step {uid!r} in workspace {self.dir}") from None
            return step.make_step_info()
        return self._apply_liveness(info)

    # ----- transitions --------------------------------------------------------------------
    def step_starting(self, step: Step) -> None:
        """Take the step's lock and record a new RUNNING attempt.

        Raises:
            StepStateError: If the step is running (its lock is held) or COMPLETED.
        """
        self._writable("start a step")
        uid = step_uid(step)
        lock_path = self.layout.step_lock(uid)
        if step_locks.holds(lock_path):
            raise StepStateError(step, StepState.RUNNING, "it is already running in this process")
        self.layout.step_dir(uid).mkdir(parents=True, exist_ok=True)
        lock = step_locks.try_acquire(lock_path)
        if lock is None:
            who = ""
            with contextlib.suppress(OSError, RecordError):
                owner = self._read_info(uid).owner
                if owner is not None:
                    who = f" (pid {owner.pid} on host {owner.host})"
            raise StepStateError(step, StepState.RUNNING, f"another process is running it{who}")
        try:
            previous = self._previous_attempt(uid)
            if previous is not None and previous.state is StepState.COMPLETED:
                raise StepStateError(step, StepState.COMPLETED, "it has already completed")
            info = step.make_step_info()
            info.attempt = (previous.attempt if previous is not None else 0) + 1
            info.start_time = utc_now()
            info.owner = current_owner()
            info.platform = collect_platform()
            info.environment = collect_environment()
            active = self._active.get(uid)
            info.log_file = self.layout.relative(active) if active is not None else None
            progress_dir = active.parent.parent if active is not None else self.layout.step_dir(uid)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(progress_dir / PROGRESS_FILE)  # the previous attempt's
            # Not fsynced (see _write_info): after a power cut, losing a RUNNING record only means
            # the step reads as not started, which is true enough (its process is gone too).
            self._write_info(info)
        except BaseException:
            lock.release()
            raise
        self._failed_in_finish.pop(uid, None)
        self._running[uid] = info
        step_locks.remember(lock_path, lock)

    def _previous_attempt(self, uid: str) -> StepInfo | None:
        # Called with the lock held: whatever the record says, nobody else is executing the step.
        try:
            return self._read_info(uid)
        except FileNotFoundError:
            return None
        except RecordError as e:
            logger.warning("replacing a damaged step record: %s", e)
            return None

    def _holds(self, uid: str) -> bool:
        """Whether this process is executing the step (holds its lock)."""
        return step_locks.holds(self.layout.step_lock(uid))

    def _release(self, uid: str) -> None:
        self._running.pop(uid, None)
        step_locks.release(self.layout.step_lock(uid))

    def _check_running_here(self, step: Step, action: str) -> None:
        """Raise StepStateError unless this process is executing ``step``."""
        if not self._holds(step_uid(step)):
            info = self.step_info(step)
            context = f"cannot {action} a step that is not running"
            if info.state is StepState.RUNNING:
                context = f"cannot {action} a step another process is running"
            raise StepStateError(step, info.state, context)

    def _running_info(self, step: Step) -> StepInfo:
        """The RUNNING record of a step this process executes (called with its lock held)."""
        uid = step_uid(step)
        info = self._running.get(uid)
        if info is not None:
            return info
        try:  # started through another LocalWorkspace object of this process
            return self._read_info(uid)
        except (OSError, RecordError) as e:
            logger.warning("step %s: its running record is unreadable (%s); rewriting it", uid, e)
            info = step.make_step_info()
            info.start_time, info.owner, info.attempt = utc_now(), current_owner(), 1
            return info

    def step_finished(self, step: Step, result: T) -> T:
        """Store the result (if cacheable), then record COMPLETED; returns the result.

        A failure while storing the result (disk full, I/O error, unpicklable value) records the
        step FAILED with that error and re-raises it: a step is never COMPLETED without its result.

        Raises:
            StepStateError: If this process is not running the step.
        """
        self._writable("finish a step")
        uid = step_uid(step)
        self._check_running_here(step, "finish")
        try:
            info = self._running_info(step)
            if step.cache_results:
                if isinstance(result, Iterator):
                    materialised = list(result)
                    result = iter(materialised)  # type: ignore[assignment]
                    stored: Any = materialised
                else:
                    stored = result
                try:
                    self._cache[step] = stored
                except BaseException as e:
                    self._record_failure(info, e)
                    self._failed_in_finish[uid] = e
                    raise
                info.result_location = self.layout.relative(self.layout.result_dir(uid))
            info.end_time = utc_now()
            try:
                self._write_info(info)
            except BaseException as e:
                self._record_failure(info, e)
                self._failed_in_finish[uid] = e
                raise
        finally:
            self._release(uid)
        return result

    def _record_failure(self, info: StepInfo, e: BaseException) -> None:
        info.end_time = utc_now()
        info.error = f"{type(e).__name__}: {e}"
        info.traceback = "".join(traceback.format_exception(type(e), e, e.__traceback__))
        info.result_location = None
        try:
            self._write_info(info)
        except OSError as e2:
            logger.error("could not record the failure of step %s: %s", info.unique_id, e2)

    def step_failed(self, step: Step, e: BaseException) -> None:
        """Record the error and traceback of a failed execution.

        Raises:
            StepStateError: If this process is not running the step.
        """
        self._writable("fail a step")
        uid = step_uid(step)
        if not self._holds(uid):
            # step_finished already recorded this very failure (e.g. ENOSPC storing the result).
            already = self._failed_in_finish.get(uid)
            if already is not None and (
                e is already or e.__cause__ is already or e.__context__ is already
            ):
                return
        self._check_running_here(step, "fail")
        try:
            self._record_failure(self._running_info(step), e)
        finally:
            self._release(uid)

    def remove_step(self, step_unique_id: str) -> None:
        """Remove a step's directory (record, result, logs, work dir).

        Raises:
            KeyError: For an unknown unique id.
            StepStateError: If the step is running.
        """
        self._writable("remove a step")
        uid = step_unique_id
        if not is_component(uid) or not self.layout.step_dir(uid).is_dir():
            raise KeyError(f"no step {uid!r} in workspace {self.dir}")
        with contextlib.suppress(FileNotFoundError, RecordError):
            info = self.step_info(uid)
            if info.state is StepState.RUNNING:
                raise StepStateError(uid, info.state, "cannot remove a running step")
        trash = self.layout.cache_dir / f"{TMP_PREFIX}removed.{uid}.{secrets.token_hex(4)}"
        os.rename(self.layout.step_dir(uid), trash)  # disappears at once for readers
        shutil.rmtree(trash, ignore_errors=True)

    def step_dir(self, step_or_unique_id: Step | str) -> Path:
        """``cache/<uid>/``: where a step's record, result, logs and work dir live (not created)."""
        uid = (
            step_or_unique_id if isinstance(step_or_unique_id, str) else step_uid(step_or_unique_id)
        )
        if not is_component(uid):
            raise KeyError(f"not a valid step unique id: {uid!r}")
        return self.layout.step_dir(uid)

    def work_dir(self, step: Step) -> Path:
        """``cache/<uid>/work/``: persistent, so a restarted step can resume from it."""
        self._writable("create a work directory")
        path = self.layout.step_work_dir(step_uid(step))
        path.mkdir(parents=True, exist_ok=True)
        return path

    # ----- step listing -------------------------------------------------------------------
    def _all_infos(self) -> list[StepInfo]:
        out = []
        for uid in list_dir_names(self.layout.cache_dir):
            try:
                out.append(self._apply_liveness(self._read_info(uid)))
            except FileNotFoundError:
                continue  # a directory without a record yet (work dir or log made before start)
            except RecordError as e:
                logger.warning("skipping step %r: %s", uid, e)
        return out

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
        """Step records whose unique id or name contains ``match`` (case-insensitive), in ``state``."""
        return select_step_infos(
            self._all_infos(),
            sort_by=sort_by,
            sort_descending=sort_descending,
            match=match,
            state=state,
            start=start,
            stop=stop,
        )
