"""When a crashed run last showed a sign of life, for the duration the runs list shows.

A run whose executor was SIGKILLed (or whose machine went down) never writes its end date. Its
``run.json`` is rewritten only at step transitions, so the record's mtime can be minutes older
than the moment the process died: a run that trained for an hour inside one step would show
a duration of a fraction of a second. The last thing the dead process wrote tells the time much
better: the run's ``out.log``, and for each step the record still calls running, its step
record, its progress file and its newest attempt log (in ``cache/<uid>/`` or, for uncacheable
steps, ``runs/<name>/steps/<uid>/``).

:func:`last_sign_of_life` reads the whole ``run.json`` (the listing decodes only its head) and a
handful of ``stat`` calls; it is meant for crashed runs, which are few, and its result should be
cached by the record's stat (a dead run's files no longer change). It never writes.
"""

from __future__ import annotations

import json
import os

from ..core import _format as fmt

__all__ = ["last_sign_of_life"]


def _mtime(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def _newest_in(directory: str) -> float | None:
    try:
        with os.scandir(directory) as it:
            times = [e.stat().st_mtime for e in it if e.is_file(follow_symlinks=False)]
    except OSError:
        return None
    return max(times, default=None)


def _running_uids(record_path: str) -> list[str]:
    """The unique ids of the plan rows ``run.json`` still calls running (none if unreadable)."""
    try:
        with open(record_path, "rb") as f:
            doc = json.loads(f.read())
        plan = doc["run"]["plan"]
        return [uid for uid, row in plan.items() if row.get("state") == "running"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []


def last_sign_of_life(root: str | os.PathLike[str], run: str) -> float | None:
    """The newest mtime among the files a run's process writes while it lives (POSIX time).

    None when none of them can be stat-ed (the run vanished).
    """
    layout = fmt.Layout(root)
    record = str(layout.run_record(run))
    times = [_mtime(record), _mtime(str(layout.run_log(run)))]
    for uid in _running_uids(record):
        for step_dir in (str(layout.step_dir(uid)), str(layout.run_step_dir(run, uid))):
            times.append(_mtime(os.path.join(step_dir, fmt.STEP_RECORD)))
            times.append(_mtime(os.path.join(step_dir, fmt.PROGRESS_FILE)))
            times.append(_newest_in(os.path.join(step_dir, fmt.LOGS_DIR)))
    known = [t for t in times if t is not None]
    return max(known) if known else None
