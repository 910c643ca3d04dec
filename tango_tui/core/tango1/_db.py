"""Reading Tango's ``stepinfo.sqlite`` gently: read-only, short, retried, incremental.

Tango writes step records through sqlitedict (table ``unnamed``: ``key TEXT``, ``value BLOB``,
rollback journal, 5 s busy timeout). A reader that keeps a read transaction open makes Tango's
commit fail with "database is locked", so :class:`StepInfoTable`:

* opens ``file:...?mode=ro`` (never ``immutable=1``: the file is live) with no busy wait of its
  own, reads all rows in one ``SELECT`` and closes the connection at once;
* on ``SQLITE_BUSY`` retries with a growing pause up to a deadline, then keeps the last good
  snapshot and records a problem;
* skips the read entirely when the file's signature (inode, size, mtime, the header's change
  counter, the journal/WAL files) is unchanged, and decodes only rows whose bytes changed;
* reports a hot journal (left by a crashed writer) instead of touching it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .._errors import UnsafePickleError
from ._unpickle import restricted_loads

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    """Something the reader skipped or could not do, said plainly.

    Attributes:
        path: The file concerned.
        key: The row key (a step's unique id), if the problem concerns one row.
        message: What is wrong.
    """

    path: str
    key: str | None
    message: str


@dataclass
class Snapshot:
    """The decoded rows of the table at one moment.

    Attributes:
        rows: ``{key: decoded value}`` (Tango's StepInfo as a stand-in) for the good rows.
        problems: Rows skipped and conditions met during the last read.
        changed: Keys whose bytes changed (or appeared or vanished) in the last refresh.
    """

    rows: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    changed: set[str] = field(default_factory=set)


def _signature(path: Path) -> tuple[Any, ...] | None:
    """A cheap fingerprint of the database and its side files; None if the file is missing."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    try:
        with open(path, "rb") as f:
            header = f.read(100)
    except OSError:
        header = b""
    parts: list[Any] = [st.st_ino, st.st_size, st.st_mtime_ns, header[24:28]]
    for suffix in ("-journal", "-wal"):
        try:
            side = os.stat(f"{path}{suffix}")
            parts.append((suffix, side.st_size, side.st_mtime_ns))
        except OSError:
            parts.append((suffix, None))
    return tuple(parts)


def _uri(path: Path) -> str:
    return f"file:{quote(str(path.absolute()))}?mode=ro"


class StepInfoTable:
    """The ``unnamed`` table of one ``stepinfo.sqlite``, read gently and decoded safely.

    Args:
        path: The database file.
        busy_deadline: How long (seconds) one refresh keeps retrying a busy database before it
            gives up and keeps the last good snapshot.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_deadline: float = 1.0):
        self.path = Path(path)
        self.busy_deadline = busy_deadline
        self.snapshot = Snapshot()
        self._signature: tuple[Any, ...] | None = None
        self._hashes: dict[str, bytes] = {}
        self._row_problems: dict[str, Problem] = {}
        self._db_problems: list[Problem] = []
        self.reads = 0
        """How many times the table was actually read (a figure for tests and benchmarks)."""

    def refresh(self) -> Snapshot:
        """Bring the snapshot up to date if the file changed; returns it.

        ``snapshot.changed`` lists the keys that changed in this call (empty when nothing did).
        """
        self.snapshot.changed = set()
        try:
            sig = _signature(self.path)
        except OSError as e:  # e.g. a directory on the way is not searchable
            self._db_problems = [Problem(str(self.path), None, f"cannot read the database: {e}")]
            self._publish_problems()
            return self.snapshot
        if sig is None:
            if self._signature is not None or self.snapshot.rows:
                self.snapshot.changed = set(self.snapshot.rows)
                self.snapshot.rows = {}
                self._hashes.clear()
                self._row_problems.clear()
            self._signature = None
            self._db_problems = []
            self._publish_problems()
            return self.snapshot
        if sig == self._signature:
            return self.snapshot
        raw = self._read_rows()
        if raw is not None:
            self._signature = sig
            self._apply(raw)
        self._publish_problems()
        return self.snapshot

    # ----- reading ----------------------------------------------------------------------------
    def _read_rows(self) -> list[tuple[object, object]] | None:
        """All rows, read in one short transaction; None (with a problem noted) on failure."""
        self._db_problems = []
        deadline = time.monotonic() + self.busy_deadline
        pause = 0.005
        while True:
            try:
                rows = self._select_all()
                self.reads += 1
                return rows
            except sqlite3.OperationalError as e:
                name = getattr(e, "sqlite_errorname", "")
                if name in ("SQLITE_BUSY", "SQLITE_LOCKED") or "locked" in str(e):
                    if time.monotonic() + pause < deadline:
                        time.sleep(pause)
                        pause = min(pause * 2, 0.1)
                        continue
                    self._note(
                        None,
                        f"database stayed busy (a writer holds it): {e}; showing the last good read",
                    )
                    return None
                if name == "SQLITE_READONLY_ROLLBACK" or self._hot_journal():
                    self._note(
                        None,
                        f"hot journal {self.path.name}-journal left by a crashed writer: the database "
                        "cannot be read until Tango (or sqlite3 with write access) rolls it back; "
                        "this viewer does not touch it",
                    )
                    return None
                if "no such table" in str(e):
                    return []
                self._note(None, f"cannot read the database: {e}")
                return None
            except sqlite3.DatabaseError as e:
                self._note(None, f"not a readable sqlite database: {e}")
                return None

    def _select_all(self) -> list[tuple[object, object]]:
        # timeout=0: a busy database fails at once and we retry on our own terms, so we never sit
        # on a SHARED lock while waiting. The connection is closed right after the one SELECT.
        conn = sqlite3.connect(
            _uri(self.path), uri=True, timeout=0, isolation_level=None, check_same_thread=False
        )
        try:
            return conn.execute('SELECT key, value FROM "unnamed"').fetchall()
        finally:
            conn.close()

    def _hot_journal(self) -> bool:
        try:
            return os.path.getsize(f"{self.path}-journal") > 0
        except OSError:
            return False

    # ----- decoding ---------------------------------------------------------------------------
    def _apply(self, raw: list[tuple[object, object]]) -> None:
        seen: set[str] = set()
        for raw_key, value in raw:
            key = str(raw_key)
            seen.add(key)
            blob, bad = _as_blob(value)
            digest = hashlib.blake2b(blob, digest_size=16).digest()
            if self._hashes.get(key) == digest:
                continue
            self._hashes[key] = digest
            self.snapshot.changed.add(key)
            self._row_problems.pop(key, None)
            if bad is not None:
                self.snapshot.rows.pop(key, None)
                self._row_problems[key] = Problem(str(self.path), key, bad)
                continue
            try:
                self.snapshot.rows[key] = restricted_loads(blob, path=self.path, key=key)
            except UnsafePickleError as e:
                logger.warning("%s", e)
                self.snapshot.rows.pop(key, None)
                self._row_problems[key] = Problem(str(self.path), key, e.problem)
            except (pickle.UnpicklingError, EOFError, ValueError) as e:
                self.snapshot.rows.pop(key, None)
                self._row_problems[key] = Problem(str(self.path), key, f"unreadable record: {e}")
        for gone in set(self._hashes) - seen:
            self._hashes.pop(gone, None)
            self._row_problems.pop(gone, None)
            self.snapshot.rows.pop(gone, None)
            self.snapshot.changed.add(gone)

    def _note(self, key: str | None, message: str) -> None:
        logger.info("%s: %s", self.path, message)
        self._db_problems.append(Problem(str(self.path), key, message))

    def _publish_problems(self) -> None:
        problems = list(self._db_problems)
        problems.extend(self._row_problems[k] for k in sorted(self._row_problems))
        self.snapshot.problems = problems


def _as_blob(value: object) -> tuple[bytes, str | None]:
    """The bytes of a row's value, and why it cannot be a record when it cannot.

    sqlite keeps a value's own type whatever the column says: a row written by something other
    than Tango may hold a number, which no pickle is (its repr is hashed, to notice changes).
    """
    if value is None:
        return b"", None
    if isinstance(value, bytes):
        return value, None
    if isinstance(value, str):
        return value.encode("latin-1", "replace"), None
    return repr(
        value
    ).encode(), f"unreadable record: sqlite holds a number ({value!r}), not a pickle"
