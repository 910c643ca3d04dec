"""Write tango-tui workspaces in the documented on-disk layout, for monitor tests.

Uses the format module's own ``write_record`` so the files are exactly what the library writes.
"""

from __future__ import annotations

import dataclasses
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tango_tui.core import _format as fmt
from tango_tui.core._liveness import current_owner
from tango_tui.core._model import Owner, RunStep, StepInfo, StepReason, StepState

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
DEAD_OWNER = Owner(
    host=current_owner().host, pid=2**22 + 12345, pid_start=1, boot_id=current_owner().boot_id
)


def init(root: Path) -> fmt.Layout:
    """Make ``root`` a workspace (marker, runs/, cache/)."""
    root.mkdir(parents=True, exist_ok=True)
    fmt.write_record(root / fmt.MARKER_FILE, fmt.WORKSPACE_FORMAT, {}, fsync=False)
    (root / "runs").mkdir(exist_ok=True)
    (root / "cache").mkdir(exist_ok=True)
    return fmt.Layout(root)


def write_step(root: Path, info: StepInfo) -> Path:
    """Write ``info`` as ``cache/<uid>/step.json``."""
    path = fmt.Layout(root).step_record(info.unique_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt.write_record(path, fmt.STEP_FORMAT, {"step": info.to_json_dict()}, fsync=False)
    return path


def write_run(
    root: Path,
    name: str,
    plan: list[RunStep],
    *,
    start: datetime = T0,
    end: datetime | None = None,
    status: str | None = None,
    owner: Owner | None = None,
) -> Path:
    """Write ``runs/<name>/run.json`` with ``plan`` (targets are the rows marked target)."""
    layout = fmt.Layout(root)
    path = layout.run_record(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    body: dict[str, Any] = {
        "name": name,
        "start_date": start.isoformat(),
        "end_date": end.isoformat() if end else None,
        "status": status,
        "owner": dataclasses.asdict(owner) if owner else None,
        "targets": {r.name: r.unique_id for r in plan if r.target},
        "plan": {r.unique_id: r.to_json_dict() for r in plan},
    }
    fmt.write_record(path, fmt.RUN_FORMAT, {"run": body}, fsync=False)
    return path


def row(
    uid: str, state: StepState = StepState.COMPLETED, reason: StepReason = StepReason.RAN, **kw: Any
) -> RunStep:
    """A plan row with sensible defaults."""
    kw.setdefault("name", uid.split("-")[0].lower())
    kw.setdefault("step_class_name", uid.split("-")[0])
    kw.setdefault("target", True)
    if state in (StepState.COMPLETED, StepState.FAILED):
        kw.setdefault("start_time", T0)
        kw.setdefault("end_time", T0 + timedelta(seconds=5))
    return RunStep(unique_id=uid, state=state, reason=reason, **kw)


def running_info(uid: str, owner: Owner, **kw: Any) -> StepInfo:
    """A RUNNING step record owned by ``owner``."""
    return StepInfo(
        unique_id=uid,
        step_class_name=uid.split("-")[0],
        start_time=T0,
        owner=owner,
        attempt=1,
        **kw,
    )


def touch_log(root: Path, rel: str, text: str = "") -> Path:
    """Create a log file at ``root/rel``."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(text)
    return path


def bump_mtime(path: Path) -> None:
    """Make sure a rewrite is seen even on coarse-mtime filesystems (inode changes anyway)."""
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
