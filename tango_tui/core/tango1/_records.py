"""``StepRecords``: the step records of a Tango 1.x workspace, kept current and judged for liveness.

Version 2 keeps the records in ``stepinfo.sqlite`` (read through :class:`~._db.StepInfoTable`);
version 1 in ``cache/<uid>/stepinfo.dill`` (or ``stepinfo.json``). Each record is converted to
our model once per change. A record that says RUNNING is checked against its lock in
``/proc/locks`` every time it is handed out, so a killed step shows as CRASHED at the next look.

Not thread-safe on its own: :class:`~._workspace.TangoWorkspace` serialises every call.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

from .._errors import UnsafePickleError
from .._liveness import hostname
from .._model import StepState
from ._convert import Tango1StepInfo, to_step_info, with_liveness
from ._db import Problem, StepInfoTable
from ._detect import read_layout_version
from ._locks import lock_held_per_proc_locks
from ._unpickle import restricted_loads

V1Entry = tuple[tuple[int, int], Tango1StepInfo | None, Problem | None]
"""A version-1 record file: ``((mtime_ns, size), decoded record or None, problem or None)``."""


class StepRecords:
    """The step records under ``root``, re-read only where the disk changed.

    Args:
        root: The workspace directory (absolute).
    """

    def __init__(self, root: Path):
        self.root = root
        """The workspace directory."""
        self.version = read_layout_version(root)
        """Tango's layout version (1 or 2); a version-1 guess is re-checked on each refresh."""
        self.table = StepInfoTable(root / "stepinfo.sqlite")
        """The version-2 database reader."""
        self._infos: dict[str, Tango1StepInfo] = {}
        self._v1: dict[str, V1Entry] = {}
        self._convert_problems: dict[str, Problem] = {}
        self._liveness_notes: dict[str, Problem] = {}
        self._pending: set[str] = set()

    # ----- refreshing -----------------------------------------------------------------------
    def refresh(self) -> set[str]:
        """Re-read what changed; the unique ids changed since the previous ``refresh()``.

        Changes seen by :meth:`ensure_fresh` in between are included, so a caller polling
        ``refresh()`` never misses one.
        """
        changed = self._pending | self._refresh_now()
        self._pending = set()
        return changed

    def ensure_fresh(self) -> None:
        """Bring the records up to date before a read, keeping the changes for ``refresh()``.

        Costs a stat and a 100-byte read of the database when nothing changed, so callers that
        never call ``refresh()`` still see current data.
        """
        self._pending |= self._refresh_now()

    def _refresh_now(self) -> set[str]:
        changed = set(self.table.refresh().changed)
        if self.version == 1:
            # A directory opened before Tango wrote settings.json may turn out to be version 2.
            self.version = read_layout_version(self.root)
        if self.version == 1 or self._v1:
            changed |= self._refresh_v1()
        for key in changed:
            self._infos.pop(key, None)
            self._convert_problems.pop(key, None)
        return changed

    def _refresh_v1(self) -> set[str]:
        changed: set[str] = set()
        seen: set[str] = set()
        try:
            entries = list(os.scandir(self.root / "cache"))
        except OSError:
            entries = []
        for entry in entries:
            for fname in ("stepinfo.dill", "stepinfo.json"):
                path = Path(entry.path) / fname
                try:
                    st = path.stat()
                except OSError:
                    continue
                uid = entry.name
                seen.add(uid)
                sig = (st.st_mtime_ns, st.st_size)
                if uid in self._v1 and self._v1[uid][0] == sig:
                    break
                self._v1[uid] = (sig, *self._decode_v1(path, uid))
                changed.add(uid)
                break
        for gone in set(self._v1) - seen:
            del self._v1[gone]
            changed.add(gone)
        return changed

    def _decode_v1(self, path: Path, uid: str) -> tuple[Tango1StepInfo | None, Problem | None]:
        try:
            data = path.read_bytes()
            record: Any = (
                json.loads(data) if path.suffix == ".json" else restricted_loads(data, path=path)
            )
            return to_step_info(record, uid), None
        except UnsafePickleError as e:
            return None, Problem(str(path), uid, e.problem)
        except (OSError, ValueError, pickle.UnpicklingError, EOFError) as e:
            return None, Problem(str(path), uid, f"unreadable record: {e}")
        except Exception as e:  # noqa: BLE001 - one odd record must not hide the others
            return None, Problem(str(path), uid, f"not a step record: {type(e).__name__}: {e}")

    # ----- reading --------------------------------------------------------------------------
    def record_problems(self) -> list[Problem]:
        """Rows and files skipped, and database conditions met (busy, hot journal), last read."""
        out = list(self.table.snapshot.problems)
        out += [p for (_, _, p) in self._v1.values() if p is not None]
        out += list(self._convert_problems.values())
        return out

    def liveness_notes(self) -> list[Problem]:
        """Steps shown as running whose liveness could not be decided (other host, NFS)."""
        return list(self._liveness_notes.values())

    def all_ids(self) -> set[str]:
        """The unique ids of every record (unreadable version-1 files left out)."""
        return set(self.table.snapshot.rows) | {k for k, v in self._v1.items() if v[1] is not None}

    def record(self, uid: str) -> Tango1StepInfo | None:
        """The stored record (no liveness applied), converted once per change."""
        if uid in self._infos:
            return self._infos[uid]
        raw = self.table.snapshot.rows.get(uid)
        info: Tango1StepInfo | None = None
        if raw is not None:
            try:
                info = to_step_info(raw, uid)
            except Exception as e:  # noqa: BLE001 - one odd record must not hide the others
                self._convert_problems[uid] = Problem(
                    str(self.table.path), uid, f"not a step record: {e}"
                )
        elif uid in self._v1:
            info = self._v1[uid][1]
        if info is not None:
            self._infos[uid] = info
        return info

    def live(self, info: Tango1StepInfo) -> Tango1StepInfo:
        """Apply the liveness verdict to a record that says RUNNING (noting an unknown verdict)."""
        checked = self._judge(info)
        if checked.liveness_unknown:
            lock = self.root / "cache" / info.unique_id / "lock"
            self._liveness_notes[info.unique_id] = Problem(
                str(lock),
                info.unique_id,
                f"shown as running, but may be dead: {checked.liveness_unknown}",
            )
        else:
            self._liveness_notes.pop(info.unique_id, None)
        return checked

    def _judge(self, info: Tango1StepInfo) -> Tango1StepInfo:
        if info.state != StepState.RUNNING:
            return info
        lock = self.root / "cache" / info.unique_id / "lock"
        held = lock_held_per_proc_locks(lock)
        if held:
            return info
        host = info.platform.host if info.platform else None
        if host and host != hostname():
            return with_liveness(
                info,
                None,
                f"recorded by host {host!r}; its lock cannot be checked from {hostname()!r}",
            )
        if held is None:
            return with_liveness(
                info, None, f"cannot tell whether {lock} is locked (network filesystem?)"
            )
        why = "no process holds its lock" if os.path.lexists(lock) else "its lock file is missing"
        return with_liveness(info, f"recorded as running, but {why} ({lock})", None)
