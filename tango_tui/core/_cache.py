"""Step caches (Tango's ``StepCache`` API) and the codecs that turn a result into bytes.

:func:`encode_result` and :func:`decode_result` are shared by every cache that stores bytes
(``LocalStepCache`` keeps them on disk). ``"auto"`` picks JSON when the value survives a trip
through JSON *exactly* (same types all the way down: no tuple coming back as a list, no int dict
key coming back as a string, no NaN), and pickle otherwise, as Tango does.
"""

from __future__ import annotations

import json
import math
import pickle
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

from ._model import StepInfo

FORMATS = ("auto", "json", "pickle")
"""Values a Step's ``FORMAT`` may take."""


def _json_exact(value: Any, depth: int = 0) -> bool:
    """Whether ``json.loads(json.dumps(value)) == value`` with identical types throughout."""
    if depth > 500:  # deeper than json would decode without a RecursionError anyway
        return False
    kind = type(value)
    if value is None or kind is bool or kind is int or kind is str:
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is list:
        return all(_json_exact(v, depth + 1) for v in value)
    if kind is dict:
        return all(type(k) is str and _json_exact(v, depth + 1) for k, v in value.items())
    return False


def materialise(value: Any) -> Any:
    """An iterator (e.g. a generator) as a list; anything else unchanged."""
    if isinstance(value, Iterator):
        return list(value)
    return value


def encode_result(value: Any, fmt: str = "auto") -> tuple[str, bytes]:
    """Encode a step result as ``(format, bytes)``; format is ``"json"`` or ``"pickle"``.

    Args:
        value: The result. An iterator is materialised to a list first.
        fmt: ``"auto"`` (JSON when the value round-trips through JSON exactly, else pickle),
            ``"json"`` or ``"pickle"``.

    Raises:
        ValueError: For an unknown ``fmt``, or a value ``"json"`` cannot represent exactly.
        pickle.PicklingError, TypeError, AttributeError: When the value cannot be pickled.
    """
    value = materialise(value)
    if fmt not in FORMATS:
        raise ValueError(f"unknown result format {fmt!r} (known: {', '.join(FORMATS)})")
    if fmt in ("auto", "json"):
        if _json_exact(value):
            text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
            return "json", text.encode("utf-8", "surrogatepass")
        if fmt == "json":
            raise ValueError(
                f"a {type(value).__name__} result cannot be stored as JSON without changing it "
                "(use FORMAT = 'auto' or 'pickle')"
            )
    return "pickle", pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def decode_result(fmt: str, data: bytes) -> Any:
    """Decode bytes written by :func:`encode_result`.

    Raises:
        ValueError: For an unknown format or undecodable JSON.
    """
    if fmt == "json":
        return json.loads(data.decode("utf-8", "surrogatepass"))
    if fmt == "pickle":
        return pickle.loads(data)
    raise ValueError(f"unknown result format {fmt!r}")


def cache_key(step_or_info: Any) -> str:
    """The unique id of a Step or StepInfo (KeyError if it has none)."""
    uid = getattr(step_or_info, "unique_id", None)
    if not isinstance(uid, str) or not uid:
        raise KeyError(f"not a step or step record: {step_or_info!r}")
    return uid


def wants_cache(step_or_info: Any) -> bool:
    """Whether results of this Step / StepInfo are kept at all."""
    if isinstance(step_or_info, StepInfo):
        return step_or_info.cacheable
    return bool(getattr(step_or_info, "cache_results", True))


class StepCache(ABC):
    """A mapping from steps (or their records) to their results, as Tango's ``StepCache``.

    Keys may be a :class:`~tango_tui.core.Step` or a :class:`~tango_tui.core.StepInfo`; both are
    looked up by unique id.
    """

    @abstractmethod
    def __contains__(self, step_or_info: object) -> bool:
        """Whether a result for this step is stored (always False for an uncacheable step)."""

    @abstractmethod
    def __getitem__(self, step_or_info: Any) -> Any:
        """The stored result.

        Raises:
            KeyError: If there is none.
        """

    @abstractmethod
    def __setitem__(self, step: Any, value: Any) -> None:
        """Store ``value`` as the result of ``step``."""

    @abstractmethod
    def __delitem__(self, step_or_info: Any) -> None:
        """Forget a step's result (KeyError if there is none)."""

    @abstractmethod
    def __len__(self) -> int:
        """How many results are stored."""


class MemoryStepCache(StepCache):
    """A thread-safe StepCache keeping result objects in a dict (Tango's ``MemoryStepCache``).

    Values are kept as they are (not copied), like Tango; an iterator is stored as a list.
    """

    def __init__(self) -> None:
        self._results: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __contains__(self, step_or_info: object) -> bool:
        try:
            uid = cache_key(step_or_info)
        except KeyError:
            return False
        if not wants_cache(step_or_info):
            return False
        with self._lock:
            return uid in self._results

    def __getitem__(self, step_or_info: Any) -> Any:
        uid = cache_key(step_or_info)
        with self._lock:
            try:
                return self._results[uid]
            except KeyError:
                raise KeyError(f"no cached result for step {uid!r} in memory") from None

    def __setitem__(self, step: Any, value: Any) -> None:
        uid = cache_key(step)
        value = materialise(value)
        with self._lock:
            self._results[uid] = value

    def __delitem__(self, step_or_info: Any) -> None:
        uid = cache_key(step_or_info)
        with self._lock:
            try:
                del self._results[uid]
            except KeyError:
                raise KeyError(f"no cached result for step {uid!r} in memory") from None

    def __len__(self) -> int:
        with self._lock:
            return len(self._results)

    def __repr__(self) -> str:
        return f"MemoryStepCache({len(self)} results)"
