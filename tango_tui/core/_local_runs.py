"""Runs of a :class:`~tango_tui.core.LocalWorkspace`: registration and listing.

A run is ``runs/<name>/`` holding ``run.json`` (the run and a :class:`RunStep` row for every step
of it) and one relative symlink per target step. Registration builds all of that in a temporary
directory under ``runs/`` and renames it into place, so a run appears whole or not at all, and a
name that exists is never overwritten (renaming onto a non-empty directory fails). Reading the
records is :mod:`tango_tui.core._run_records`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import coolname

from ._errors import InvalidNameError, RunExistsError, WorkspaceError
from ._format import (
    CACHE_DIR,
    RUN_FORMAT,
    RUN_RECORD,
    STEP_FORMAT,
    TMP_PREFIX,
    Layout,
    dump_record,
    write_new_file,
    write_record,
)
from ._lazy_infos import LazyStepInfos
from ._local_cache import fsync_dir
from ._logs import file_handler
from ._model import Run, RunStep, utc_now
from ._names import encode_step_name, is_component, step_uid, validate_run_name
from ._run_records import PlanLoader, read_run, read_runs, run_names, run_to_body
from ._workspace import RunSort

if TYPE_CHECKING:
    from ._step import Step

_MAX_NAME_TRIES = 100


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
        # fsynced, and the directory after the rename: a registered run (and so its name) survives a
        # power cut, so a name is never handed out twice. Once per run, not per step.
        # Straight to its name: the directory is not visible until renamed.
        write_new_file(tmp / RUN_RECORD, dump_record(RUN_FORMAT, run_to_body(run)), fsync=True)
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
        # Not fsynced: a placeholder carries nothing that cannot be made again. Written straight
        # to its temporary name: readers only ever see it through the link below, whole.
        write_new_file(
            tmp, dump_record(STEP_FORMAT, {"step": step.make_step_info().to_json_dict()})
        )
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
        # Not fsynced: the rename already keeps it whole for every reader, and a rewrite lost to a
        # power cut only leaves the previous one (registration, which is fsynced, or an earlier
        # update), whose owner is then dead: the run reads CRASHED, which is what happened.
        # Rewrites come every 0.3 s while a run executes; a flush each time would stall the
        # executor on the recorder's lock for nothing.
        write_record(self.layout.run_record(run.name), RUN_FORMAT, run_to_body(run), fsync=False)

    def capture_logs_for_run(self, name: str) -> contextlib.AbstractContextManager[None]:
        """Send Python logging (INFO and up) to ``runs/<name>/out.log`` while active."""
        self._writable("capture run logs")
        validate_run_name(name)
        if not self.layout.run_dir(name).is_dir():
            raise KeyError(f"no run {name!r} in workspace {self.dir}")
        return file_handler(self.layout.run_log(name))
