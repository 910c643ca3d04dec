"""The abstract :class:`Workspace`: Tango's contract, registration by name, URLs, listing.

Backends implement the abstract members; the listing methods (``search_*``, ``num_*``) have
correct but naive defaults that a backend should override with something efficient. Nothing here
assumes a filesystem: a later backend may keep records in a database server.
"""

from __future__ import annotations

import contextlib
import importlib
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import ParseResult, urlparse

from ._errors import TangoTuiError
from ._model import Progress, Run, StepInfo, StepState

if TYPE_CHECKING:
    from ._cache import StepCache
    from ._step import Step

T = TypeVar("T")
W = TypeVar("W", bound="type[Workspace]")


class RunSort(str, Enum):
    """Sort keys for :meth:`Workspace.search_registered_runs`."""

    NAME = "name"
    START_DATE = "start_date"


class StepInfoSort(str, Enum):
    """Sort keys for :meth:`Workspace.search_step_info`."""

    UNIQUE_ID = "unique_id"
    START_TIME = "start_time"


class Workspace(ABC):
    """A place to keep step results, run records and logs (Tango's ``Workspace``).

    Subclasses register under a name with ``@Workspace.register("name")``; that name is also the
    URL scheme :meth:`from_url` dispatches on.
    """

    _registry: ClassVar[dict[str, type[Workspace]]] = {}
    # Built-in backends that live in modules the package does not import eagerly: looked up by
    # name on first use, so ``from_url("tango1:///x")`` works without importing them by hand.
    _lazy_modules: ClassVar[dict[str, str]] = {
        "local": "tango_tui.core._local",
        "memory": "tango_tui.core._memory",
        "tango1": "tango_tui.core.tango1",
    }
    default_implementation: ClassVar[str | None] = "local"

    # ----- registration ---------------------------------------------------------------------
    @classmethod
    def register(cls, name: str, *, exist_ok: bool = False) -> Callable[[W], W]:
        """Class decorator: register a Workspace subclass under ``name`` (its URL scheme)."""

        def decorator(subclass: W) -> W:
            existing = Workspace._registry.get(name)
            if existing is not None and existing is not subclass and not exist_ok:
                raise TangoTuiError(
                    f"a Workspace is already registered as {name!r}: {existing.__qualname__}"
                )
            Workspace._registry[name] = subclass
            return subclass

        return decorator

    @classmethod
    def by_name(cls, name: str) -> type[Workspace]:
        """The Workspace class registered as ``name``.

        Raises:
            KeyError: naming the unknown name and the known ones.
        """
        if name not in Workspace._registry and name in Workspace._lazy_modules:
            importlib.import_module(Workspace._lazy_modules[name])
        try:
            return Workspace._registry[name]
        except KeyError:
            known = ", ".join(sorted(set(Workspace._registry) | set(Workspace._lazy_modules)))
            raise KeyError(f"no Workspace registered as {name!r} (known: {known})") from None

    @classmethod
    def list_available(cls) -> list[str]:
        """Names of all registered workspace types."""
        return sorted(set(Workspace._registry) | set(Workspace._lazy_modules))

    # ----- URLs -----------------------------------------------------------------------------
    @classmethod
    def from_url(cls, url: str) -> Workspace:
        """A workspace from a URL (``local:///tmp/ws``, ``memory://``) or a plain path (local).

        Raises:
            ValueError: naming an unknown scheme and the known ones.
        """
        parsed = urlparse(str(url))
        scheme = parsed.scheme
        if not scheme or (len(scheme) == 1 and str(url)[1:3] in (":\\", ":/")):
            return Workspace.by_name("local").from_parsed_url(
                ParseResult("local", "", str(url), "", "", "")
            )
        try:
            subclass = Workspace.by_name(scheme)
        except KeyError:
            known = ", ".join(f"{s}://" for s in Workspace.list_available())
            raise ValueError(
                f"unknown workspace URL scheme {scheme!r} in {url!r} (known schemes: {known})"
            ) from None
        return subclass.from_parsed_url(parsed)

    @classmethod
    @abstractmethod
    def from_parsed_url(cls, parsed_url: ParseResult) -> Workspace:
        """Build the workspace a parsed URL describes (subclasses override)."""

    @property
    @abstractmethod
    def url(self) -> str:
        """A URL that :meth:`from_url` turns back into an equivalent workspace."""

    # ----- steps ----------------------------------------------------------------------------
    @property
    @abstractmethod
    def step_cache(self) -> StepCache:
        """The StepCache holding step results."""

    @abstractmethod
    def step_info(self, step_or_unique_id: Step | str) -> StepInfo:
        """The record of a step.

        Raises:
            KeyError: For an unknown unique id. A Step is always answerable (INCOMPLETE if never
                seen).
        """

    @abstractmethod
    def step_starting(self, step: Step) -> None:
        """Record that ``step`` starts executing in this process.

        Raises:
            StepStateError: If the step is RUNNING (in a live process) or COMPLETED.
        """

    @abstractmethod
    def step_finished(self, step: Step, result: T) -> T:
        """Record success, store a cacheable result, and return it (a fresh iterator for an
        iterator result).

        Raises:
            StepStateError: If the step is not RUNNING.
        """

    @abstractmethod
    def step_failed(self, step: Step, e: BaseException) -> None:
        """Record that ``step`` failed with ``e``.

        Raises:
            StepStateError: If the step is not RUNNING.
        """

    @abstractmethod
    def remove_step(self, step_unique_id: str) -> None:
        """Remove a step's record and cached result.

        Raises:
            KeyError: For an unknown unique id.
        """

    def work_dir(self, step: Step) -> Path:
        """A directory a step may keep state in while it runs. Temporary by default."""
        return Path(tempfile.mkdtemp(prefix=f"work-{step.unique_id}-"))

    def step_progress(self, step_or_unique_id: Step | str) -> Progress | None:
        """The latest progress a running step reported, if any (not Tango's; None by default)."""
        return None

    def report_progress(self, step: Step, progress: Progress) -> None:
        """Store a progress report of a running step (called rate-limited by ``Step.progress``).

        The default keeps nothing.
        """

    def step_log_context(
        self, step: Step, run_name: str | None = None
    ) -> contextlib.AbstractContextManager[None]:
        """A context manager capturing one execution's logs and stdout/stderr (none by default)."""
        return contextlib.nullcontext()

    # ----- runs -----------------------------------------------------------------------------
    @abstractmethod
    def register_run(self, targets: Iterable[Step], name: str | None = None) -> Run:
        """Register a run of ``targets``; invent a readable unique name when none is given.

        Raises:
            RunExistsError: If a run called ``name`` exists (Tango silently wipes it).
        """

    @abstractmethod
    def registered_run(self, name: str) -> Run:
        """The run called ``name``.

        Raises:
            KeyError: If there is no such run.
        """

    @abstractmethod
    def registered_runs(self) -> dict[str, Run]:
        """All runs, ``{name: Run}``."""

    def update_run(self, run: Run) -> None:
        """Store a run's status, end date and step rows (the executor calls this). Default: no-op."""

    def capture_logs_for_run(self, name: str) -> contextlib.AbstractContextManager[None]:
        """A context manager that captures Python logging for run ``name``. None by default."""
        return contextlib.nullcontext()

    def step_result_for_run(self, run_name: str, step_name: str) -> Any:
        """The result of step ``step_name`` of run ``run_name``.

        Raises:
            KeyError: If there is no such run or step, or the step has no cached result.
        """
        run = self.registered_run(run_name)
        if step_name not in run.steps:
            raise KeyError(f"run {run_name!r} has no step named {step_name!r}")
        info = run.steps[step_name]
        return self.step_cache[info]

    # ----- listing (override these for speed) -----------------------------------------------
    def search_registered_runs(
        self,
        *,
        sort_by: RunSort | None = None,
        sort_descending: bool = True,
        match: str | None = None,
        start: int = 0,
        stop: int | None = None,
    ) -> list[Run]:
        """Runs whose name contains ``match`` (case-insensitive), sorted, sliced [start:stop]."""
        runs = list(self.registered_runs().values())
        if match:
            needle = match.lower()
            runs = [r for r in runs if needle in r.name.lower()]
        key = sort_by or RunSort.START_DATE
        if key == RunSort.NAME:
            runs.sort(key=lambda r: r.name, reverse=sort_descending)
        else:
            runs.sort(key=lambda r: (r.start_date, r.name), reverse=sort_descending)
        return runs[start:stop]

    def num_registered_runs(self, *, match: str | None = None) -> int:
        """How many runs match ``match``."""
        return len(self.search_registered_runs(match=match))

    def search_step_info(
        self,
        *,
        sort_by: StepInfoSort | None = None,
        sort_descending: bool = True,
        match: str | None = None,
        state: StepState | None = None,
        start: int = 0,
        stop: int | None = None,
    ) -> list[StepInfo]:
        """Step records whose unique id or name contains ``match``, in ``state``, sorted, sliced."""
        raise NotImplementedError(f"{type(self).__name__} does not implement search_step_info")

    def num_steps(self, *, match: str | None = None, state: StepState | None = None) -> int:
        """How many step records match."""
        return len(self.search_step_info(match=match, state=state))


def select_step_infos(
    infos: list[StepInfo],
    *,
    sort_by: StepInfoSort | None,
    sort_descending: bool,
    match: str | None,
    state: StepState | None,
    start: int,
    stop: int | None,
) -> list[StepInfo]:
    """Filter, sort and slice step records the way ``search_step_info`` documents.

    ``match`` is a case-insensitive substring of the unique id or the step name; records that
    never started sort before all others by start time.
    """
    if match:
        needle = match.lower()
        infos = [
            i
            for i in infos
            if needle in i.unique_id.lower() or needle in (i.step_name or "").lower()
        ]
    if state is not None:
        infos = [i for i in infos if i.state == state]
    if sort_by == StepInfoSort.START_TIME:
        infos.sort(
            key=lambda i: (i.start_time is not None, i.start_time or _EPOCH, i.unique_id),
            reverse=sort_descending,
        )
    else:
        infos.sort(key=lambda i: i.unique_id, reverse=sort_descending)
    return infos[start:stop]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
