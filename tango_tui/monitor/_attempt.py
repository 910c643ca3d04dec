"""Which run a step's current record belongs to.

A step's record (``cache/<uid>/step.json``) describes its latest attempt, whichever run made it.
A live or crashed run's unfinished rows are overlaid with it only if that attempt is the run's
own: otherwise a crashed run would show the steps a later run completed, or a later run's live
step as its own crashed one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ..core._liveness import hostname
from ..core._model import Owner, StepInfo

# The executor rewrites run.json every 0.3 s while it runs: a step its run started just before
# dying may have a start time a little after the record's last rewrite.
_SLACK = timedelta(seconds=1.0)


def parent_pid(owner: Owner) -> int | None:
    """The parent process id of ``owner`` if it is alive on this host (same start time), else None."""
    if owner.host != hostname():
        return None
    try:
        with open(f"/proc/{owner.pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may contain spaces or ')'.
    rest = stat[stat.rfind(b")") + 2 :].split()
    try:
        if rest[0] == b"Z":
            return None
        if owner.pid_start is not None and int(rest[19]) != owner.pid_start:
            return None  # the pid was reused by another process
        return int(rest[1])
    except (IndexError, ValueError):
        return None


def _same_process(a: Owner, b: Owner) -> bool:
    if a.host != b.host or a.pid != b.pid:
        return False
    return a.pid_start is None or b.pid_start is None or a.pid_start == b.pid_start


def attempt_belongs(
    info: StepInfo,
    run_start: datetime,
    run_owner: Owner | None,
    last_update: datetime | None,
    live: bool,
) -> bool:
    """Whether the attempt ``info`` records was made by the run.

    Args:
        info: The step's record.
        run_start: The run's start date.
        run_owner: The process executing the run (from its record), if known.
        last_update: The run's end date, or when its record was last written (None: unknown).
        live: Whether the run is still executing (its owner alive).

    The attempt is the run's if it started at or after the run and was made by the run's own
    process or by one of its worker processes (a live child of it). When that cannot be told
    (another host, the owner gone), its start time must fall within the run's lifetime.
    """
    start = info.start_time
    if start is None:
        return live  # nothing to compare: only a live run may claim it
    if start < run_start:
        return False  # an earlier run's attempt
    owner = info.owner
    if owner is not None and run_owner is not None:
        if _same_process(owner, run_owner):
            return True
        ppid = parent_pid(owner)
        if ppid is not None and run_owner.host == owner.host:
            if ppid == run_owner.pid:
                return True
            if live:
                return False  # a live run's workers are its children: this is another run's
    if live:
        return True
    if last_update is None:
        return False
    return start <= last_update + _SLACK
