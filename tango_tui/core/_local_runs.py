"""Runs of a :class:`~tango_tui.core.LocalWorkspace`: registration, records, fast listing.

A run is ``runs/<name>/`` holding ``run.json`` (the run and a :class:`RunStep` row for every step
of it) and one relative symlink per target step. Registration builds all of that in a temporary
directory under ``runs/`` and renames it into place, so a run appears whole or not at all, and a
name that exists is never overwritten (renaming onto a non-empty directory fails).

Listing reads each ``run.json`` once and nothing else: ``Run.steps`` is a :class:`LazyStepInfos`
that opens step records only when someone looks at them.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import logging
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import coolname

from ._errors import InvalidNameError, RecordError, RunExistsError, WorkspaceError
from ._format import (
    CACHE_DIR,
    RUN_FORMAT,
    RUN_RECORD,
    STEP_FORMAT,
    TMP_PREFIX,
    Layout,
    parse_record,
    write_record,
)
from ._liveness import owner_is_alive
from ._local_cache import fsync_dir
from ._logs import file_handler
from ._model import (
    LazyStepInfos,
    Owner,
    Run,
    RunStatus,
    RunStep,
    StepInfo,
    StepState,
    dt_from_json,
    dt_to_json,
    utc_now,
)
from ._names import encode_step_name, is_component, is_valid_run_name, step_uid, validate_run_name
from ._workspace import RunSort

if TYPE_CHECKING:
    from ._step import Step

logger = logging.getLogger(__name__)

_MAX_NAME_TRIES = 100


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
            "plan": {uid: row.to_json_dict() for uid, row in run.plan.items()},
        }
    }


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


_VALID_STATES = frozenset(state.value for state in StepState)


class LazyPlan(dict):  # type: ignore[type-arg]
    """``Run.plan`` (``{unique id: RunStep}``) parsed from the raw ``run.json`` rows on first use.

    Listing thousands of runs should not build every :class:`RunStep`; the rows were checked for
    shape when the record was read, and a row that still fails to parse raises
    :class:`RecordError` naming the record. Behaves as a plain dict once touched.
    """

    __slots__ = ("_path", "_raw")

    def __init__(self, raw: dict[str, Any], path: str | Path):
        super().__init__()
        self._raw: dict[str, Any] | None = raw
        self._path = path

    def _load(self) -> None:
        raw = self._raw
        if raw is None:
            return
        try:
            parsed = {str(uid): RunStep.from_json_dict(row) for uid, row in raw.items()}
        except (TypeError, ValueError) as e:
            raise RecordError(self._path, f"run record has a malformed plan row: {e}") from None
        self._raw = None
        super().update(parsed)

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(self.items()),))


def _loading(name: str) -> Any:
    base = getattr(dict, name)

    def method(self: LazyPlan, *args: Any, **kwargs: Any) -> Any:
        self._load()
        return base(self, *args, **kwargs)

    method.__name__ = name
    return method


for _name in (
    "__getitem__",
    "__iter__",
    "__len__",
    "__contains__",
    "__eq__",
    "__ne__",
    "__repr__",
    "__reversed__",
    "__or__",
    "__ror__",
    "__ior__",
    "__setitem__",
    "__delitem__",
    "keys",
    "values",
    "items",
    "get",
    "copy",
    "pop",
    "popitem",
    "setdefault",
    "update",
    "clear",
):
    setattr(LazyPlan, _name, _loading(_name))


def _check_plan_shape(raw: Any) -> None:
    """Cheap checks of the raw plan rows (the full parse waits until the plan is used)."""
    if not isinstance(raw, dict):
        raise TypeError("plan must be an object")
    for uid, row in raw.items():
        if type(row) is not dict or row.get("state", "incomplete") not in _VALID_STATES:
            raise ValueError(f"plan row {uid!r} is not a step row")


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
            return self.step_info(uid)
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


def run_from_doc(path: str | Path, doc: Mapping[str, Any], dir_name: str, loader: Any) -> Run:
    """Build a :class:`Run` from a parsed ``run.json`` (RecordError naming ``path`` if unusable).

    ``loader(uid)`` (the workspace's ``step_info``) gives a target's StepInfo when ``Run.steps``
    is first read.
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
        raw_plan = body.get("plan") or {}
        _check_plan_shape(raw_plan)
        plan = LazyPlan(raw_plan, path)
        status = RunStatus(body.get("status") or RunStatus.INCOMPLETE.value)
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


def plan_for(targets: Mapping[str, Step]) -> dict[str, RunStep]:
    """A PENDING :class:`RunStep` row for every target and every (recursive) dependency."""
    steps: dict[str, Step] = {}
    target_ids = set()
    for step in targets.values():
        target_ids.add(step.unique_id)
        steps[step.unique_id] = step
        for dep in step.recursive_dependencies:
            steps.setdefault(dep.unique_id, dep)
    names = {step.unique_id: name for name, step in targets.items()}
    return {
        uid: RunStep(
            unique_id=uid,
            name=names.get(uid, step.name),
            step_class_name=step.step_class_name,
            target=uid in target_ids,
            dependencies=tuple(sorted(d.unique_id for d in step.dependencies)),
            cacheable=bool(step.cache_results),
        )
        for uid, step in steps.items()
    }


def targets_by_name(targets: Iterable[Step] | Mapping[str, Step]) -> dict[str, Step]:
    """``{step name: step}``; two different steps under one name are refused.

    A mapping's keys are the names (as ``run_steps`` takes them); otherwise each step's ``name``.
    """
    if isinstance(targets, Mapping):
        return {str(name): step for name, step in targets.items()}
    out: dict[str, Step] = {}
    for step in targets:
        other = out.get(step.name)
        if other is not None and other.unique_id != step.unique_id:
            raise InvalidNameError(
                step.name,
                f"two different target steps are named alike ({other.unique_id}, {step.unique_id})",
            )
        out[step.name] = step
    return out


# ----- the directory -------------------------------------------------------------------------
def create_run_dir(layout: Layout, run: Run) -> Path:
    """Create ``runs/<run.name>/`` whole (record and target links), or raise RunExistsError."""
    final = layout.run_dir(run.name)
    if os.path.lexists(final):
        raise RunExistsError(
            final, f"a run named {run.name!r} already exists (refusing to overwrite it)"
        )
    tmp = layout.runs_dir / f"{TMP_PREFIX}run.{os.getpid()}.{secrets.token_hex(4)}"
    os.mkdir(tmp)
    try:
        write_record(tmp / RUN_RECORD, RUN_FORMAT, run_to_body(run))
        targets = run.steps.unique_ids() if isinstance(run.steps, LazyStepInfos) else {}
        for step_name, uid in targets.items():
            # Relative, so a copied or NFS-mounted workspace still resolves.
            os.symlink(os.path.join("..", "..", CACHE_DIR, uid), tmp / encode_step_name(step_name))
        try:
            os.rename(tmp, final)
        except OSError as e:
            if e.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise RunExistsError(
                    final, f"a run named {run.name!r} already exists (refusing to overwrite it)"
                ) from None
            raise
        fsync_dir(layout.runs_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def point_latest(layout: Layout, name: str) -> None:
    """Atomically point ``ROOT/latest`` at ``runs/<name>`` (a relative link)."""
    tmp = layout.root / f"{TMP_PREFIX}latest.{os.getpid()}.{secrets.token_hex(4)}"
    os.symlink(os.path.join("runs", name), tmp)
    try:
        os.replace(tmp, layout.latest)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


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
    for name in list_dir_names(layout.runs_dir):
        if is_valid_run_name(name):
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
        with open(path, "rb") as f:
            raw = f.read()
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
    return run_from_doc(path, parse_record(path, raw, RUN_FORMAT), name, loader)


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


class RunsMixin:
    """Run registration and listing for LocalWorkspace (uses its ``layout``, ``step_info``,
    ``_writable`` and ``dir``)."""

    dir: Path
    layout: Layout
    _writable: Any
    step_info: Any

    def _ensure_record(self, step: Step) -> None:
        """Write an INCOMPLETE record for a step never seen, never replacing an existing one."""
        uid = step_uid(step)
        path = self.layout.step_record(uid)
        if os.path.exists(path):
            return
        self.layout.step_dir(uid).mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{TMP_PREFIX}{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        # Not fsynced: a placeholder carries nothing that cannot be made again.
        write_record(tmp, STEP_FORMAT, {"step": step.make_step_info().to_json_dict()}, fsync=False)
        try:
            os.link(tmp, path)  # publish only if absent: a concurrent RUNNING record wins
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)

    def register_run(
        self, targets: Iterable[Step] | Mapping[str, Step], name: str | None = None
    ) -> Run:
        """Register a run of ``targets`` under ``name`` (a readable one is invented if None).

        Creates ``runs/<name>/`` whole (record, one relative link per target), an INCOMPLETE
        record for each step never seen, and repoints ``latest``.

        Raises:
            RunExistsError: If a run called ``name`` exists (it is never overwritten).
            InvalidNameError: If ``name`` is not a safe run name.
        """
        self._writable("register a run")
        if name is not None:
            validate_run_name(name)
        by_name = targets_by_name(targets)
        plan = plan_for(by_name)
        seen: dict[str, Step] = {}
        for step in by_name.values():
            seen[step.unique_id] = step
            for dep in step.recursive_dependencies:
                seen.setdefault(dep.unique_id, dep)
        for step in seen.values():
            step_uid(step)  # refuse an unusable unique id before writing anything
        for step in seen.values():
            self._ensure_record(step)
        ids = {n: s.unique_id for n, s in by_name.items()}
        run = Run(
            name=name or "",
            steps=LazyStepInfos(ids, PlanLoader(self.step_info, plan)),
            start_date=utc_now(),
            plan=plan,
        )
        if name is not None:
            create_run_dir(self.layout, run)
        else:
            for attempt in range(_MAX_NAME_TRIES):
                run.name = coolname.generate_slug(2)
                if attempt >= _MAX_NAME_TRIES // 2:
                    run.name += f"-{secrets.token_hex(2)}"
                try:
                    create_run_dir(self.layout, run)
                    break
                except RunExistsError:
                    continue
            else:
                raise WorkspaceError(self.layout.runs_dir, "could not invent an unused run name")
        with contextlib.suppress(OSError):
            point_latest(self.layout, run.name)
        return run

    def registered_run(self, name: str) -> Run:
        """The run called ``name`` (KeyError if none; RecordError if its record is damaged)."""
        if not isinstance(name, str) or not is_component(name) or name.startswith("."):
            raise KeyError(f"no run {name!r} in workspace {self.dir}")
        try:
            return read_run(self.layout, name, self.step_info)
        except FileNotFoundError:
            raise KeyError(f"no run {name!r} in workspace {self.dir}") from None

    def registered_runs(self) -> dict[str, Run]:
        """All runs; damaged run records are skipped with a warning naming their path."""
        return read_runs(self.layout, sorted(run_names(self.layout)), self.step_info)

    def search_registered_runs(
        self,
        *,
        sort_by: RunSort | None = None,
        sort_descending: bool = True,
        match: str | None = None,
        start: int = 0,
        stop: int | None = None,
    ) -> list[Run]:
        """Runs whose name contains ``match``; sorting by name reads only the requested slice."""
        names = run_names(self.layout, match)
        if sort_by == RunSort.NAME:
            names.sort(reverse=sort_descending)
            return list(read_runs(self.layout, names[start:stop], self.step_info).values())
        runs = list(read_runs(self.layout, names, self.step_info).values())
        runs.sort(key=lambda r: (r.start_date, r.name), reverse=sort_descending)
        return runs[start:stop]

    def num_registered_runs(self, *, match: str | None = None) -> int:
        """How many run directories match (counted without reading their records)."""
        return len(run_names(self.layout, match))

    def update_run(self, run: Run) -> None:
        """Rewrite ``runs/<name>/run.json`` atomically (status, end date, owner, plan rows)."""
        self._writable("update a run")
        validate_run_name(run.name)
        if not self.layout.run_dir(run.name).is_dir():
            raise KeyError(f"no run {run.name!r} in workspace {self.dir}")
        write_record(self.layout.run_record(run.name), RUN_FORMAT, run_to_body(run))

    def capture_logs_for_run(self, name: str) -> contextlib.AbstractContextManager[None]:
        """Send Python logging (INFO and up) to ``runs/<name>/out.log`` while active."""
        self._writable("capture run logs")
        validate_run_name(name)
        if not self.layout.run_dir(name).is_dir():
            raise KeyError(f"no run {name!r} in workspace {self.dir}")
        return file_handler(self.layout.run_log(name))
