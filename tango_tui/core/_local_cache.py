"""Step results on disk: :class:`LocalStepCache`.

A result lives in ``<cache dir>/<uid>/result/`` (one ``data.json`` or ``data.pkl`` file, encoded by
the codecs of :mod:`tango_tui.core._cache`) and is *published* by ``<uid>/result.json``, written
last. Writing goes: result files into a fresh temporary directory, fsync the file, rename the directory
to ``result/``, write the marker (atomically, its content fsynced), then fsync the step directory.
A process crash at any moment leaves either no marker (no result) or a marker with its whole result
(renames are ordered). The marker also carries each file's size and SHA-256, which reading checks, so
even a power cut on a filesystem that reorders the two renames cannot pass off a partial result.

Durability (power loss) costs three fsyncs per stored result, each protecting one thing the
COMPLETED step record (written after ``__setitem__`` returns, not fsynced) relies on:

1. the data file, before the marker that vouches for it;
2. the marker's content, before anything (the COMPLETED record) relies on it;
3. the step directory, after both renames, so they are on disk before the COMPLETED record is
   even written: that record can never survive a power cut that its result and marker did not.
"""

from __future__ import annotations

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
from ._format import RESULT_DIR, RESULT_FORMAT, RESULT_MARKER, TMP_PREFIX, read_record, write_record
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
        entry = body["files"][0]
        path = self.dir / uid / RESULT_DIR / entry["name"]
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise RecordError(path, "result file is missing although its marker exists") from None
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
        uid = _unique_id(step)
        step_dir = self.dir / uid
        where: Path = step_dir / RESULT_DIR
        tmp: Path | None = None
        try:
            fmt, data = encode_result(value, getattr(step, "FORMAT", "auto"))
            step_dir.mkdir(parents=True, exist_ok=True)
            tmp = step_dir / f"{TMP_PREFIX}{RESULT_DIR}.{os.getpid()}.{secrets.token_hex(4)}"
            os.mkdir(tmp)
            name = _data_file_name(fmt)
            where = tmp / name
            fd = os.open(where, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())  # fsync 1/3: the data is on disk before its marker names it
            self._publish(uid, tmp, fmt, name, data)
            tmp = None
        except OSError as e:
            raise OSError(
                e.errno or errno.EIO,
                f"cannot store the result of step {uid}: {e.strerror or e}",
                os.fspath(e.filename or where),
            ) from e
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)

    def _publish(self, uid: str, tmp: Path, fmt: str, name: str, data: bytes) -> None:
        step_dir = self.dir / uid
        final = step_dir / RESULT_DIR
        marker = self._marker(uid)
        # Unpublish an older result first, so no reader pairs the old marker with new files.
        try:
            os.unlink(marker)
        except FileNotFoundError:
            pass
        trash = None
        if os.path.lexists(final):
            trash = step_dir / f"{TMP_PREFIX}old-{RESULT_DIR}.{os.getpid()}.{secrets.token_hex(4)}"
            os.rename(final, trash)
        os.rename(tmp, final)
        body = {
            "format": fmt,
            "files": [
                {"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            ],
            "written": dt_to_json(utc_now()),
        }
        # fsync 2/3: the marker's content is on disk before the COMPLETED record can rely on it.
        write_record(marker, RESULT_FORMAT, {"result": body}, fsync=True)
        # fsync 3/3: both renames (result/ and the marker) are on disk before the caller writes the
        # COMPLETED record. One directory flush serves both; a reader of a marker whose result/
        # rename was lost (only possible across a power cut) finds the file missing, never wrong.
        fsync_dir(step_dir)
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
