"""Pieces of the local reader that need no I/O: parsing ``run.json`` and ordering steps."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..core._errors import RecordError
from ..core._model import Owner, RunStatus, StepState, dt_from_json
from ._rows import RunRow, StepRow


@dataclass
class RunRecord:
    """``run.json`` as parsed for listing (plan rows kept raw until a detail needs them)."""

    name: str
    start_date: datetime
    end_date: datetime | None
    status: RunStatus | None
    owner: Owner | None
    targets: dict[str, str]
    plan: dict[str, dict[str, Any]]
    state_counts: dict[StepState, int]


def parse_run(path: Path, doc: dict[str, Any]) -> RunRecord:
    body = doc.get("run")
    if not isinstance(body, dict):
        raise RecordError(path, "run record has no 'run' object")
    try:
        start = dt_from_json(body.get("start_date"))
        end = dt_from_json(body.get("end_date"))
        status = RunStatus(body["status"]) if body.get("status") else None
        owner_raw = body.get("owner")
        owner = (
            Owner(
                **{
                    k: owner_raw[k]
                    for k in ("host", "pid", "pid_start", "boot_id")
                    if k in owner_raw
                }
            )
            if isinstance(owner_raw, dict)
            else None
        )
    except (ValueError, TypeError, KeyError) as e:
        raise RecordError(path, f"run record has a bad field: {e}") from None
    if start is None:
        raise RecordError(path, "run record has no start_date")
    targets = body.get("targets") or {}
    plan = body.get("plan") or {}
    if not isinstance(targets, dict) or not isinstance(plan, dict):
        raise RecordError(path, "run record's targets/plan are not objects")
    counts: dict[StepState, int] = {}
    for row in plan.values():
        try:
            state = (
                StepState(row.get("state", "incomplete"))
                if isinstance(row, dict)
                else StepState.INCOMPLETE
            )
        except ValueError:
            state = StepState.INCOMPLETE
        counts[state] = counts.get(state, 0) + 1
    return RunRecord(
        name=str(body.get("name") or path.parent.name),
        start_date=start,
        end_date=end,
        status=status,
        owner=owner,
        targets={str(k): str(v) for k, v in targets.items()},
        plan=plan,
        state_counts=counts,
    )


def newest_first(row: RunRow) -> tuple[float, str]:
    return (-row.start_date.timestamp(), row.name)


def dependency_order(rows: list[StepRow]) -> list[StepRow]:
    """Dependencies before dependents, otherwise in the given order (a cycle is cut, not fatal)."""
    by_uid = {r.unique_id: r for r in rows}
    seen: set[str] = set()
    out: list[StepRow] = []
    for first in rows:
        if first.unique_id in seen:
            continue
        seen.add(first.unique_id)
        # Iterative depth-first post-order: a 1,000-step chain must not hit the recursion limit.
        stack: list[tuple[StepRow, Iterator[str]]] = [(first, iter(first.dependencies))]
        while stack:
            node, deps = stack[-1]
            for uid in deps:
                dep = by_uid.get(uid)
                if dep is not None and uid not in seen:
                    seen.add(uid)
                    stack.append((dep, iter(dep.dependencies)))
                    break
            else:
                stack.pop()
                out.append(node)
    return out
