"""``Run.steps`` of a listed run: a mapping that loads step records only when asked.

Kept apart from ``_model.py`` (the record types) so each stays short.
"""

from __future__ import annotations

from collections.abc import Callable, ItemsView, Iterator, Mapping, ValuesView

from ._model import StepInfo

__all__ = ["LazyStepInfos"]


class LazyStepInfos(Mapping[str, StepInfo]):
    """A read-only ``{step name: StepInfo}`` mapping that loads the records on first access.

    Listing thousands of runs must not open every step record; ``Run.steps`` is one of these
    in the local workspace. The names are known up front, so ``len``/``in``/iteration are free.
    """

    def __init__(self, names_to_ids: Mapping[str, str], loader: Callable[[str], StepInfo]):
        self._ids = dict(names_to_ids)
        self._loader = loader
        self._loaded: dict[str, StepInfo] | None = None

    def _load(self) -> dict[str, StepInfo]:
        if self._loaded is None:
            self._loaded = {name: self._loader(uid) for name, uid in self._ids.items()}
        return self._loaded

    def __getitem__(self, key: str) -> StepInfo:
        if key not in self._ids:
            raise KeyError(key)
        return self._load()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def values(self) -> ValuesView[StepInfo]:  # the loaded dict's own: no lookup per record
        return self._load().values()

    def items(self) -> ItemsView[str, StepInfo]:
        return self._load().items()

    def unique_ids(self) -> dict[str, str]:
        """``{step name: unique id}`` without loading anything."""
        return dict(self._ids)

    def __repr__(self) -> str:
        return f"LazyStepInfos({self._ids!r})"
