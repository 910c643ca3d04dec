"""Turn a workspace directory into snapshot rows for the dashboard and the headless commands.

:func:`open_source` detects what a directory is and returns a :class:`WorkspaceSource`:

* ``"tango-tui"``: it has our marker ``tango-tui.json``; read by :class:`LocalReader` straight from
  the documented format (cheap, incremental listing);
* ``"tango1"``: a workspace written by ai2-tango 1.x (``settings.json``/``stepinfo.sqlite``, or
  ``cache/*/stepinfo.dill`` for the old layout), read through the read-only ``TangoWorkspace``;
* ``"empty"``: missing or empty: every refresh detects again, so runs show up once they appear;
* anything else raises :class:`NotAWorkspaceError` naming the path.

Nothing here writes to the workspace, and a broken record becomes a :class:`SourceProblem` while
the rest is still shown.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from ..core import _format as fmt
from ..core._errors import WorkspaceError
from ..core._model import Progress, StepInfo
from ._local_reader import LocalReader
from ._rows import NotAWorkspaceError, RunDetail, RunRow, SourceProblem, StepRow
from ._workspace_reader import WorkspaceReader

__all__ = [
    "NotAWorkspaceError",
    "RunDetail",
    "RunRow",
    "SourceProblem",
    "StepRow",
    "WorkspaceSource",
    "detect_kind",
    "open_source",
    "path_from_url",
]

logger = logging.getLogger(__name__)

_TANGO1_MARKERS = ("settings.json", "stepinfo.sqlite")
_SCAFFOLD = {fmt.RUNS_DIR, fmt.CACHE_DIR}


def path_from_url(path_or_url: str | os.PathLike[str]) -> Path:
    """The directory a path or ``local://`` / ``file://`` / ``tango1://`` URL names.

    Raises:
        NotAWorkspaceError: For another URL scheme (only local directories can be watched).
    """
    text = os.fspath(path_or_url)
    parsed = urlparse(text)
    # tango1:// is how the core names a Tango 1.x workspace: still a local directory.
    if parsed.scheme in ("local", "file", "tango1"):
        return Path(os.path.abspath(unquote(parsed.netloc + parsed.path)))
    if parsed.scheme and len(parsed.scheme) > 1 and "://" in text:
        raise NotAWorkspaceError(
            text, f"cannot watch a {parsed.scheme}:// workspace; give a local directory"
        )
    return Path(os.path.abspath(text))


def detect_kind(root: Path) -> str:
    """``"tango-tui"``, ``"tango1"`` or ``"empty"`` for ``root``.

    Raises:
        NotAWorkspaceError: ``root`` is a file, or a directory holding something else.
        WorkspaceError: ``root`` cannot be read, or its marker is unusable.
    """
    try:
        st = os.stat(root)
    except FileNotFoundError:
        return "empty"
    except OSError as e:
        raise WorkspaceError(root, f"cannot open: {e.strerror or e}") from None
    if not os.path.isdir(root):
        raise NotAWorkspaceError(root, "is a file, not a workspace directory")
    del st
    marker = root / fmt.MARKER_FILE
    if os.path.lexists(marker):
        fmt.read_record(marker, fmt.WORKSPACE_FORMAT)  # RecordError names the problem
        return "tango-tui"
    if any(os.path.lexists(root / m) for m in _TANGO1_MARKERS):
        return "tango1"
    try:
        names = sorted(os.listdir(root))
    except OSError as e:
        raise WorkspaceError(root, f"cannot list directory: {e.strerror or e}") from None
    if _has_v1_stepinfo(root / fmt.CACHE_DIR):
        return "tango1"
    visible = [n for n in names if not n.startswith(".")]
    if set(visible) <= _SCAFFOLD:
        return "empty"
    shown = ", ".join(visible[:5]) + (", ..." if len(visible) > 5 else "")
    raise NotAWorkspaceError(
        root,
        "not a tango-tui or Tango workspace (no tango-tui.json, settings.json or stepinfo.sqlite; "
        f"it holds: {shown})",
    )


def _has_v1_stepinfo(cache: Path) -> bool:
    try:
        with os.scandir(cache) as it:
            return any(os.path.lexists(os.path.join(e.path, "stepinfo.dill")) for e in it)
    except OSError:
        return False


class _EmptyReader:
    """Nothing there (yet)."""

    def __init__(self) -> None:
        self.problems: list[SourceProblem] = []

    def list_runs(self, changed: set[str] | None = None) -> list[RunRow]:
        return []

    def run_detail(self, name: str) -> RunDetail:
        raise KeyError(name)

    def step_info(self, uid: str, run: str | None = None) -> StepInfo:
        raise KeyError(uid)

    def step_progress(self, uid: str, run: str | None = None) -> Progress | None:
        return None


class WorkspaceSource:
    """Read-only snapshots of one workspace directory (see :func:`open_source`).

    Attributes:
        root: The workspace directory.
        kind: ``"tango-tui"``, ``"tango1"`` or ``"empty"`` (re-detected on every refresh while
            empty).
    """

    def __init__(self, root: Path, kind: str):
        self.root = root
        self.kind = kind
        self._reader: Any = self._make_reader(kind)
        self._workspace: Any = None
        self._extra: list[SourceProblem] = []

    def _make_reader(self, kind: str) -> Any:
        if kind == "tango-tui":
            return LocalReader(self.root)
        if kind == "tango1":
            from ..core.tango1 import TangoWorkspace

            return WorkspaceReader(TangoWorkspace(self.root), self.root)
        return _EmptyReader()

    @property
    def problems(self) -> list[SourceProblem]:
        """Records skipped in the last read, each with its path and problem."""
        return [*self._extra, *self._reader.problems]

    @property
    def workspace(self) -> Any:
        """A read-only :class:`~tango_tui.core.Workspace` on the directory (None while empty)."""
        if self._workspace is None:
            if self.kind == "tango-tui":
                from ..core._local import LocalWorkspace

                self._workspace = LocalWorkspace(self.root, read_only=True)
            elif self.kind == "tango1":
                self._workspace = self._reader.workspace
        return self._workspace

    def _redetect(self) -> None:
        if self.kind != "empty":
            try:
                os.stat(self.root)
                self._extra = []
                return
            except (FileNotFoundError, NotADirectoryError):
                pass  # gone: wait for it to come back
            except OSError as e:
                # Unreachable for now (a parent's permissions): say so, keep the kind.
                self._extra = [SourceProblem(str(self.root), e.strerror or str(e))]
                return
            self.kind, self._reader, self._workspace = "empty", _EmptyReader(), None
            return
        self._extra = []
        try:
            kind = detect_kind(self.root)
        except WorkspaceError as e:
            self._extra = [SourceProblem(e.path, e.problem)]
            return
        if kind != "empty":
            logger.info("%s is now a %s workspace", self.root, kind)
            self.kind, self._reader = kind, self._make_reader(kind)

    def list_runs(self) -> list[RunRow]:
        """Every run, newest first (one record read per changed run; no step records)."""
        return self.refresh_runs(None)

    def refresh_runs(self, changed_names: set[str] | None = None) -> list[RunRow]:
        """Like :meth:`list_runs`, looking again only at ``changed_names`` (None: everything,
        still reusing rows whose ``run.json`` stat is unchanged)."""
        self._redetect()
        return self._reader.list_runs(None if changed_names is None else set(changed_names))  # type: ignore[no-any-return]

    def newest_runs(self, k: int, min_runs: int = 0) -> list[RunRow] | None:
        """The first ``k`` rows :meth:`list_runs` will give, read before the others, so a big
        workspace's newest runs can be shown early; ``None`` if ``runs/`` has fewer than
        ``min_runs`` entries or this kind of workspace cannot tell them apart early. The rows
        read here are not read again by the next listing."""
        self._redetect()
        newest = getattr(self._reader, "newest_runs", None)
        return None if newest is None else newest(k, min_runs)

    def run_detail(self, name: str) -> RunDetail:
        """All steps of run ``name`` (targets and dependencies), dependencies first.

        Raises:
            KeyError: If there is no such run.
        """
        self._redetect()
        return self._reader.run_detail(name)  # type: ignore[no-any-return]

    def step_info(self, uid: str, run: str | None = None) -> StepInfo:
        """The full record of step ``uid`` (liveness applied).

        Raises:
            KeyError: If there is no record for ``uid``.
            RecordError: If the record exists but cannot be used.
        """
        return self._reader.step_info(uid, run)  # type: ignore[no-any-return]

    def step_progress(self, uid: str, run: str | None = None) -> Progress | None:
        """The latest progress report of step ``uid``, if any."""
        return self._reader.step_progress(uid, run)  # type: ignore[no-any-return]


def open_source(path_or_url: str | os.PathLike[str]) -> WorkspaceSource:
    """Open the workspace at a path or ``local://`` URL for reading, whatever wrote it.

    Raises:
        NotAWorkspaceError: The path is a file or a directory of something else.
        WorkspaceError: It cannot be read, or its marker is unusable (e.g. a newer format).
    """
    root = path_from_url(path_or_url)
    kind = detect_kind(root)
    return WorkspaceSource(root, kind)
