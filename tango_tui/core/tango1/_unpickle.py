"""A restricted unpickler for the step records of ai2-tango 1.x workspaces.

Tango keeps its ``StepInfo`` objects as pickles (a sqlitedict table, or ``stepinfo.dill`` files in
the version-1 layout). Loading such a pickle with :func:`pickle.loads` would import Tango and run
whatever the pickle names, so a workspace copied from someone else could run code on our machine.

:func:`restricted_loads` instead resolves every global through a fixed allow-list. Nothing on the
list is a real Tango or pytz object: Tango's dataclasses become :class:`StandIn` records (a bag
of attributes, no behaviour), pytz's UTC becomes :data:`datetime.timezone.utc`, paths become
strings (:class:`PosixPathStr`). Any other global (``os.system``, ``builtins.eval``,
``subprocess.Popen``, dill's type builders...) is refused with :class:`UnsafePickleError` before
anything is called. ``persistent_load`` is refused too. Only the pickle *machine* runs: it can
build containers and call the callables we hand it, and those only build data.
"""

from __future__ import annotations

import builtins
import codecs
import io
import os
import pickle
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import PureWindowsPath
from typing import Any, ClassVar

from .._errors import UnsafePickleError

MAX_PICKLE_BYTES = 64 * 1024 * 1024
"""Larger blobs are refused without decoding (a step record is a few KB)."""


class _RefusedGlobal(pickle.UnpicklingError):
    def __init__(self, qualified: str):
        self.qualified = qualified
        super().__init__(f"refused global {qualified}")


class StandIn:
    """A plain record standing in for one of Tango's classes: fields only, no behaviour.

    ``tango_class`` names the class the pickle asked for (``"tango.step_info.StepInfo"``). The
    pickle machine fills ``fields`` through ``BUILD``. There is no instance ``__dict__`` (slots
    only), so a pickle cannot shadow a method or ``__setstate__`` with a value of its own.
    """

    __slots__ = ("fields",)
    tango_class: ClassVar[str] = "?"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # A REDUCE-style construction (older protocols) passes field values positionally;
        # keep them for the record but give them no meaning.
        self.fields: dict[str, Any] = {k: v for k, v in kwargs.items() if isinstance(k, str)}
        if args:
            self.fields["_args"] = args

    def _fields(self) -> dict[str, Any]:
        try:
            return self.fields
        except AttributeError:  # made by NEWOBJ (cls.__new__), never through __init__
            self.fields = {}
            return self.fields

    def __setstate__(self, state: Any) -> None:
        # Plain objects pickle their __dict__; slotted dataclasses pickle (None, slots) or
        # (dict, slots). Only string keys are kept; anything else is kept opaquely.
        fields = self._fields()
        parts = state if isinstance(state, tuple) and len(state) == 2 else (state,)
        for part in parts:
            if isinstance(part, dict):
                fields.update({k: v for k, v in part.items() if isinstance(k, str)})
            elif part is not None:
                fields["_state"] = part

    def get(self, name: str, default: Any = None) -> Any:
        """A field, or ``default`` when the pickle did not set it."""
        return self._fields().get(name, default)

    def __repr__(self) -> str:
        # Never the field values: a crafted record can make their repr explode (shared subtrees).
        return f"<{type(self).tango_class} record with fields {sorted(self._fields())}>"


def _stand_in(qualified: str) -> type[StandIn]:
    name = qualified.rsplit(".", 1)[1]
    return type(
        f"Tango{name}",
        (StandIn,),
        {"tango_class": qualified, "__module__": __name__, "__slots__": ()},
    )


TANGO_CLASSES: dict[str, type[StandIn]] = {
    q: _stand_in(q)
    for q in (
        "tango.step_info.StepInfo",
        "tango.step_info.PlatformMetadata",
        "tango.step_info.EnvironmentMetadata",
        "tango.step_info.GitMetadata",
        "tango.step_info.TangoMetadata",
    )
}
"""Stand-in classes, by the qualified name Tango pickles them under."""


class ExceptionStandIn(StandIn):
    """A builtin exception found in a record (very old Tango stored ``error`` as an exception)."""

    __slots__ = ()
    tango_class = "builtins.Exception"

    def __str__(self) -> str:
        args = self.get("_args") or ()
        text = ", ".join(a if isinstance(a, str) else f"<{type(a).__name__}>" for a in args)
        name = self.get("type_name", "Exception")
        return f"{name}: {text}" if text else str(name)


def _exception_factory(name: str) -> Callable[..., ExceptionStandIn]:
    def make(*args: Any) -> ExceptionStandIn:
        record = ExceptionStandIn(*args)
        record.fields["type_name"] = name
        return record

    return make


def _step_state(value: Any) -> str:
    """Tango's ``StepState`` enum member -> its plain string value."""
    return str(value)


def _pytz_utc(*_args: Any) -> timezone:
    return UTC


def _checked_codecs_encode(text: Any, encoding: str = "utf-8") -> bytes:
    # Protocols < 3 pickle bytes as _codecs.encode(str, "latin1"); no other codec is needed,
    # and arbitrary codecs are not data-only, so only latin-1 is accepted.
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise _RefusedGlobal(f"_codecs.encode(..., {encoding!r})")
    return codecs.latin_1_encode(text)[0]


def _checked_reconstructor(cls: Any, base: Any, state: Any) -> Any:
    # copyreg._reconstructor(cls, object, None) is how protocols 0/1 rebuild a plain instance.
    if (
        not (isinstance(cls, type) and issubclass(cls, StandIn))
        or base is not object
        or state is not None
    ):
        raise _RefusedGlobal(f"copyreg._reconstructor({cls!r}, {base!r}, ...)")
    return cls()


def _checked_newobj(cls: Any, *args: Any) -> Any:
    if not (isinstance(cls, type) and issubclass(cls, StandIn)):
        raise _RefusedGlobal(f"copyreg.__newobj__({cls!r}, ...)")
    return cls.__new__(cls)


# No bytearray: bytearray(10**11) would zero-fill memory on a pickle's say-so.
_SAFE_TYPES: dict[str, Any] = {
    "set": set,
    "frozenset": frozenset,
    "list": list,
    "dict": dict,
    "tuple": tuple,
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "complex": complex,
}


def _dill_load_type(name: str) -> Any:
    # dill names a few builtin types through _load_type; only plain containers are handed out.
    try:
        return _SAFE_TYPES[name]
    except (KeyError, TypeError):
        raise _RefusedGlobal(f"dill._dill._load_type({name!r})") from None


_BUILTIN_EXCEPTIONS = {
    name: _exception_factory(name)
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, Exception)
}


class PosixPathStr(str):
    """A POSIX path from a pickle, kept as its string (building real paths is slow and unneeded)."""


class WindowsPathStr(str):
    """A Windows path from a pickle, kept as its string."""


def _posix_path(*parts: Any) -> PosixPathStr:
    text = ""
    for part in parts:
        part = str(part)
        if part.startswith("/"):
            text = part
        elif text and not text.endswith("/"):
            text = f"{text}/{part}"
        else:
            text += part
    return PosixPathStr(text or ".")


def _windows_path(*parts: Any) -> WindowsPathStr:
    return WindowsPathStr(str(PureWindowsPath(*(str(p) for p in parts))))


_PATHS: dict[str, Any] = {}
for _module in ("pathlib", "pathlib._local"):
    _PATHS.update(
        {
            f"{_module}.PosixPath": _posix_path,
            f"{_module}.PurePosixPath": _posix_path,
            f"{_module}.Path": _posix_path,
            f"{_module}.PurePath": _posix_path,
            f"{_module}.WindowsPath": _windows_path,
            f"{_module}.PureWindowsPath": _windows_path,
        }
    )

ALLOWED_GLOBALS: dict[str, Any] = {
    **TANGO_CLASSES,
    "tango.step_info.StepState": _step_state,
    "datetime.datetime": datetime,
    "datetime.date": date,
    "datetime.time": time,
    "datetime.timedelta": timedelta,
    "datetime.timezone": timezone,
    "pytz._UTC": _pytz_utc,
    "pytz.utc": UTC,
    "pytz.UTC": UTC,
    **_PATHS,
    **{f"builtins.{k}": v for k, v in _SAFE_TYPES.items()},
    **{f"__builtin__.{k}": v for k, v in _SAFE_TYPES.items()},
    "builtins.object": object,
    "__builtin__.object": object,
    "builtins.set": set,
    "copyreg._reconstructor": _checked_reconstructor,
    "copy_reg._reconstructor": _checked_reconstructor,
    "copyreg.__newobj__": _checked_newobj,
    "_codecs.encode": _checked_codecs_encode,
    "dill._dill._load_type": _dill_load_type,
    **{f"builtins.{k}": v for k, v in _BUILTIN_EXCEPTIONS.items()},
    **{f"exceptions.{k}": v for k, v in _BUILTIN_EXCEPTIONS.items()},
}
"""Every global a Tango record may name, mapped to the harmless object used in its place."""


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        # Exact lookup: no dotted attribute walks ("os.path.join", "object.__subclasses__").
        qualified = f"{module}.{name}"
        try:
            return ALLOWED_GLOBALS[qualified]
        except KeyError:
            raise _RefusedGlobal(qualified) from None

    def persistent_load(self, pid: Any) -> Any:
        raise _RefusedGlobal(f"persistent id {pid!r}")


def restricted_loads(
    data: bytes, *, path: str | os.PathLike[str] = "<memory>", key: str | None = None
) -> Any:
    """Decode a pickle, allowing only plain data and Tango's record classes (as stand-ins).

    Args:
        data: The pickle bytes.
        path: The file the bytes came from (for error messages).
        key: The database row key the bytes came from, if any (for error messages).

    Returns:
        The decoded value; Tango objects come back as :class:`StandIn` subclasses.

    Raises:
        UnsafePickleError: If the pickle names a global outside :data:`ALLOWED_GLOBALS` (the
            message names the path, the key and the refused global); nothing is called.
        pickle.UnpicklingError: If the bytes are not a valid pickle (garbage, truncated).
    """
    where = f"row {key!r}: " if key is not None else ""
    if len(data) > MAX_PICKLE_BYTES:
        raise pickle.UnpicklingError(f"{where}record of {len(data)} bytes is too large")
    try:
        return _RestrictedUnpickler(io.BytesIO(data)).load()
    except _RefusedGlobal as e:
        raise UnsafePickleError(
            path, f"{where}refused global {e.qualified} (not a Tango record)"
        ) from None
    except pickle.UnpicklingError:
        raise
    except Exception as e:  # noqa: BLE001 - garbage makes the unpickler raise anything
        raise pickle.UnpicklingError(
            f"{where}not a valid pickle: {type(e).__name__}: {e}"
        ) from None
