"""Turning Tango 1.x step records (stand-ins from the restricted unpickler, or JSON) into our model."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import PurePath
from typing import Any

from .._model import EnvironmentMetadata, GitMetadata, PlatformMetadata, StepInfo, StepState
from ._unpickle import ExceptionStandIn, StandIn


@dataclass
class Tango1StepInfo(StepInfo):
    """A :class:`StepInfo` read from a Tango 1.x workspace.

    Its ``state`` follows Tango's rule for uncacheable steps: Tango never records times for them,
    so an uncacheable step is always UNCACHEABLE.
    """

    tango_version: str | None = None
    """The ai2-tango version that wrote the record, if recorded."""
    liveness_unknown: str | None = field(default=None, compare=False)
    """Why a RUNNING step may in fact be dead but cannot be checked from here (another host, NFS)."""

    @property
    def state(self) -> StepState:
        """Tango's derivation (uncacheable steps are always UNCACHEABLE), plus CRASHED."""
        if not self.cacheable:
            return StepState.UNCACHEABLE
        return StepInfo.state.fget(self)  # type: ignore[attr-defined,no-any-return]


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, StandIn):
        return obj.get(name, default)
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return default


JSON_NODE_BUDGET = 20_000
"""How many values :func:`json_safe` copies from one record before it stops (a pickle can share
one subtree many times over, which a naive walk would copy exponentially often)."""


def json_safe(value: Any, _budget: list[int] | None = None, _depth: int = 0) -> Any:
    """A JSON-compatible copy of decoded pickle data (paths and dates as strings, sets as lists).

    Bounded: at most :data:`JSON_NODE_BUDGET` values and 64 levels; the rest becomes ``"…"``.
    """
    budget = [JSON_NODE_BUDGET] if _budget is None else _budget
    budget[0] -= 1
    if budget[0] < 0 or _depth > 64:
        return "…"
    if value is None or isinstance(value, bool | int | float | str):
        return value if not isinstance(value, str) else str(value)
    if isinstance(value, StandIn):
        value = value.fields if hasattr(value, "fields") else {}
    if isinstance(value, Mapping):
        return {
            (k if isinstance(k, str) else _str(k) or ""): json_safe(v, budget, _depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [json_safe(v, budget, _depth + 1) for v in value]
    if isinstance(value, set | frozenset):
        items = [json_safe(v, budget, _depth + 1) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return items
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray):
        return repr(bytes(value[:200]))
    return _str(value)


def _dt(value: Any) -> datetime | None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        # Old Tango versions stored naive local times; astimezone() reads a naive time as local.
        return value.astimezone(UTC)
    return value.astimezone(UTC)


def _str(value: Any) -> str | None:
    """Text of a scalar field; never the repr of a container (it can be made huge)."""
    if value is None:
        return None
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool | int | float | PurePath | datetime | date | ExceptionStandIn):
        return str(value)
    return f"<{type(value).__name__}>"


def split_error(error: Any) -> tuple[str | None, str | None]:
    """Tango's ``error`` (a whole formatted traceback) -> (``Type: message``, traceback)."""
    text = _str(error)
    if not text:
        return None, None
    if "Traceback (most recent call last)" not in text:
        return text.strip(), None
    lines = [line for line in text.rstrip().splitlines() if line.strip()]
    # The exception line is the last one not indented (a multi-line message may follow it).
    for i in range(len(lines) - 1, -1, -1):
        if not lines[i].startswith((" ", "\t")) and not lines[i].startswith("Traceback"):
            return lines[i].strip(), text
    return lines[-1].strip(), text


def _platform(obj: Any) -> PlatformMetadata | None:
    if obj is None:
        return None
    cpu = _get(obj, "cpu_count")
    return PlatformMetadata(
        host=_str(_get(obj, "host")),
        user=_str(_get(obj, "user")),
        operating_system=_str(_get(obj, "operating_system")),
        cpu_count=cpu if isinstance(cpu, int) else None,
    )


def _git(obj: Any) -> GitMetadata | None:
    if obj is None:
        return None
    return GitMetadata(commit=_str(_get(obj, "commit")), remote=_str(_get(obj, "remote")))


def _packages(value: Any) -> dict[str, str] | None:
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        out = {}
        for item in value:
            if isinstance(item, list | tuple) and len(item) == 2:
                out[str(item[0])] = str(item[1])
        return out
    return None


def _environment(obj: Any) -> EnvironmentMetadata | None:
    if obj is None:
        return None
    return EnvironmentMetadata(
        python=_str(_get(obj, "python")),
        executable=_str(_get(obj, "executable")),
        command=_str(_get(obj, "command")),
        root=_str(_get(obj, "root")),
        git=_git(_get(obj, "git")),
        packages=_packages(_get(obj, "packages")),
    )


def to_step_info(record: Any, key: str) -> Tango1StepInfo:
    """Build our record from a decoded Tango StepInfo (a stand-in or a JSON object).

    Args:
        record: The decoded record.
        key: The database key (used when the record lacks a unique id).

    Raises:
        ValueError: If the record is not a Tango StepInfo at all.
    """
    if not isinstance(record, StandIn | Mapping) or (
        isinstance(record, StandIn) and not type(record).tango_class.endswith("StepInfo")
    ):
        raise ValueError(f"expected a Tango StepInfo, found {type(record).__name__}")
    if isinstance(record, Mapping) and not {"unique_id", "step_class_name"} <= set(record):
        raise ValueError(
            "expected a Tango StepInfo, found an object without unique_id/step_class_name"
        )
    error, traceback = split_error(_get(record, "error"))
    deps = _get(record, "dependencies") or ()
    env = _get(record, "environment")
    tango = _get(env, "tango")
    config = json_safe(_get(record, "config"))
    metadata = json_safe(_get(record, "metadata"))
    return Tango1StepInfo(
        unique_id=_str(_get(record, "unique_id")) or key,
        step_class_name=_str(_get(record, "step_class_name")) or key.split("-", 1)[0],
        step_name=_str(_get(record, "step_name")),
        version=_str(_get(record, "version")),
        dependencies=frozenset(d for d in deps if isinstance(d, str))
        if isinstance(deps, set | frozenset | list | tuple)
        else frozenset(),
        # Version-1 records predate the field; only cacheable steps were recorded then.
        cacheable=bool(_get(record, "cacheable", True)),
        start_time=_dt(_get(record, "start_time")),
        end_time=_dt(_get(record, "end_time")),
        error=error,
        traceback=traceback,
        result_location=_str(_get(record, "result_location")),
        config=config
        if isinstance(config, dict)
        else ({"value": config} if config is not None else None),
        metadata=metadata if isinstance(metadata, dict) else None,
        platform=_platform(_get(record, "platform")),
        environment=_environment(env),
        attempt=0,
        tango_version=_str(_get(tango, "version")),
    )


def with_liveness(info: Tango1StepInfo, crashed: str | None, unknown: str | None) -> Tango1StepInfo:
    """A copy of ``info`` with the reader's liveness verdict applied."""
    return dataclasses.replace(info, crashed=crashed, liveness_unknown=unknown)
