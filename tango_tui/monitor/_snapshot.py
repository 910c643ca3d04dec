"""A light snapshot of a workspace for the watcher's periodic reconcile.

It holds just enough to notice what an event could have told us: whether the root exists, the
names in ``runs/`` with their ``run.json`` (and Tango's ``stepinfo.json``) stats, the watched
steps' record and progress stats and Tango's database stats (tailed logs have their own, much
shorter tick: :mod:`._watch_files`). Taking one costs one ``scandir`` of ``runs/`` plus one
``stat`` per run that may still change (all of them on a full pass).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._watch_events import ChangeBatch

StatKey = tuple[int, int, int] | None
"""(inode, size, mtime in ns) of a file, or None if it does not exist."""

_RUN_FILES = ("run.json", "stepinfo.json")
_STEP_FILES = ("step.json", "progress.json")
_DB_FILES = ("stepinfo.sqlite", "stepinfo.sqlite-wal", "stepinfo.sqlite-journal")


UNSEEN: tuple[StatKey, ...] = ((-1, -1, -1), None)
"""The stats of a run listed but not stat-ed: equal to no real stats, so a diff reports it."""


def stat_key(path: str | os.PathLike[str]) -> StatKey:
    """The identity and version of a file as far as ``stat`` tells, or None if it is missing."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass
class LightSnapshot:
    """What the reconcile compares between two moments."""

    root_kind: str
    """``"dir"``, ``"missing"`` or ``"other"``."""
    markers: tuple[StatKey, ...] = (None, None, None, None)
    runs: dict[str, tuple[StatKey, ...]] = field(default_factory=dict)
    steps: dict[str, tuple[StatKey, ...]] = field(default_factory=dict)
    db: tuple[StatKey, ...] = (None, None, None)

    def diff(self, old: LightSnapshot) -> ChangeBatch:
        """The changes from ``old`` to this snapshot."""
        from ._watch_events import ChangeBatch

        batch = ChangeBatch()
        if self.root_kind != old.root_kind or self.markers != old.markers:
            batch.rescan = True
        for name in self.runs.keys() | old.runs.keys():
            if self.runs.get(name) != old.runs.get(name):
                batch.runs.add(name)
        for uid in self.steps.keys() & old.steps.keys():
            if self.steps[uid] != old.steps[uid]:
                batch.steps.add(uid)
        if self.db != old.db:
            batch.all_steps = True
        return batch


def take_snapshot(
    root: Path,
    steps: Iterable[str],
    *,
    old: LightSnapshot | None = None,
    recheck: Callable[[list[str]], Iterable[str]] | None = None,
    stat_runs: bool = True,
) -> LightSnapshot:
    """Take a :class:`LightSnapshot` of ``root`` (never raises for a missing or odd root).

    With ``old`` and ``recheck``, only the runs ``recheck(names)`` returns (and runs ``old`` did
    not have) are stat-ed; the others keep their stats from ``old``. Without them, every run is.
    In a tango-tui workspace only ``run.json`` is stat-ed (``stepinfo.json`` is Tango's). With
    ``stat_runs=False`` no run is: each listed name gets :data:`UNSEEN` (see :func:`seen_by`).
    """
    if not os.path.exists(root):
        return LightSnapshot("missing")
    if not os.path.isdir(root):
        return LightSnapshot("other")
    snap = LightSnapshot(
        "dir",
        markers=tuple(
            stat_key(root / n) for n in ("tango-tui.json", "settings.json", "runs", "cache")
        ),
        db=tuple(stat_key(root / n) for n in _DB_FILES),
    )
    runs_dir = os.path.join(root, "runs")
    try:
        with os.scandir(runs_dir) as it:
            names = [e.name for e in it if not e.name.startswith(".")]
    except OSError:
        names = []
    run_files = _RUN_FILES[:1] if snap.markers[0] is not None else _RUN_FILES
    missing = (None,) * (len(_RUN_FILES) - len(run_files))
    previous = old.runs if old is not None and old.root_kind == "dir" else None
    if not stat_runs:
        snap.runs = dict.fromkeys(names, UNSEEN)
    elif previous is not None and recheck is not None:
        todo = set(recheck(names))
        runs = snap.runs
        for name in names:
            hit = previous.get(name)
            if hit is not None and name not in todo:
                runs[name] = hit
            else:
                base = f"{runs_dir}/{name}/"
                runs[name] = (*(stat_key(base + f) for f in run_files), *missing)
    else:
        for name in names:
            base = f"{runs_dir}/{name}/"
            snap.runs[name] = (*(stat_key(base + f) for f in run_files), *missing)
    for uid in steps:
        step_dir = root / "cache" / uid
        snap.steps[uid] = tuple(stat_key(step_dir / f) for f in _STEP_FILES)
    return snap


def seen_by(snap: LightSnapshot, seen: dict[str, object]) -> None:
    """Put in ``snap`` (taken with ``stat_runs=False``) the ``run.json`` stats the reader saw.

    Only for a tango-tui workspace, where a run's stats are those of ``run.json`` alone; a run
    the reader did not read (or could not) keeps :data:`UNSEEN`, so the next diff reports it.
    """
    if snap.markers[0] is None:
        return
    for name in snap.runs:
        key = seen.get(name)
        if key is not None:
            snap.runs[name] = (key, None)  # type: ignore[assignment]
