"""The :class:`Step`: a unit of work with a deterministic unique id, its arguments and its result.

A step's ``unique_id`` is ``ClassName-VERSION-hash`` (``ClassName-hash`` without a VERSION), the
hash being base58 of a SHA-256 over a canonical encoding of the class's qualified name, its
VERSION and its arguments, where dependency steps count by their own unique id (see
:mod:`tango_tui.core._hashing`). The same arguments give the same id in every process and on every
machine, whatever PYTHONHASHSEED says.
"""

from __future__ import annotations

import hashlib
import inspect
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from ._cache import FORMATS
from ._hashing import base58, canonical_bytes, find_steps, json_view
from ._model import Progress, StepInfo, utc_now

if TYPE_CHECKING:
    from ._workspace import Workspace

T = TypeVar("T")

_HASH_SCHEME = b"tango-tui.step/1"
_default_workspace: Workspace | None = None
_default_lock = threading.Lock()


def default_workspace() -> Workspace:
    """The process-wide MemoryWorkspace ``Step.result()`` uses when given none (as Tango)."""
    global _default_workspace
    with _default_lock:
        if _default_workspace is None:
            from ._memory import MemoryWorkspace

            _default_workspace = MemoryWorkspace()
        return _default_workspace


class _ProgressState:
    """Bookkeeping of one execution's progress reports (rate limit and smoothed rate)."""

    __slots__ = ("last_done", "last_report", "pending", "rate", "started")

    def __init__(self) -> None:
        self.started = utc_now()
        self.last_report: float | None = None
        self.last_done = 0.0
        self.rate: float | None = None
        self.pending: tuple[float, float | None, str | None, str] | None = None


class Step(ABC):
    """A step of a pipeline: subclasses implement :meth:`run`; the constructor takes its arguments.

    Other steps among the arguments (also inside lists, tuples, dicts and sets) are dependencies:
    their results are passed to :meth:`run` in their place.

    Args:
        step_name: The step's name in a run (defaults to its unique id).
        cache_results: Whether to keep the result; defaults to ``CACHEABLE``, or to
            ``DETERMINISTIC`` when that is None. True is refused when ``CACHEABLE`` is False.
        step_metadata: Free-form JSON-able metadata recorded with the step.
        **kwargs: The arguments of :meth:`run`.

    Raises:
        TypeError: The arguments do not fit :meth:`run`'s signature, or one has no deterministic
            hash (the message names it).
        ValueError: An unknown ``FORMAT``, or ``cache_results=True`` for an uncacheable class.
    """

    _IS_TANGO_TUI_STEP: ClassVar[bool] = True
    DETERMINISTIC: ClassVar[bool] = True
    """Whether the same arguments always give the same result."""
    CACHEABLE: ClassVar[bool | None] = None
    """Whether results may be cached (None: cache iff DETERMINISTIC)."""
    VERSION: ClassVar[str | None] = None
    """Bump to invalidate earlier results of this class; part of the unique id."""
    FORMAT: ClassVar[str] = "auto"
    """How results are stored: "auto" (JSON if it round-trips exactly, else pickle), "json", "pickle"."""
    PROGRESS_INTERVAL: ClassVar[float] = 0.25
    """Least seconds between two progress reports (the final one always goes out)."""
    _clock = staticmethod(time.monotonic)

    def __init__(
        self,
        step_name: str | None = None,
        cache_results: bool | None = None,
        step_metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ):
        cls = type(self)
        if self.FORMAT not in FORMATS:
            raise ValueError(f"{cls.__qualname__}.FORMAT is {self.FORMAT!r}; use one of {FORMATS}")
        default = self.DETERMINISTIC if self.CACHEABLE is None else self.CACHEABLE
        if cache_results and self.CACHEABLE is False:
            raise ValueError(f"{cls.__qualname__} is not cacheable (CACHEABLE = False)")
        self.cache_results: bool = bool(default if cache_results is None else cache_results)
        try:
            inspect.signature(self.run).bind(**kwargs)
        except TypeError as e:  # fail at construction, not hours later when the step runs
            raise TypeError(f"{cls.__qualname__}: arguments do not fit run(): {e}") from None
        self.kwargs: dict[str, Any] = dict(kwargs)
        self.metadata: dict[str, Any] = dict(step_metadata or {})
        deps: dict[str, Step] = {}
        for dep in find_steps(list(self.kwargs.values())):
            deps.setdefault(dep.unique_id, dep)
        self._dependencies = list(deps.values())
        self.unique_id: str = self._make_unique_id()
        self._name = step_name
        self.workspace: Workspace | None = None
        """The workspace executing this step, while :meth:`run` runs (None otherwise)."""
        self._work_dir: Path | None = None
        self._progress: _ProgressState | None = None

    def _make_unique_id(self) -> str:
        cls = type(self)
        qualname = cls.__qualname__
        items = sorted(
            canonical_bytes(k) + canonical_bytes(v, f"{k!r} of {qualname}")
            for k, v in self.kwargs.items()
        )
        payload = b"|".join(
            [
                _HASH_SCHEME,
                canonical_bytes(qualname),
                canonical_bytes(self.VERSION),
                b"".join(items),
            ]
        )
        digest = base58(hashlib.sha256(payload).digest())[:32]
        if self.VERSION is not None:
            return f"{cls.__name__}-{self.VERSION}-{digest}"
        return f"{cls.__name__}-{digest}"

    # ----- identity ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The step's name (``step_name``, else its unique id)."""
        return self._name if self._name is not None else self.unique_id

    @name.setter
    def name(self, value: str) -> None:
        self._name = value

    @property
    def step_class_name(self) -> str:
        """The name of the step's class."""
        return type(self).__name__

    @property
    def dependencies(self) -> set[Step]:
        """The steps this step takes as arguments (directly)."""
        return set(self._dependencies)

    def ordered_dependencies(self) -> list[Step]:
        """:attr:`dependencies` in the order they appear in the arguments."""
        return list(self._dependencies)

    @property
    def recursive_dependencies(self) -> set[Step]:
        """Every step this one needs, directly or through other steps."""
        seen: dict[str, Step] = {}
        stack = list(self._dependencies)
        while stack:
            step = stack.pop()
            if step.unique_id not in seen:
                seen[step.unique_id] = step
                stack.extend(step._dependencies)
        return set(seen.values())

    @property
    def config(self) -> dict[str, Any]:
        """A JSON-compatible view of the arguments (steps as ``{"type": "ref", "ref": uid}``)."""
        return {k: json_view(self.kwargs[k]) for k in sorted(self.kwargs)}

    def make_step_info(self) -> StepInfo:
        """A fresh INCOMPLETE record of this step."""
        return StepInfo(
            unique_id=self.unique_id,
            step_class_name=self.step_class_name,
            step_name=self._name,
            version=self.VERSION,
            dependencies=frozenset(d.unique_id for d in self._dependencies),
            cacheable=self.cache_results,
            config=self.config,
            metadata=dict(self.metadata),
        )

    def det_hash_object(self) -> str:
        """What a step contributes to the hash of something containing it: its unique id."""
        return self.unique_id

    def __hash__(self) -> int:
        return hash(self.unique_id)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Step):
            return NotImplemented
        return self.unique_id == other.unique_id

    def __repr__(self) -> str:
        named = f" {self._name!r}" if self._name is not None else ""
        return f"<{type(self).__name__}{named} {self.unique_id}>"

    def __getstate__(self) -> dict[str, Any]:
        # The executing workspace and progress bookkeeping belong to one process.
        state = dict(self.__dict__)
        state["workspace"] = None
        state["_work_dir"] = None
        state["_progress"] = None
        return state

    # ----- execution --------------------------------------------------------------------------
    @abstractmethod
    def run(self, **kwargs: Any) -> Any:
        """Compute the result from the arguments (dependency results in place of steps)."""

    def result(self, workspace: Workspace | None = None) -> Any:
        """The step's result: from the cache if there, else computed (dependencies first).

        Never reruns a cached step. If another process is executing the step right now, waits for
        it and returns its result, so the body runs once.

        Args:
            workspace: Where to look for and keep results (default: a process-wide MemoryWorkspace).

        Raises:
            Exception: Whatever :meth:`run` (or a dependency's) raised; the step is recorded FAILED.
        """
        from ._runner import StepRunner

        return StepRunner(workspace if workspace is not None else default_workspace()).result(self)

    def ensure_result(self, workspace: Workspace | None = None) -> None:
        """Make sure the result is in the cache (Tango's name; computes it if needed)."""
        self.result(workspace)

    @property
    def work_dir(self) -> Path:
        """A directory for the running step (``workspace.work_dir(self)``).

        Raises:
            RuntimeError: Outside an execution of the step.
        """
        if self.workspace is None:
            raise RuntimeError(f"step {self.name!r} has a work_dir only while it runs")
        if self._work_dir is None:
            self._work_dir = self.workspace.work_dir(self)
        return self._work_dir

    def _begin(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._work_dir = None
        self._progress = None

    def _end(self) -> None:
        self._flush_progress()
        self.workspace = None
        self._work_dir = None
        self._progress = None

    # ----- progress ---------------------------------------------------------------------------
    def progress(
        self, done: float, total: float | None = None, *, desc: str | None = None, unit: str = "it"
    ) -> None:
        """Report how far the running step got (at most ~4 reports a second reach the workspace).

        Outside an execution this does nothing. A report completing ``total`` is always sent;
        a report held back by the rate limit is sent when the step's body returns.
        """
        ws = self.workspace
        if ws is None:
            return
        state = self._progress
        if state is None:
            state = self._progress = _ProgressState()
        now = self._clock()
        final = total is not None and done >= total
        if (
            not final
            and state.last_report is not None
            and now - state.last_report < self.PROGRESS_INTERVAL
        ):
            state.pending = (done, total, desc, unit)
            return
        self._send_progress(ws, state, now, done, total, desc, unit)

    def _send_progress(
        self,
        ws: Workspace,
        state: _ProgressState,
        now: float,
        done: float,
        total: float | None,
        desc: str | None,
        unit: str,
    ) -> None:
        if state.last_report is not None and now > state.last_report and done >= state.last_done:
            instant = (done - state.last_done) / (now - state.last_report)
            # Exponential smoothing over reports >= PROGRESS_INTERVAL apart: steady, yet recent.
            state.rate = instant if state.rate is None else 0.3 * instant + 0.7 * state.rate
        elif done < state.last_done:
            state.rate = None  # counting restarted (a new phase)
        state.last_report, state.last_done, state.pending = now, float(done), None
        ws.report_progress(
            self,
            Progress(
                done=float(done),
                total=None if total is None else float(total),
                unit=unit,
                desc=desc,
                started=state.started,
                updated=utc_now(),
                rate=state.rate,
            ),
        )

    def _flush_progress(self) -> None:
        state, ws = self._progress, self.workspace
        if state is not None and state.pending is not None and ws is not None:
            self._send_progress(ws, state, self._clock(), *state.pending)

    def track(
        self,
        iterable: Iterable[T],
        total: int | None = None,
        desc: str | None = None,
        unit: str = "it",
    ) -> Iterator[T]:
        """Yield the items of ``iterable``, reporting progress after each one (like tqdm)."""
        if total is None:
            try:
                total = len(iterable)  # type: ignore[arg-type]
            except TypeError:
                total = None
        self.progress(0, total, desc=desc, unit=unit)
        for done, item in enumerate(iterable, 1):
            yield item
            self.progress(done, total, desc=desc, unit=unit)
        self._flush_progress()
