"""The on-disk format of a local workspace: paths, versioned records, atomic writes.

Layout (``ROOT`` is the workspace directory)::

    ROOT/tango-tui.json                 {"format": "tango-tui.workspace", "version": 1}
    ROOT/cache/<uid>/step.json          the step's record (StepInfo), atomic
    ROOT/cache/<uid>/lock               flock held by the process executing the step
    ROOT/cache/<uid>/progress.json      progress of the running attempt (atomic, rate-limited)
    ROOT/cache/<uid>/logs/<NNN>.log     the step's own log, one file per attempt
    ROOT/cache/<uid>/work/              persistent work directory (``Workspace.work_dir``)
    ROOT/cache/<uid>/result/            the file (data.json, data.pkl) of a pickled or large result
    ROOT/cache/<uid>/result.json        completeness marker, written last (small JSON results inline)
    ROOT/runs/<name>/run.json           the run record (Run + a RunStep row per step), atomic
    ROOT/runs/<name>/out.log            the run's log (``capture_logs_for_run``)
    ROOT/runs/<name>/<step name>        relative symlink -> ../../cache/<uid>, one per target
    ROOT/runs/<name>/steps/<uid>/       logs and progress of the run's uncacheable steps
    ROOT/latest                         relative symlink -> runs/<newest run>

Every JSON record is an object with ``"format"`` and ``"version"`` keys; a reader refuses an
unknown format or a newer version with a :class:`RecordError` naming the path. Every record is
version 1, except result markers holding their result inline (version 2, ``NEWEST_VERSIONS``).
Records are written to a uniquely named temporary file in the same directory, then
``os.replace``-d over the old one, so a reader sees the old record or the new one, never a torn
one (the rename alone gives that). The file is fsynced only where a record must survive a power
cut (result markers, after their rename; run registration); step records are not (see
``LocalWorkspace._write_info``).

A monitor learns what changed from file events alone: ``runs/`` gains a directory per new run,
``run.json`` is replaced on each run-level change, ``cache/<uid>/step.json`` on each step
transition, and logs only grow (a new attempt is a new file).
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._errors import RecordError

FORMAT_VERSION = 1
"""The version of the records this code writes, unless ``NEWEST_VERSIONS`` says otherwise."""

WORKSPACE_FORMAT = "tango-tui.workspace"
STEP_FORMAT = "tango-tui.step"
RUN_FORMAT = "tango-tui.run"
RESULT_FORMAT = "tango-tui.result"
PROGRESS_FORMAT = "tango-tui.progress"

NEWEST_VERSIONS = {RESULT_FORMAT: 2}
"""Per record kind, the newest version this code reads (and may write), where it is not 1.

Result markers (``tango-tui.result``) are version 2 when they carry a small result inline
(``"inline"``) instead of naming a file in ``result/``; file-backed markers are still written as
version 1, so older tango-tui versions read them, and refuse an inline one by its version."""

MARKER_FILE = "tango-tui.json"
CACHE_DIR = "cache"
RUNS_DIR = "runs"
LATEST_LINK = "latest"
STEP_RECORD = "step.json"
STEP_LOCK = "lock"
PROGRESS_FILE = "progress.json"
LOGS_DIR = "logs"
WORK_DIR = "work"
RESULT_DIR = "result"
RESULT_MARKER = "result.json"
RUN_RECORD = "run.json"
RUN_LOG = "out.log"
RUN_STEPS_DIR = "steps"
TMP_PREFIX = ".tmp-"


class Layout:
    """Where each file of a local workspace lives. Pure path arithmetic: touches nothing."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    @property
    def marker(self) -> Path:
        """The workspace marker file."""
        return self.root / MARKER_FILE

    @property
    def cache_dir(self) -> Path:
        """Directory holding one subdirectory per step."""
        return self.root / CACHE_DIR

    @property
    def runs_dir(self) -> Path:
        """Directory holding one subdirectory per run."""
        return self.root / RUNS_DIR

    @property
    def latest(self) -> Path:
        """Symlink to the newest run's directory."""
        return self.root / LATEST_LINK

    def step_dir(self, unique_id: str) -> Path:
        """A step's directory in the cache."""
        return self.cache_dir / unique_id

    def step_record(self, unique_id: str) -> Path:
        """A step's record (StepInfo)."""
        return self.step_dir(unique_id) / STEP_RECORD

    def step_lock(self, unique_id: str) -> Path:
        """The lock file held while the step executes."""
        return self.step_dir(unique_id) / STEP_LOCK

    def step_progress(self, unique_id: str) -> Path:
        """Progress of a cacheable step's running attempt."""
        return self.step_dir(unique_id) / PROGRESS_FILE

    def step_logs_dir(self, unique_id: str) -> Path:
        """Directory of a cacheable step's per-attempt logs."""
        return self.step_dir(unique_id) / LOGS_DIR

    def step_log(self, unique_id: str, attempt: int) -> Path:
        """A cacheable step's log for one attempt."""
        return self.step_logs_dir(unique_id) / f"{attempt:03d}.log"

    def step_work_dir(self, unique_id: str) -> Path:
        """A step's persistent work directory."""
        return self.step_dir(unique_id) / WORK_DIR

    def result_dir(self, unique_id: str) -> Path:
        """Directory holding a step's result files."""
        return self.step_dir(unique_id) / RESULT_DIR

    def result_marker(self, unique_id: str) -> Path:
        """Written after the result: its presence means the result is whole."""
        return self.step_dir(unique_id) / RESULT_MARKER

    def run_dir(self, name: str) -> Path:
        """A run's directory."""
        return self.runs_dir / name

    def run_record(self, name: str) -> Path:
        """A run's record."""
        return self.run_dir(name) / RUN_RECORD

    def run_log(self, name: str) -> Path:
        """A run's log."""
        return self.run_dir(name) / RUN_LOG

    def run_step_dir(self, name: str, unique_id: str) -> Path:
        """Where a run keeps logs and progress of an uncacheable step."""
        return self.run_dir(name) / RUN_STEPS_DIR / unique_id

    def relative(self, path: str | os.PathLike[str]) -> str:
        """``path`` relative to the workspace root, as stored in records."""
        return os.path.relpath(os.fspath(path), self.root)

    def resolve(self, relative: str) -> Path:
        """The absolute path of a path stored relative to the root (refuses escapes)."""
        candidate = (self.root / relative).resolve()
        root = self.root.resolve()
        if candidate != root and root not in candidate.parents:
            raise RecordError(self.root / relative, "path escapes the workspace directory")
        return candidate


class _Process:
    """This process's pid and a random token, kept across calls (``os.getpid`` is a system call
    on current glibc, and a fresh random token another); a forked child renews both."""

    pid = os.getpid()
    token = secrets.token_hex(4)
    serial = itertools.count()

    @classmethod
    def renew(cls) -> None:
        cls.pid = os.getpid()
        cls.token = secrets.token_hex(4)
        cls.serial = itertools.count()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_Process.renew)


def this_pid() -> int:
    """``os.getpid()``, without a system call (renewed in a forked child)."""
    return _Process.pid


def tmp_path(head: str, name: str) -> str:
    """A temporary name next to ``name`` in directory ``head``, unique among every process and
    host sharing the directory: ``.tmp-<name>.<pid>.<random token of this process><serial>``."""
    return os.path.join(
        head, f"{TMP_PREFIX}{name}.{_Process.pid}.{_Process.token}{next(_Process.serial)}"
    )


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` so that readers see the old content or the new, never a mix.

    The data goes to a uniquely named temporary file in the same directory, is flushed (and
    fsynced unless ``fsync=False``), then renamed over ``path``. On any error the temporary file
    is removed and the old file is left untouched.
    """
    path = os.fspath(path)
    tmp = tmp_path(*os.path.split(path))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        try:
            write_all(fd, data)
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_new_file(path: str | os.PathLike[str], data: bytes, *, fsync: bool = False) -> None:
    """Create ``path`` (which must not exist) holding ``data``, for a name no reader looks at yet
    (a temporary name published later by ``link`` or a directory rename): no temporary of its own.
    On error the partial file is removed."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        try:
            write_all(fd, data)
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        try:
            os.unlink(path)
        except OSError:
            pass
        raise


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until all of ``data`` is written (a plain file takes it in one call)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


# json.dumps with arguments builds a new encoder per call; records are written per transition.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def dump_record(kind: str, body: dict[str, Any], *, version: int = FORMAT_VERSION) -> bytes:
    """Encode a record body under a versioned envelope."""
    doc: dict[str, Any] = {"format": kind, "version": version}
    doc.update(body)
    return _encode(doc).encode("utf-8")


def write_record(
    path: str | os.PathLike[str], kind: str, body: dict[str, Any], *, fsync: bool = True
) -> None:
    """Atomically write a versioned JSON record."""
    atomic_write_bytes(path, dump_record(kind, body), fsync=fsync)


# The decoder's own scanner (C), which ``json.loads`` calls after two whitespace matches.
_scan_once: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _loads_checked(path: str | os.PathLike[str], text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise RecordError(
            path, f"record is not valid JSON (torn or garbage): {e.msg} (byte {e.pos})"
        ) from None


def parse_record(path: str | os.PathLike[str], raw: bytes, kind: str) -> dict[str, Any]:
    """Decode and check a record read from ``path``.

    Raises:
        RecordError: empty, not UTF-8, not JSON, not an object, wrong format, newer version.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RecordError(path, "record is not UTF-8 text") from None
    try:
        # The scanner straight away: a record as written (an object, no surrounding space) is
        # decoded without json.loads' two whitespace matches; anything else takes the full path.
        doc, end = _scan_once(text, 0)
        if end != len(text):
            doc = json.loads(text)
    except StopIteration:  # not a JSON value at offset 0 (leading space, empty, garbage)
        if not text.strip():
            raise RecordError(path, "record is empty") from None
        doc = _loads_checked(path, text)
    except json.JSONDecodeError as e:
        raise RecordError(
            path, f"record is not valid JSON (torn or garbage): {e.msg} (byte {e.pos})"
        ) from None
    if not isinstance(doc, dict):
        raise RecordError(path, f"record is a JSON {type(doc).__name__}, not an object")
    fmt = doc.get("format")
    if fmt != kind:
        raise RecordError(path, f"record format is {fmt!r}, expected {kind!r}")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise RecordError(path, f"record has no integer version (got {version!r})")
    newest = NEWEST_VERSIONS.get(kind, FORMAT_VERSION)
    if version > newest:
        raise RecordError(
            path, f"record version {version} is newer than this tango-tui understands ({newest})"
        )
    if version < 1:
        raise RecordError(path, f"record version {version} is not a valid version")
    return doc


def read_file(path: str | os.PathLike[str]) -> bytes:
    """The whole content of a (small) file: open, read to the end, close; no buffered file object
    (which costs four more system calls per file, and listings read thousands of records)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunk = os.read(fd, _READ_SIZE)
        if len(chunk) < _READ_SIZE:
            # A short read of a regular file is its end: records are replaced whole by rename,
            # never written in place, so no second read is needed to see end-of-file.
            return chunk
        parts = [chunk]
        while chunk := os.read(fd, _READ_SIZE):
            parts.append(chunk)
        return parts[0] if len(parts) == 1 else b"".join(parts)
    finally:
        os.close(fd)


_READ_SIZE = 1 << 16


def read_record(path: str | os.PathLike[str], kind: str) -> dict[str, Any]:
    """Read and check a versioned record.

    Raises:
        FileNotFoundError: The record does not exist (callers decide if that is an error).
        RecordError: It exists but cannot be used; the message names the path and the problem.
    """
    try:
        raw = read_file(path)
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise RecordError(path, "is a directory where a record file belongs") from None
    except PermissionError:
        raise RecordError(path, "permission denied") from None
    except NotADirectoryError:
        raise RecordError(path, "a file stands where a directory belongs") from None
    except OSError as e:
        raise RecordError(path, f"cannot read record: {e.strerror or e}") from None
    return parse_record(path, raw, kind)
