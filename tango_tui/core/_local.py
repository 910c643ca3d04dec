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
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import ParseResult, parse_qs

from . import _step_locks as step_locks
from ._errors import RecordError, StepStateError, WorkspaceError
from ._format import (
    MARKER_FILE,
    TMP_PREFIX,
    WORKSPACE_FORMAT,
    Layout,
    read_record,
    write_record,
)
from ._local_cache import LocalStepCache
from ._local_output import OutputMixin
from ._local_runs import RunsMixin
from ._local_steps import TransitionsMixin
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
class LocalWorkspace(TransitionsMixin, RunsMixin, OutputMixin, Workspace):
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
    def _apply_liveness(self, info: StepInfo) -> StepInfo:
        # Only a running record needs (and pays for) a probe: started, neither ended nor failed
        # (StepInfo.state's RUNNING, without the property call: this runs once per listed step).
        if info.start_time is not None and info.end_time is None and info.error is None:
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
