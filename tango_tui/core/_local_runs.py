"""Runs of a :class:`~tango_tui.core.LocalWorkspace`: registration, records, fast listing.

A run is ``runs/<name>/`` holding ``run.json`` (the run and a :class:`RunStep` row for every step
of it) and one relative symlink per target step. Registration builds all of that in a temporary
directory under ``runs/`` and renames it into place, so a run appears whole or not at all, and a
name that exists is never overwritten (renaming onto a non-empty directory fails).

Listing reads each ``run.json`` once and nothing else: ``Run.steps`` is a :class:`LazyStepInfos`
that opens step records only when someone looks at them.
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._errors import InvalidNameError, RecordError, RunExistsError, WorkspaceError
from ._format import CACHE_DIR, RUN_FORMAT, RUN_RECORD, TMP_PREFIX, Layout, parse_record, write_record
from ._liveness import owner_is_alive
from ._local_cache import fsync_dir
from ._model import LazyStepInfos, Owner, Run, RunStatus, RunStep, StepInfo, dt_from_json, dt_to_json
from ._names import encode_step_name, is_valid_run_name

if TYPE_CHECKING:
    from ._step import Step

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
            else {"host": owner.host, "pid": owner.pid, "pid_start": owner.pid_start, "boot_id": owner.boot_id},
            "targets": targets,
            "plan": {uid: row.to_json_dict() for uid, row in run.plan.items()},
        }
    }


def _owner_from_json(data: Any) -> Owner | None:
    if data is None:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("host"), str) or not isinstance(data.get("pid"), int):
        raise ValueError("owner must be an object with a string 'host' and an integer 'pid'")
    return Owner(host=data["host"], pid=data["pid"], pid_start=data.get("pid_start"), boot_id=data.get("boot_id"))


def run_from_doc(path: Path, doc: Mapping[str, Any], dir_name: str, loader: Any) -> Run:
    """Build a :class:`Run` from a parsed ``run.json`` (RecordError naming ``path`` if unusable).

    ``loader(uid, plan_row)`` gives the StepInfo of a target when ``Run.steps`` is first read.
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
        if not isinstance(raw_plan, dict):
            raise ValueError("plan must be an object")
        plan = {str(uid): RunStep.from_json_dict(row) for uid, row in raw_plan.items()}
        status = RunStatus(body.get("status") or RunStatus.INCOMPLETE.value)
        owner = _owner_from_json(body.get("owner"))
        end_date = dt_from_json(body.get("end_date"))
    except KeyError as e:
        raise RecordError(path, f"run record is missing field {e.args[0]!r}") from None
    except (TypeError, ValueError) as e:
        raise RecordError(path, f"run record is malformed: {e}") from None
    if status is RunStatus.RUNNING and owner_is_alive(owner) is False:
        status = RunStatus.CRASHED

    def load(uid: str) -> StepInfo:
        return loader(uid, plan.get(uid))

    return Run(
        name=name,
        steps=LazyStepInfos(targets, load),
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


def targets_by_name(targets: Iterable[Step]) -> dict[str, Step]:
    """``{step name: step}``; two different steps under one name are refused."""
    out: dict[str, Step] = {}
    for step in targets:
        other = out.get(step.name)
        if other is not None and other.unique_id != step.unique_id:
            raise InvalidNameError(
                step.name, f"two different target steps are named alike ({other.unique_id}, {step.unique_id})"
            )
        out[step.name] = step
    return out


# ----- the directory -------------------------------------------------------------------------
def create_run_dir(layout: Layout, run: Run) -> Path:
    """Create ``runs/<run.name>/`` whole (record and target links), or raise RunExistsError."""
    final = layout.run_dir(run.name)
    if os.path.lexists(final):
        raise RunExistsError(final, f"a run named {run.name!r} already exists (refusing to overwrite it)")
    tmp = layout.runs_dir / f"{TMP_PREFIX}run.{os.getpid()}.{secrets.token_hex(4)}"
    os.mkdir(tmp)
    try:
        write_record(tmp / RUN_RECORD, RUN_FORMAT, run_to_body(run))
        targets = run.steps.unique_ids() if isinstance(run.steps, LazyStepInfos) else {}
        for step_name, uid in targets.items():
            # Relative, so a copied or NFS-mounted workspace still resolves.
            os.symlink(os.path.join("..", "..", CACHE_DIR, uid), tmp / encode_step_name(step_name))
        fsync_dir(tmp)
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
    names = [n for n in list_dir_names(layout.runs_dir) if is_valid_run_name(n)]
    if match:
        needle = match.lower()
        names = [n for n in names if needle in n.lower()]
    return names


def read_run(layout: Layout, name: str, loader: Any) -> Run:
    """Read one run record (FileNotFoundError if the run does not exist; RecordError if broken)."""
    run_dir = layout.run_dir(name)
    path = layout.run_record(name)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        if os.path.isdir(run_dir):
            raise RecordError(path, "run directory has no run.json") from None
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
    for name in names:
        try:
            out[name] = read_run(layout, name, loader)
        except FileNotFoundError:
            continue  # removed since it was listed
        except RecordError as e:
            logger.warning("skipping run %r: %s", name, e)
    return out
