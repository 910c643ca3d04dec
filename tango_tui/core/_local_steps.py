"""Step records and state transitions of a :class:`~tango_tui.core.LocalWorkspace`.

Mixed into ``LocalWorkspace``; uses its ``layout``, ``_cache`` (the :class:`LocalStepCache`),
``_cache_str`` (the cache directory as a string), ``_active``, ``_running``,
``_failed_in_finish`` and ``_writable``.

A transition is: take the step's flock, write the RUNNING record (owner, attempt, platform,
environment, log file), and at the end store the result (if cacheable) and only then write the
COMPLETED record, or write the FAILED record; the lock is released after the final record.

This is the hot path of a pipeline (one start and one finish per step), so it works on string
paths and makes only the system calls it needs. On ext4 a new file costs several times a rename
or a link, so new files are counted: a fresh step's start+finish makes five (the step directory,
its lock file, the RUNNING record, the result marker, the COMPLETED record) and one fsync (the
marker's, see ``_local_cache``), which is most of its cost: the journal commit it waits for also
carries whatever other processes wrote meanwhile. The lock file is its own inode, never a link
to a record: on NFS, flock is emulated by POSIX locks, which a process loses when it closes any
descriptor of the locked inode (as reading the record would).
"""

from __future__ import annotations

import contextlib
import logging
import os
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from . import _step_locks as step_locks
from ._environment import collect_environment, collect_platform
from ._errors import RecordError, StepStateError
from ._format import (
    CACHE_DIR,
    PROGRESS_FILE,
    STEP_FORMAT,
    STEP_LOCK,
    STEP_RECORD,
    Layout,
    read_record,
    write_record,
)
from ._liveness import current_owner
from ._local_cache import LocalStepCache
from ._model import StepInfo, StepState, utc_now
from ._names import step_uid

if TYPE_CHECKING:
    from ._step import Step

logger = logging.getLogger(__name__)
T = TypeVar("T")


class TransitionsMixin:
    """Reading and writing step records; ``step_starting``/``step_finished``/``step_failed``."""

    layout: Layout
    _cache: LocalStepCache
    _cache_str: str
    _active: dict[str, Path]
    _running: dict[str, StepInfo]
    _failed_in_finish: dict[str, BaseException]
    _writable: Any
    step_info: Any

    # ----- records ------------------------------------------------------------------------
    def _read_info(self, uid: str) -> StepInfo:
        """The stored record, without liveness (FileNotFoundError if absent)."""
        # A string path: this runs once per step in listings of thousands.
        path = f"{self._cache_str}/{uid}/{STEP_RECORD}"  # uid is one checked path component
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
        # made durable by LocalStepCache before the record is written.
        write_record(
            f"{self._cache_str}/{info.unique_id}/{STEP_RECORD}",
            STEP_FORMAT,
            {"step": info.to_json_dict()},
            fsync=fsync,
        )

    def _lock_path(self, uid: str) -> str:
        return f"{self._cache_str}/{uid}/{STEP_LOCK}"

    # ----- transitions --------------------------------------------------------------------
    def step_starting(self, step: Step) -> None:
        """Take the step's lock and record a new RUNNING attempt.

        Raises:
            StepStateError: If the step is running (its lock is held) or COMPLETED.
        """
        self._writable("start a step")
        uid = step_uid(step)
        step_dir = f"{self._cache_str}/{uid}"  # string paths: uid is one checked component
        lock_path = f"{step_dir}/{STEP_LOCK}"
        if step_locks.holds(lock_path):
            raise StepStateError(step, StepState.RUNNING, "it is already running in this process")
        made_dir = True  # this call made the step directory: nothing else can be in it
        try:
            os.mkdir(step_dir)
        except FileExistsError:
            made_dir = False
        except FileNotFoundError:  # the cache directory itself went away
            os.makedirs(step_dir, exist_ok=True)
            made_dir = False
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
            if active is not None:
                progress_dir = str(active.parent.parent)
            elif previous is None and made_dir:
                # A directory this call made holds no progress file: one is only written while
                # an attempt runs, and an attempt writes its record first (which would be there).
                progress_dir = None
            else:
                progress_dir = step_dir
            if progress_dir is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(progress_dir, PROGRESS_FILE))  # the previous attempt's
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
        return step_locks.holds(self._lock_path(uid))

    def _release(self, uid: str) -> None:
        self._running.pop(uid, None)
        step_locks.release(self._lock_path(uid))

    def _check_running_here(self, step: Step, uid: str, action: str) -> None:
        """Raise StepStateError unless this process is executing ``step``."""
        if not self._holds(uid):
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
        self._check_running_here(step, uid, "finish")
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
                    where = self._cache.store(step, stored)
                except BaseException as e:
                    self._record_failure(info, e)
                    self._failed_in_finish[uid] = e
                    raise
                info.result_location = f"{CACHE_DIR}/{uid}/{where}"
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
        self._check_running_here(step, uid, "fail")
        try:
            self._record_failure(self._running_info(step), e)
        finally:
            self._release(uid)
