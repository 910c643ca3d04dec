"""Step results on disk: :class:`LocalStepCache`.

A result is *published* by its marker ``<cache dir>/<uid>/result.json``, written last. Two layouts:

* inline (marker version 2): a JSON result of at most :data:`INLINE_LIMIT` bytes sits in the
  marker itself (``"inline"``, with its SHA-256). Writing: the marker to a temporary file, rename
  it to ``result.json``, fsync it. One file, one flush.
* a result directory (marker version 1, the only layout before inline results; still read, and
  still written for pickled and larger results): ``<uid>/result/`` holds one ``data.json`` or
  ``data.pkl`` (the codecs of :mod:`tango_tui.core._cache`). Writing: the file into a fresh
  temporary directory, fsync it, rename the directory to ``result/``, then the marker as above.
  The marker carries the file's size and SHA-256, which reading checks.

A process crash at any moment leaves either no marker (no result) or a marker with its whole
result (the marker is renamed into place last, whole). Durability (power loss) costs one fsync
per stored result (two with a result directory), all before the COMPLETED step record (written
after :meth:`LocalStepCache.store` returns, not fsynced) exists:

1. (result directory only) the data file, before the marker that vouches for it is written;
2. the marker, *after* its rename. This one flush covers the marker's content, its rename and
   the earlier ``result/`` rename, which is what a separate fsync of the step directory used to
   do. Why that holds where workspaces live:

   * ext4 (journalled) and XFS: a rename logs the renamed inode (its ctime changes), and fsync of
     a file commits the journal up to that inode's last transaction; the journal commits in
     order, so every earlier metadata change (the ``result/`` rename, the step directory) is
     durable too.
   * NFS: the server commits a RENAME to stable storage before it replies (RFC 1813/7530), so
     both renames are durable when they return; the fsync (NFS COMMIT) makes the marker's data
     durable.
   * btrfs: fsync logs the marker under its new name but perhaps not the ``result/`` rename; a
     power cut then may keep a marker whose ``result/`` is missing. That is detected (the file is
     missing, never wrong), and the COMPLETED record cannot have survived it: it was never
     fsynced, so it only reaches the disk in a transaction commit, which is atomic and includes
     the earlier ``result/`` rename. A marker without a COMPLETED record is only ever *adopted*
     after reading the result, and a missing result file makes the step run again.

   On ext2/ext4 without a journal nothing is ordered and no flush order would help; such a
   filesystem loses whole directories on a power cut anyway.

If the flush fails, the marker is removed again before the error propagates.

A step is therefore never COMPLETED without its whole result, even across a power cut: the
COMPLETED record is written only after the flushes returned.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

from ._cache import StepCache, decode_result, encode_result
from ._errors import RecordError
from ._format import (
    RESULT_DIR,
    RESULT_FORMAT,
    RESULT_MARKER,
    TMP_PREFIX,
    dump_record,
    read_record,
    tmp_path,
    write_all,
)
from ._model import StepInfo, dt_to_json, utc_now

logger = logging.getLogger(__name__)

_EXTENSIONS = {"json": "json", "pickle": "pkl"}


def _data_file_name(fmt: str) -> str:
    return f"data.{_EXTENSIONS.get(fmt, fmt)}"


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Flush a directory's entries (renames, new files) to disk; a no-op where unsupported."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_marker(path: str, data: bytes) -> None:
    """Write a marker atomically, then fsync it after its rename (the last flush; module docstring).

    If that flush fails the marker is removed again: a marker that may not survive a power cut
    must not vouch for a result the caller is about to record as COMPLETED.
    """
    tmp = tmp_path(*os.path.split(path))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        try:
            write_all(fd, data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        try:
            os.fsync(fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise
    finally:
        os.close(fd)


INLINE_LIMIT = 16 * 1024
"""Results whose JSON encoding is at most this many bytes (and valid UTF-8) are kept inline in
their marker: one file and one flush instead of a directory, two files and two flushes."""


def _inline_text(fmt: str, data: bytes) -> str | None:
    if fmt != "json" or len(data) > INLINE_LIMIT:
        return None
    try:
        return data.decode("utf-8")  # strict: a lone surrogate (surrogatepass) stays in a file
    except UnicodeDecodeError:
        return None


def _trash_name(step_dir: str) -> str:
    return os.path.join(
        step_dir, f"{TMP_PREFIX}old-{RESULT_DIR}.{os.getpid()}.{secrets.token_hex(4)}"
    )


def _unique_id(step_or_info: Any) -> str:
    uid = getattr(step_or_info, "unique_id", None)
    if not isinstance(uid, str) or not uid or "/" in uid or uid in (".", ".."):
        raise KeyError(f"not a step or step record with a usable unique id: {step_or_info!r}")
    return uid


def _wants_cache(step_or_info: Any) -> bool:
    if isinstance(step_or_info, StepInfo):
        return step_or_info.cacheable
    return bool(getattr(step_or_info, "cache_results", True))


class LocalStepCache(StepCache):
    """A :class:`StepCache` keeping each step's result in ``dir/<unique id>/``.

    Args:
        dir: The cache directory (``ROOT/cache`` of a :class:`LocalWorkspace`).
    """

    def __init__(self, dir: str | os.PathLike[str]):
        self.dir = Path(dir)
        self._dir_str = os.fspath(self.dir)

    def __repr__(self) -> str:
        return f"LocalStepCache({str(self.dir)!r})"

    def path_for_step(self, step: Any) -> Path:
        """The directory of ``step`` (a Step or StepInfo) in the cache."""
        return self.dir / _unique_id(step)

    def _marker(self, uid: str) -> Path:
        return self.dir / uid / RESULT_MARKER

    def _read_marker(self, uid: str) -> dict[str, Any]:
        """The marker's body; FileNotFoundError if absent, RecordError if unusable."""
        path = self._marker(uid)
        doc = read_record(path, RESULT_FORMAT)
        body = doc.get("result")
        if not isinstance(body, dict) or not isinstance(body.get("format"), str):
            raise RecordError(path, "result marker has no 'result' object with a 'format'")
        if "inline" in body and doc["version"] >= 2:
            if not isinstance(body["inline"], str):
                raise RecordError(path, "result marker's 'inline' result is not a string")
            return body
        files = body.get("files")
        if not isinstance(files, list) or len(files) != 1 or not isinstance(files[0], dict):
            raise RecordError(path, "result marker must list exactly one result file")
        name = files[0].get("name")
        if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
            raise RecordError(path, f"result marker names an unusable file {name!r}")
        return body

    # ----- the mapping --------------------------------------------------------------------
    def __contains__(self, step_or_info: object) -> bool:
        try:
            uid = _unique_id(step_or_info)
        except KeyError:
            return False
        if not _wants_cache(step_or_info):
            return False
        try:
            self._read_marker(uid)
        except FileNotFoundError:
            return False
        except RecordError as e:
            logger.warning("ignoring a broken cached result: %s", e)
            return False
        return True

    def __getitem__(self, step_or_info: Any) -> Any:
        """The cached result of a step.

        Raises:
            KeyError: If the step has no (published) result.
            RecordError: If the result is there but damaged (size/checksum mismatch, undecodable).
        """
        uid = _unique_id(step_or_info)
        try:
            body = self._read_marker(uid)
        except FileNotFoundError:
            raise KeyError(f"no cached result for step {uid!r} in {self.dir}") from None
        if "inline" in body:
            path = self._marker(uid)
            entry = body
            data = body["inline"].encode("utf-8")
        else:
            entry = body["files"][0]
            path = self.dir / uid / RESULT_DIR / entry["name"]
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                raise RecordError(
                    path, "result file is missing although its marker exists"
                ) from None
            except OSError as e:
                raise RecordError(path, f"cannot read result file: {e.strerror or e}") from None
        if entry.get("size") is not None and entry["size"] != len(data):
            raise RecordError(
                path, f"result file has {len(data)} bytes, its marker says {entry['size']}"
            )
        digest = entry.get("sha256")
        if digest is not None and hashlib.sha256(data).hexdigest() != digest:
            raise RecordError(path, "result file does not match the checksum in its marker")
        try:
            return decode_result(body["format"], data)
        except RecordError:
            raise
        except Exception as e:  # noqa: BLE001 - a decoder (unpickling) may raise anything
            raise RecordError(
                path, f"cannot decode {body['format']} result: {type(e).__name__}: {e}"
            ) from None

    def __setitem__(self, step: Any, value: Any) -> None:
        """Store ``value`` as the result of ``step``; publish it only once it is whole.

        Raises:
            OSError: A write failed (disk full, I/O error); the message names the step and path,
                ``errno`` is the original one. Nothing is published in that case.
        """
        self.store(step, value)

    def store(self, step: Any, value: Any) -> str:
        """Store ``value`` as the result of ``step``, as ``__setitem__`` does.

        Returns:
            Where the result is, relative to the step's directory: ``result.json`` for a result
            kept inline in its marker, ``result`` for a result directory.
        """
        uid = _unique_id(step)
        step_dir = f"{self._dir_str}/{uid}"  # uid is one checked component
        where = f"{step_dir}/{RESULT_MARKER}"
        tmp: str | None = None
        try:
            fmt, data = encode_result(value, getattr(step, "FORMAT", "auto"))
            inline = _inline_text(fmt, data)
            if inline is not None:
                self._publish(step_dir, None, {"format": fmt, "inline": inline}, data)
                return RESULT_MARKER
            where = os.path.join(step_dir, RESULT_DIR)
            path = os.path.join(
                step_dir, f"{TMP_PREFIX}{RESULT_DIR}.{os.getpid()}.{secrets.token_hex(4)}"
            )
            try:
                os.mkdir(path)
            except FileNotFoundError:  # no step directory yet (a cache used on its own)
                os.makedirs(step_dir, exist_ok=True)
                os.mkdir(path)
            tmp = path
            name = _data_file_name(fmt)
            where = os.path.join(tmp, name)
            fd = os.open(where, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            try:
                write_all(fd, data)
                os.fsync(fd)  # the data is on disk before its marker names it
            finally:
                os.close(fd)
            entry = {"name": name, "size": len(data)}
            self._publish(step_dir, tmp, {"format": fmt, "files": [entry]}, data)
            tmp = None
            return RESULT_DIR
        except OSError as e:
            raise OSError(
                e.errno or errno.EIO,
                f"cannot store the result of step {uid}: {e.strerror or e}",
                os.fspath(e.filename or where),
            ) from e
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)

    def _publish(self, step_dir: str, tmp: str | None, body: dict[str, Any], data: bytes) -> None:
        """Replace the published result by ``body`` (and the directory ``tmp``, if any)."""
        final = f"{step_dir}/{RESULT_DIR}"
        marker = f"{step_dir}/{RESULT_MARKER}"
        # Unpublish an older result first, so no reader pairs the old marker with new files.
        had_marker = True
        try:
            os.unlink(marker)
        except FileNotFoundError:
            had_marker = False
        trash = None
        if tmp is not None:
            try:
                os.rename(tmp, final)
            except OSError as e:
                # An earlier result/ is there (a result stored again): set it aside.
                if e.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                    raise
                trash = _trash_name(step_dir)
                os.rename(final, trash)
                os.rename(tmp, final)
        elif had_marker:  # an inline result replaces an older one: drop its result/ if any
            trash = _trash_name(step_dir)
            try:
                os.rename(final, trash)
            except OSError:
                trash = None
        target = body["files"][0] if "files" in body else body
        target["sha256"] = hashlib.sha256(data).hexdigest()
        body["written"] = dt_to_json(utc_now())
        version = 1 if tmp is not None else 2  # file-backed markers stay readable by version 1
        record = dump_record(RESULT_FORMAT, {"result": body}, version=version)
        try:
            _write_marker(marker, record)
        except FileNotFoundError:
            if os.path.isdir(step_dir):
                raise
            os.makedirs(step_dir, exist_ok=True)  # no step directory yet (a cache used on its own)
            _write_marker(marker, record)
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)

    def __delitem__(self, step_or_info: Any) -> None:
        """Remove a step's cached result (KeyError if there is none)."""
        uid = _unique_id(step_or_info)
        marker = self._marker(uid)
        try:
            os.unlink(marker)
        except FileNotFoundError:
            raise KeyError(f"no cached result for step {uid!r} in {self.dir}") from None
        shutil.rmtree(self.dir / uid / RESULT_DIR, ignore_errors=True)

    def __len__(self) -> int:
        try:
            entries = list(os.scandir(self.dir))
        except FileNotFoundError:
            return 0
        return sum(
            1
            for e in entries
            if not e.name.startswith(".") and os.path.exists(os.path.join(e.path, RESULT_MARKER))
        )
