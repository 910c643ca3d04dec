"""The kill storm's steps: small real pipelines whose bodies are journaled and whose results carry
checksums (see ``scripts/kill_storm.py``).

Every job ``j`` has a target ``total(j)`` that sums its own mix and the previous job's; every mix
also needs one of :data:`HUBS` shared hub generators, so concurrent workers contend for the same
steps. :func:`expected` recomputes any result without a workspace, to compare with the cache.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from collections.abc import Iterable
from typing import Any

from tango_tui import Step

JOURNAL_ENV = "KILL_STORM_JOURNAL"
"""Environment variable naming the journal file step bodies append to (unset: no journal)."""
HUBS = 5
"""How many hub steps every job shares."""


def _digest(*parts: Any) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _wrap(kind: str, inputs: str, value: Any) -> dict[str, Any]:
    """A result that carries a checksum of its inputs and of itself."""
    return {"kind": kind, "inputs": inputs, "value": value, "check": _digest(kind, inputs, value)}


def result_is_sound(result: Any) -> bool:
    """Whether a result's embedded checksum matches its content."""
    return (
        isinstance(result, dict)
        and set(result) == {"kind", "inputs", "value", "check"}
        and result["check"] == _digest(result["kind"], result["inputs"], result["value"])
    )


def _journal(event: str, uid: str) -> None:
    path = os.environ.get(JOURNAL_ENV)
    if path:
        # One small O_APPEND write per line: lines from several processes never interleave.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{event} {uid} {os.getpid()} {time.monotonic():.6f}\n".encode())
        finally:
            os.close(fd)


class _Journaled(Step):
    """A step whose body is journaled and does a little work (so kills land inside it)."""

    def run(self, **kwargs: Any) -> Any:  # type: ignore[override]
        _journal("start", self.unique_id)
        value = self.compute(**kwargs)
        self.progress(1, 2)
        time.sleep(random.uniform(0.0, 0.015))
        self.progress(2, 2)
        _journal("end", self.unique_id)
        return value

    @staticmethod
    def compute(**kwargs: Any) -> Any:
        raise NotImplementedError


class Gen(_Journaled):
    """``size`` pseudo-random numbers from ``seed`` (JSON result, up to ~200 KB)."""

    VERSION = "1"

    @staticmethod
    def compute(seed: int, size: int) -> dict[str, Any]:  # type: ignore[override]
        rnd = random.Random(seed)
        return _wrap("gen", _digest(seed, size), [rnd.randrange(10**6) for _ in range(size)])


class Mix(_Journaled):
    """Mixes a generator's numbers with a hub's (a tuple: stored as a pickle)."""

    VERSION = "1"
    FORMAT = "pickle"

    @staticmethod
    def compute(a: dict[str, Any], b: dict[str, Any], salt: int) -> dict[str, Any]:  # type: ignore[override]
        hub = b["value"]
        value = tuple(
            (x * 31 + hub[i % len(hub)] + salt) % 1_000_003 for i, x in enumerate(a["value"])
        )
        return _wrap("mix", _digest(a["check"], b["check"], salt), value)


class Total(_Journaled):
    """Sums mixes (this job's and the previous job's)."""

    VERSION = "1"

    @staticmethod
    def compute(parts: list[dict[str, Any]]) -> dict[str, Any]:  # type: ignore[override]
        value = [sum(p["value"]) for p in parts]
        return _wrap("total", _digest(*(p["check"] for p in parts)), value)


def _size(seed: int) -> int:
    return random.Random(seed * 7919).choice([50, 500, 2_000, 8_000, 30_000])


def hub(h: int) -> Gen:
    """Shared hub step ``h``."""
    return Gen(seed=1_000_000 + h, size=_size(h))


def mix(j: int) -> Mix:
    """Job ``j``'s mix."""
    return Mix(a=Gen(seed=j, size=_size(j)), b=hub(j % HUBS), salt=j)


def total(j: int) -> Total:
    """Job ``j``'s target: its mix plus the previous job's (shared with job ``j - 1``)."""
    parts = [mix(j)] if j == 0 else [mix(j), mix(j - 1)]
    return Total(parts=parts, step_name=f"total-{j}")


def expected(step: Step, memo: dict[str, Any]) -> Any:
    """The result ``step`` must have, computed here without any workspace."""
    if step.unique_id not in memo:

        def resolve(v: Any) -> Any:
            if isinstance(v, Step):
                return expected(v, memo)
            if isinstance(v, list):
                return [resolve(x) for x in v]
            return v

        compute = type(step).compute  # type: ignore[attr-defined]
        memo[step.unique_id] = compute(**{k: resolve(v) for k, v in step.kwargs.items()})
    return memo[step.unique_id]


def all_steps(jobs: Iterable[int]) -> dict[str, Step]:
    """Every step of ``jobs`` (targets and dependencies) by unique id."""
    out: dict[str, Step] = {}
    stack: list[Step] = [total(j) for j in jobs]
    while stack:
        s = stack.pop()
        if s.unique_id not in out:
            out[s.unique_id] = s
            stack.extend(s.dependencies)
    return out
