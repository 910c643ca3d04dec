"""Pieces of the local reader that need no I/O: parsing ``run.json`` and ordering steps."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..core import _format as fmt
from ..core._errors import RecordError
from ..core._model import Owner, RunStatus, StepState, dt_from_json
from ._rows import RunRow, StepRow


@dataclass
class RunRecord:
    """``run.json`` as read for listing.

    ``plan`` holds the raw plan rows when the whole record was decoded, and None when only its
    head was (see :func:`summarize_run`); ``n_plan`` and ``state_counts`` are always set.
    """

    name: str
    start_date: datetime
    end_date: datetime | None
    status: RunStatus | None
    owner: Owner | None
    targets: dict[str, str]
    plan: dict[str, dict[str, Any]] | None
    state_counts: dict[StepState, int]
    n_plan: int


_STATES = {s.value: s for s in StepState}
_STATUSES = {s.value: s for s in RunStatus}
# The writer (core/_run_records.run_to_body) puts "counts" before "plan", the last key. In JSON a
# '"' outside a string is never preceded by a backslash, so this byte sequence can only be a key
# "plan" whose value is an object: the first one after "counts" is the run body's.
_PLAN_KEY = b',"plan":{'
_COUNTS_KEY = b'"counts":{'


def summarize_run(path: str, raw: bytes) -> RunRecord:
    """The listing summary of the ``run.json`` bytes ``raw`` read from ``path``.

    A record that carries ``counts`` is decoded only up to its plan (the per-step rows are most
    of the bytes and most of the decoding time); an older record is decoded whole and its rows
    counted. Either way no per-step object is built.

    Raises:
        RecordError: The record cannot be used (the message names ``path``).
    """
    cut = raw.find(_PLAN_KEY)
    if cut > 0 and raw.find(_COUNTS_KEY, 0, cut) > 0:
        try:
            head = fmt.parse_record(path, raw[:cut] + b"}}", fmt.RUN_FORMAT)
        except RecordError:
            head = None  # not the writer's layout after all: decode it whole below
        body = head.get("run") if head is not None else None
        counts = body.get("counts") if isinstance(body, dict) else None
        if isinstance(counts, dict) and _ends_whole(raw, counts):
            return _summary(path, body, None, _counts_of(counts))  # type: ignore[arg-type]
    return parse_run(path, raw)


def _ends_whole(raw: bytes, counts: dict[str, Any]) -> bool:
    """Whether the undecoded tail ends like a whole record: the last plan row (rows are flat),
    the plan, the run and the document all closed. A torn or truncated record (a prefix of a
    whole one) fails this unless it is cut inside a string holding "}}}}": it is then decoded
    whole, and its error reported."""
    closing = b"}}}}" if any(counts.values()) else b"}}}"
    return raw.endswith(closing) or raw.rstrip().endswith(closing)  # copy only if needed


def parse_run(path: str | Path, raw: bytes) -> RunRecord:
    """The whole record, raw plan rows included (for a run's detail).

    Raises:
        RecordError: The record cannot be used.
    """
    path = os.fspath(path)
    body = fmt.parse_record(path, raw, fmt.RUN_FORMAT).get("run")
    if not isinstance(body, dict):
        raise RecordError(path, "run record has no 'run' object")
    plan = body.get("plan") or {}
    if not isinstance(plan, dict):
        raise RecordError(path, "run record's plan is not an object")
    tally: dict[str, int] = {}
    for row in plan.values():
        state = row.get("state", "incomplete") if type(row) is dict else "incomplete"
        key = state if type(state) is str else "incomplete"
        tally[key] = tally.get(key, 0) + 1
    return _summary(path, body, plan, _counts_of(tally))


def _counts_of(raw: dict[str, Any]) -> dict[StepState, int] | None:
    """``{StepState: n}`` from ``{state value: n}``; an unknown state counts as INCOMPLETE."""
    counts: dict[StepState, int] = {}
    for key, n in raw.items():
        if type(n) is not int or n < 0:
            return None
        state = _STATES.get(key, StepState.INCOMPLETE)
        counts[state] = counts.get(state, 0) + n
    return counts


def _summary(
    path: str,
    body: dict[str, Any],
    plan: dict[str, Any] | None,
    counts: dict[StepState, int] | None,
) -> RunRecord:
    if counts is None:
        raise RecordError(path, "run record's counts are not step counts")
    try:
        start = dt_from_json(body.get("start_date"))
        end = dt_from_json(body.get("end_date"))
        raw_status = body.get("status")
        status = _STATUSES.get(raw_status) if raw_status else None
        if raw_status and status is None:
            raise ValueError(f"unknown run status {raw_status!r}")
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
    if not isinstance(targets, dict):
        raise RecordError(path, "run record's targets are not an object")
    return RunRecord(
        name=str(body.get("name") or os.path.basename(os.path.dirname(path))),
        start_date=start,
        end_date=end,
        status=status,
        owner=owner,
        targets=targets
        if set(map(type, targets.values())) <= {str}
        else {str(k): str(v) for k, v in targets.items()},
        plan=plan,
        state_counts=counts,
        n_plan=len(plan) if plan is not None else sum(counts.values()),
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
