"""Run records of a local workspace: ``run.json`` encoding, and fast reading of many of them.

Listing reads each ``run.json`` once and nothing else: ``Run.steps`` is a :class:`LazyStepInfos`
that opens step records only when someone looks at them, and ``Run.plan`` is a
:class:`LazyPlan` that builds its :class:`RunStep` rows only when used.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ._errors import RecordError, WorkspaceError
from ._format import RUN_FORMAT, RUN_RECORD, Layout, parse_record, read_file
from ._lazy_infos import LazyStepInfos
from ._lazy_plan import LazyPlan, check_plan_shape, counts_from_json
from ._liveness import owner_is_alive
from ._model import (
    Owner,
    Run,
    RunStatus,
    RunStep,
    StepInfo,
    StepState,
    dt_from_json,
    dt_to_json,
)
from ._names import is_valid_run_name

__all__ = ["LazyPlan", "read_run", "read_runs", "run_from_doc", "run_to_body"]

logger = logging.getLogger(__name__)


# ----- the record ----------------------------------------------------------------------------
def run_to_body(run: Run) -> dict[str, Any]:
    """The ``run.json`` body of ``run``."""
    steps = run.steps
    if isinstance(steps, LazyStepInfos):
        targets = steps.unique_ids()
    else:
        targets = {name: info.unique_id for name, info in steps.items()}
    owner = run.owner
    return {
        "run": {
            "name": run.name,
            "start_date": dt_to_json(run.start_date),
            "end_date": dt_to_json(run.end_date),
            "status": RunStatus(run.status).value,
            "owner": None
            if owner is None
            else {
                "host": owner.host,
                "pid": owner.pid,
                "pid_start": owner.pid_start,
                "boot_id": owner.boot_id,
            },
            "targets": targets,
            # A summary for listings, written before the plan so that a reader can decode the
            # record's head alone (readers that do not know the key ignore it).
            "counts": _state_counts(run.plan.values()),
            "plan": {uid: row.to_json_dict() for uid, row in run.plan.items()},
        }
    }


def _state_counts(rows: Iterable[RunStep]) -> dict[str, int]:
    """``{state value: how many plan rows are in it}`` (the ``counts`` key of ``run.json``)."""
    counts: dict[str, int] = {}
    for row in rows:
        state = StepState(row.state).value
        counts[state] = counts.get(state, 0) + 1
    return counts


def _owner_from_json(data: Any) -> Owner | None:
    if data is None:
        return None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("host"), str)
        or not isinstance(data.get("pid"), int)
    ):
        raise TypeError("owner must be an object with a string 'host' and an integer 'pid'")
    return Owner(
        host=data["host"],
        pid=data["pid"],
        pid_start=data.get("pid_start"),
        boot_id=data.get("boot_id"),
    )


_STATUSES = {status.value: status for status in RunStatus}
# Names made of these characters need no closer look (the common case, e.g. "fancy-llama").
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+=@,-]{0,199}")


class PlanLoader:
    """Loads a run target's StepInfo for :class:`LazyStepInfos` (a class, so a Run pickles).

    ``step_info(uid)`` is the workspace's; for a step without a record (KeyError) the run's plan
    row stands in, as an INCOMPLETE record. The plan is parsed only in that case.
    """

    __slots__ = ("plan", "step_info")

    def __init__(self, step_info: Any, plan: Mapping[str, RunStep]):
        self.step_info = step_info
        self.plan = plan

    def __call__(self, uid: str) -> StepInfo:
        try:
            info: StepInfo = self.step_info(uid)
            return info
        except KeyError:
            try:
                row = self.plan.get(uid)
            except RecordError:
                row = None
            if row is None:
                raise
            return StepInfo(
                unique_id=uid,
                step_class_name=row.step_class_name,
                step_name=row.name,
                dependencies=frozenset(row.dependencies),
                cacheable=row.cacheable,
            )

    def __reduce__(self) -> tuple[Any, ...]:
        return (PlanLoader, (self.step_info, dict(self.plan.items())))


def run_from_doc(
    path: str | Path,
    doc: Mapping[str, Any],
    dir_name: str,
    loader: Any,
    raw_plan_bytes: bytes | None = None,
) -> Run:
    """Build a :class:`Run` from a parsed ``run.json`` (RecordError naming ``path`` if unusable).

    ``loader(uid)`` (the workspace's ``step_info``) gives a target's StepInfo when ``Run.steps``
    is first read. ``raw_plan_bytes``: the plan object still undecoded (``doc`` is then the
    record's head alone); it is decoded and checked when ``Run.plan`` is first used.
    A run recorded as RUNNING whose owner is verifiably dead is reported CRASHED.
    """
    body = doc.get("run")
    if not isinstance(body, dict):
        raise RecordError(path, "run record has no 'run' object")
    try:
        name = body["name"]
        if name != dir_name:
            raise ValueError(f"record names run {name!r} but lives in directory {dir_name!r}")
        start_date = dt_from_json(body["start_date"])
        if start_date is None:
            raise ValueError("start_date is missing")
        targets = body.get("targets") or {}
        if not isinstance(targets, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in targets.items()
        ):
            raise ValueError("targets must map step names to unique ids")
        counts = counts_from_json(body.get("counts"))
        if raw_plan_bytes is not None:
            plan = LazyPlan(raw_plan_bytes, path, counts)
        else:
            raw_plan = body.get("plan") or {}
            check_plan_shape(raw_plan)
            plan = LazyPlan(raw_plan, path, counts)
        status = _STATUSES.get(body.get("status") or "incomplete")
        if status is None:
            raise ValueError(f"unknown run status {body.get('status')!r}")
        owner = _owner_from_json(body.get("owner"))
        end_date = dt_from_json(body.get("end_date"))
    except KeyError as e:
        raise RecordError(path, f"run record is missing field {e.args[0]!r}") from None
    except (TypeError, ValueError) as e:
        raise RecordError(path, f"run record is malformed: {e}") from None
    if status is RunStatus.RUNNING and owner_is_alive(owner) is False:
        status = RunStatus.CRASHED

    return Run(
        name=name,
        steps=LazyStepInfos(targets, PlanLoader(loader, plan)),
        start_date=start_date,
        end_date=end_date,
        status=status,
        plan=plan,
        owner=owner,
    )


def list_dir_names(path: Path) -> list[str]:
    """Names in ``path`` that are not hidden/temporary; [] if it does not exist."""
    try:
        with os.scandir(path) as it:
            return [e.name for e in it if not e.name.startswith(".")]
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        raise WorkspaceError(path, "a file stands where a directory belongs") from None
    except PermissionError:
        raise WorkspaceError(path, "permission denied") from None
    except OSError as e:
        raise WorkspaceError(path, f"cannot list directory: {e.strerror or e}") from None


def run_names(layout: Layout, match: str | None = None) -> list[str]:
    """Names of the run directories (case-insensitive substring ``match``), unsorted."""
    names = []
    plain = _PLAIN_NAME.fullmatch
    for name in list_dir_names(layout.runs_dir):
        if plain(name) or is_valid_run_name(name):
            names.append(name)
        else:
            logger.warning("skipping %s: not a valid run name", os.path.join(layout.runs_dir, name))
    if match:
        needle = match.lower()
        names = [n for n in names if needle in n.lower()]
    return names


def read_run(layout: Layout, name: str, loader: Any, runs_dir: str | None = None) -> Run:
    """Read one run record (FileNotFoundError if the run does not exist; RecordError if broken)."""
    # Plain strings, not Path objects: this runs once per run in a listing of thousands.
    run_dir = os.path.join(runs_dir or str(layout.runs_dir), name)
    path = os.path.join(run_dir, RUN_RECORD)
    try:
        raw = read_file(path)  # open, read, close: no buffered file object (four calls fewer)
    except FileNotFoundError:
        if os.path.isdir(run_dir):
            raise RecordError(path, "run directory has no run.json") from None
        if os.path.lexists(run_dir):
            raise RecordError(
                run_dir, "a dangling symlink stands where a run directory belongs"
            ) from None
        raise
    except NotADirectoryError:
        raise RecordError(run_dir, "a file stands where a run directory belongs") from None
    except IsADirectoryError:
        raise RecordError(path, "is a directory where a record file belongs") from None
    except PermissionError:
        raise RecordError(path, "permission denied") from None
    except OSError as e:
        raise RecordError(path, f"cannot read record: {e.strerror or e}") from None
    head = _split_head(raw)
    if head is not None:
        head_bytes, plan_bytes = head
        try:
            doc = parse_record(path, head_bytes, RUN_FORMAT)
        except RecordError:
            doc = None  # let the whole record's parse say precisely what is wrong
        if doc is not None and isinstance(doc.get("run"), dict) and "counts" in doc["run"]:
            return run_from_doc(path, doc, name, loader, raw_plan_bytes=plan_bytes)
    return run_from_doc(path, parse_record(path, raw, RUN_FORMAT), name, loader)


_PLAN_KEY = b',"plan":{'


def _split_head(raw: bytes) -> tuple[bytes, bytes] | None:
    """Split a ``run.json`` written by this code into (head record, plan object bytes).

    The writer puts ``plan`` last in the run body, after ``counts``, with compact separators, so
    the record is ``HEAD,"plan":{...}}}``. A quote inside a JSON string is always escaped, so
    ``,"plan":{`` can only be the structural key; the last one is taken because step rows never
    contain it. Returns None when the record does not have that shape (then it is parsed whole).
    """
    i = raw.rfind(_PLAN_KEY)
    if i < 0:
        return None
    tail = raw[i + len(_PLAN_KEY) - 1 :].rstrip()
    if not tail.endswith(b"}}}"):
        return None
    return raw[:i] + b"}}", tail[:-2]


def read_runs(layout: Layout, names: Iterable[str], loader: Any) -> dict[str, Run]:
    """Read several runs; broken ones are skipped with a warning naming the path."""
    out: dict[str, Run] = {}
    runs_dir = str(layout.runs_dir)
    with _gc_paused():
        for name in names:
            try:
                out[name] = read_run(layout, name, loader, runs_dir)
            except FileNotFoundError:
                continue  # removed since it was listed
            except RecordError as e:
                logger.warning("skipping run %r: %s", name, e)
    return out


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small acyclic objects.

    Decoding thousands of records allocates enough containers to trigger repeated full
    collections over a growing heap (about a third of a 10,000-run listing); nothing built
    here forms cycles, so the collector has nothing to find meanwhile.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
