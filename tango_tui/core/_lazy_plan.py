"""``Run.plan`` as read from ``run.json``: :class:`LazyPlan`, decoded on first use.

A listing of thousands of runs decodes only each record's head (see
:func:`tango_tui.core._run_records.read_run`); the plan rows stay raw until something reads them,
and :meth:`LazyPlan.head_counts` answers ``Run.counts()`` from the record's own ``counts``
meanwhile.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ._errors import RecordError
from ._model import RunStep, StepState

_VALID_STATES = frozenset(state.value for state in StepState)


class LazyPlan(dict):  # type: ignore[type-arg]
    """``Run.plan`` (``{unique id: RunStep}``) parsed from the raw ``run.json`` rows on first use.

    Listing thousands of runs should not build every :class:`RunStep`; the rows were checked for
    shape when the record was read, and a row that still fails to parse raises
    :class:`RecordError` naming the record. Behaves as a plain dict once touched.
    """

    __slots__ = ("_counts", "_path", "_raw")

    def __init__(
        self,
        raw: dict[str, Any] | bytes,
        path: str | Path,
        counts: dict[StepState, int] | None = None,
    ):
        super().__init__()
        # Either the decoded rows, or the undecoded bytes of the plan object (a listing decodes
        # only the record's head; see ``read_run``).
        self._raw: dict[str, Any] | bytes | None = raw
        self._path = path
        self._counts = counts  # the record's own "counts", valid while the rows are untouched

    def head_counts(self) -> dict[StepState, int] | None:
        """The record's ``counts`` while the plan is still undecoded (None once it is decoded,
        since the rows may have changed since, or when the record has no usable counts)."""
        if self._raw is None or self._counts is None:
            return None
        return dict(self._counts)

    def _load(self) -> None:
        raw = self._raw
        if raw is None:
            return
        try:
            if isinstance(raw, bytes):
                try:
                    raw = json.loads(raw)
                except (UnicodeDecodeError, json.JSONDecodeError) as e:
                    raise ValueError(f"plan is not valid JSON: {e}") from None
                check_plan_shape(raw)
            assert isinstance(raw, dict)
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


def check_plan_shape(raw: Any) -> None:
    """Cheap checks of the raw plan rows (the full parse waits until the plan is used)."""
    if not isinstance(raw, dict):
        raise TypeError("plan must be an object")
    for uid, row in raw.items():
        if type(row) is not dict or row.get("state", "incomplete") not in _VALID_STATES:
            raise ValueError(f"plan row {uid!r} is not a step row")


def counts_from_json(raw: Any) -> dict[StepState, int] | None:
    """The ``counts`` of a record as ``{StepState: n}``; None if absent or unusable (then
    ``Run.counts()`` falls back to the plan, which is authoritative)."""
    if not isinstance(raw, dict):
        return None
    out: dict[StepState, int] = {}
    for key, n in raw.items():
        if key not in _VALID_STATES or type(n) is not int or n < 0:
            return None
        out[StepState(key)] = n
    return out
