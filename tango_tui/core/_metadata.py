"""Small data records shared by the model: timestamps, platform/environment metadata, owners,
progress reports. Re-exported by :mod:`tango_tui.core._model`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


def utc_now() -> datetime:
    """The current time as a timezone-aware UTC datetime."""
    return datetime.now(UTC)


def dt_to_json(value: datetime | None) -> str | None:
    """Serialise a datetime as ISO 8601 (naive datetimes are taken to be UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def dt_from_json(value: Any) -> datetime | None:
    """Parse an ISO 8601 string written by :func:`dt_to_json`; ``None`` stays ``None``."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO 8601 string, got {type(value).__name__}")  # noqa: TRY004 (callers catch ValueError)
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


@dataclass(frozen=True)
class GitMetadata:
    """Where the code that ran a step came from."""

    commit: str | None = None
    """The commit hash of the working directory's repository, if any."""
    remote: str | None = None
    """The URL of the ``origin`` remote, if any."""
    dirty: bool | None = None
    """Whether the working tree had uncommitted changes."""


@dataclass(frozen=True)
class PlatformMetadata:
    """The machine a step ran on."""

    host: str | None = None
    """Host name."""
    user: str | None = None
    """User name."""
    operating_system: str | None = None
    """``platform.platform()``."""
    cpu_count: int | None = None
    """Number of CPUs."""


@dataclass(frozen=True)
class EnvironmentMetadata:
    """The software environment a step ran in."""

    python: str | None = None
    """Python version."""
    executable: str | None = None
    """Path of the Python interpreter."""
    command: str | None = None
    """The command line of the process."""
    root: str | None = None
    """The working directory."""
    git: GitMetadata | None = None
    """Source control information, if the working directory is a git checkout."""
    packages: dict[str, str] | None = None
    """Installed distributions and versions, when recorded."""


@dataclass(frozen=True)
class Owner:
    """The process that is executing (or executed) a step; used to tell a dead step from a live one."""

    host: str
    """Host name of the machine."""
    pid: int
    """Process id."""
    pid_start: int | None = None
    """The process's start time in clock ticks since boot (``/proc/PID/stat`` field 22)."""
    boot_id: str | None = None
    """``/proc/sys/kernel/random/boot_id`` of the machine: a reboot changes it."""


@functools.cache
def _field_names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls))


def _from_dict(cls: type, data: Any) -> Any:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__}: expected an object, got {type(data).__name__}")  # noqa: TRY004 (callers catch ValueError)
    names = _field_names(cls)
    kwargs = {k: v for k, v in data.items() if k in names}
    if cls is EnvironmentMetadata and kwargs.get("git") is not None:
        kwargs["git"] = _from_dict(GitMetadata, kwargs["git"])
    return cls(**kwargs)


@dataclass(frozen=True)
class Progress:
    """Progress of a running step, as the step last reported it (``progress.json``)."""

    done: float
    """Units done so far."""
    total: float | None = None
    """Units in all, if known."""
    unit: str = "it"
    """What a unit is (``"it"``, ``"batch"``, ``"B"``...)."""
    desc: str | None = None
    """A short label."""
    started: datetime | None = None
    """When counting started."""
    updated: datetime | None = None
    """When this report was written."""
    rate: float | None = None
    """Recent units per second (smoothed), if known."""

    @property
    def fraction(self) -> float | None:
        """``done / total`` in [0, 1], or None when the total is unknown."""
        if not self.total:
            return None
        return max(0.0, min(1.0, self.done / self.total))

    @property
    def eta_seconds(self) -> float | None:
        """Seconds left at the current rate, or None when unknown."""
        if not self.total or not self.rate or self.rate <= 0:
            return None
        return max(0.0, (self.total - self.done) / self.rate)

    def to_json_dict(self) -> dict[str, Any]:
        """JSON form, as stored in ``progress.json``."""
        return {
            "done": self.done,
            "total": self.total,
            "unit": self.unit,
            "desc": self.desc,
            "started": dt_to_json(self.started),
            "updated": dt_to_json(self.updated),
            "rate": self.rate,
        }

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> Progress:
        """Inverse of :meth:`to_json_dict`; raises ValueError on bad data."""
        if not isinstance(data, Mapping) or not isinstance(data.get("done"), int | float):
            raise ValueError("progress needs a numeric 'done'")  # noqa: TRY004 (callers catch ValueError)
        total = data.get("total")
        rate = data.get("rate")
        return cls(
            done=float(data["done"]),
            total=float(total) if isinstance(total, int | float) else None,
            unit=str(data.get("unit") or "it"),
            desc=data.get("desc"),
            started=dt_from_json(data.get("started")),
            updated=dt_from_json(data.get("updated")),
            rate=float(rate) if isinstance(rate, int | float) else None,
        )


_ASDICT: dict[int, tuple[Any, dict[str, Any]]] = {}


def _frozen_asdict(value: Any) -> dict[str, Any] | None:
    """``dataclasses.asdict`` of a frozen metadata record, memoised by identity.

    Every record a process writes carries the same (per-process cached) platform and environment
    objects; converting them once instead of on each of a step's writes saves most of the cost of
    encoding a record. The result is shared: callers only serialise it, never mutate it.
    """
    if value is None:
        return None
    hit = _ASDICT.get(id(value))
    if hit is not None and hit[0] is value:
        return hit[1]
    out = dataclasses.asdict(value)
    if len(_ASDICT) >= 16:
        _ASDICT.clear()
    _ASDICT[id(value)] = (value, out)  # keeps ``value`` alive, so its id is not reused
    return out


def _owner_dict(owner: Owner | None) -> dict[str, Any] | None:
    if owner is None:
        return None
    return {
        "host": owner.host,
        "pid": owner.pid,
        "pid_start": owner.pid_start,
        "boot_id": owner.boot_id,
    }
