"""Per-execution output of a :class:`~tango_tui.core.LocalWorkspace`: step logs and progress.

Mixed into ``LocalWorkspace``; uses its ``layout``, ``_active`` (uid -> log file of the capture
active in this process), ``_read_info``/``_write_info`` and ``_writable``.

A step's attempt log is ``cache/<uid>/logs/NNN.log`` (``runs/<run>/steps/<uid>/logs/NNN.log`` for
an uncacheable step run as part of a run). ``NNN`` is a fresh number claimed with ``O_EXCL``, so a
rerun never reuses (or truncates) an earlier attempt's file. ``progress.json`` sits next to the
``logs/`` directory of the attempt.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._errors import RecordError
from ._format import LOGS_DIR, PROGRESS_FILE, PROGRESS_FORMAT, Layout, read_record, write_record
from ._logs import capture_output
from ._model import Progress
from ._names import is_component, step_uid, validate_run_name
from ._run_records import list_dir_names

if TYPE_CHECKING:
    from ._step import Step

logger = logging.getLogger(__name__)

_LOG_NAME = re.compile(r"^(\d+)\.log$")


class OutputMixin:
    """Step log capture and progress records for LocalWorkspace."""

    dir: Path
    layout: Layout
    _active: dict[str, Path]
    _read_info: Any
    _write_info: Any
    _running_info: Any
    _writable: Any
    _holds: Any

    def _new_log_file(self, logs_dir: Path, floor: int) -> Path:
        numbers = [int(m.group(1)) for n in list_dir_names(logs_dir) if (m := _LOG_NAME.match(n))]
        n = max([floor, *numbers]) + 1
        while True:
            path = logs_dir / f"{n:03d}.log"
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
                return path
            except FileExistsError:
                n += 1

    @contextlib.contextmanager
    def _log_context(self, step: Step, run_name: str | None) -> Iterator[None]:
        uid = step_uid(step)
        if step.cache_results or run_name is None:
            base = self.layout.step_dir(uid)
        else:
            validate_run_name(run_name)
            if not self.layout.run_dir(run_name).is_dir():
                raise KeyError(f"no run {run_name!r} in workspace {self.dir}")
            base = self.layout.run_step_dir(run_name, uid)
        logs_dir = base / LOGS_DIR
        logs_dir.mkdir(parents=True, exist_ok=True)
        floor = 0
        with contextlib.suppress(FileNotFoundError, RecordError):
            floor = self._read_info(uid).attempt
        path = self._new_log_file(logs_dir, floor)
        previous = self._active.get(uid)
        self._active[uid] = path
        if self._holds(uid):  # entered after step_starting: point the record here
            with contextlib.suppress(OSError, RecordError):
                info = self._running_info(step)
                info.log_file = self.layout.relative(path)
                self._write_info(info, fsync=False)
        try:
            with capture_output(path):
                yield
        finally:
            if previous is None:
                self._active.pop(uid, None)
            else:
                self._active[uid] = previous
            self._drop_if_unused(uid, path)

    def _drop_if_unused(self, uid: str, path: Path) -> None:
        """Remove an empty attempt log that no record points at (nothing ran, e.g. cached)."""
        try:
            if path.stat().st_size != 0:
                return
            try:
                recorded = self._read_info(uid).log_file
            except (FileNotFoundError, RecordError):
                recorded = None
            if recorded != self.layout.relative(path):
                path.unlink()
        except OSError:
            pass

    def step_log_context(
        self, step: Step, run_name: str | None = None
    ) -> contextlib.AbstractContextManager[None]:
        """Capture one execution's logging and stdout/stderr into a new per-attempt log file.

        The file is ``cache/<uid>/logs/NNN.log`` (``runs/<run>/steps/<uid>/logs/NNN.log`` for an
        uncacheable step run as part of ``run_name``), line-buffered; earlier attempts' files stay.
        """
        self._writable("capture step logs")
        return self._log_context(step, run_name)

    def _progress_path(self, uid: str) -> Path:
        active = self._active.get(uid)
        if active is not None:
            return active.parent.parent / PROGRESS_FILE
        with contextlib.suppress(FileNotFoundError, RecordError):
            log_file = self._read_info(uid).log_file
            if log_file:
                return self.layout.resolve(log_file).parent.parent / PROGRESS_FILE
        return self.layout.step_progress(uid)

    def report_progress(self, step: Step, progress: Progress) -> None:
        """Write ``progress.json`` of the running attempt (atomic, not fsynced; errors are logged)."""
        self._writable("report progress")
        uid = step_uid(step)
        path = self._progress_path(uid)
        try:
            write_record(path, PROGRESS_FORMAT, {"progress": progress.to_json_dict()}, fsync=False)
        except OSError as e:
            logger.warning("could not write progress of step %s to %s: %s", uid, path, e)

    def step_progress(self, step_or_unique_id: Step | str) -> Progress | None:
        """The latest progress the step reported, or None (none yet, or unreadable)."""
        uid = (
            step_or_unique_id if isinstance(step_or_unique_id, str) else step_or_unique_id.unique_id
        )
        if not is_component(uid):
            return None
        path = self._progress_path(uid)
        try:
            doc = read_record(path, PROGRESS_FORMAT)
            return Progress.from_json_dict(doc.get("progress"))  # type: ignore[arg-type]
        except (FileNotFoundError, RecordError, TypeError, ValueError) as e:
            logger.debug("no usable progress for step %s at %s: %s", uid, path, e)
            return None
