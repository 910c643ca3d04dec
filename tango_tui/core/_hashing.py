"""Deterministic hashing of step arguments, and their JSON view.

A step's unique id must be the same in every process and on every machine, so it cannot rest on
``hash()`` (salted per process by PYTHONHASHSEED), ``id()``, or pickle (whose bytes change with
protocol and memo order). :func:`canonical_bytes` writes a tagged, length-prefixed encoding with
one spelling per value: dict items and set members are sorted by *their encoding*, so insertion
order and hash order never matter, and two different values never share an encoding.

Supported: ``None``, bool, int, float, complex, str, bytes, lists, tuples, dicts, sets,
frozensets, dataclass instances, ``pathlib`` paths, enums, Steps (by unique id), and any object
with a ``det_hash_object()`` method (its return value is encoded instead). Anything else raises
``TypeError`` naming where in the arguments it sits.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import hashlib
import math
import pathlib
from typing import Any

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58(data: bytes) -> str:
    """Bitcoin-alphabet base58 of ``data`` (no ambiguous characters, safe in file names)."""
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, r = divmod(n, 58)
        out.append(_B58[r])
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + "".join(reversed(out))


def _is_step(value: Any) -> bool:
    # Duck-typed so this module does not import _step (which imports this one).
    return getattr(type(value), "_IS_TANGO_TUI_STEP", False) is True


def _class_name(obj: Any) -> str:
    return type(obj).__qualname__


def _sized(tag: bytes, payload: bytes) -> bytes:
    return tag + str(len(payload)).encode() + b":" + payload


def _encode(value: Any, where: str, active: set[int]) -> bytes:
    """The canonical encoding of ``value``; ``where`` names it in error messages."""
    if _is_step(value):
        return _sized(b"r", value.unique_id.encode())
    hook = getattr(value, "det_hash_object", None)
    if hook is not None and callable(hook) and not isinstance(value, type):
        return _sized(b"o", _class_name(value).encode() + b"|" + _encode(hook(), where, active))
    if isinstance(value, enum.Enum):
        return _sized(b"e", f"{_class_name(value)}.{value.name}".encode())
    if value is None:
        return b"N"
    if value is True:
        return b"T"
    if value is False:
        return b"F"
    if isinstance(value, int):
        return _sized(b"i", str(int(value)).encode())
    if isinstance(value, float):
        # float.hex is exact; every NaN hashes alike (they compare unequal anyway).
        return _sized(b"f", ("nan" if math.isnan(value) else float(value).hex()).encode())
    if isinstance(value, complex):
        return _sized(b"c", _encode(value.real, where, active) + _encode(value.imag, where, active))
    if isinstance(value, str):
        return _sized(b"s", value.encode("utf-8", "surrogatepass"))
    if isinstance(value, bytes | bytearray | memoryview):
        return _sized(b"b", bytes(value))
    if isinstance(value, pathlib.PurePath):
        return _sized(b"p", value.as_posix().encode("utf-8", "surrogateescape"))
    if id(value) in active:
        raise TypeError(f"argument {where} contains itself (a cycle cannot be hashed)")
    active.add(id(value))
    try:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            parts = [_class_name(value).encode()]
            for f in dataclasses.fields(value):
                parts.append(_encode(f.name, where, active))
                parts.append(_encode(getattr(value, f.name), f"{where}.{f.name}", active))
            return _sized(b"D", b"".join(parts))
        if isinstance(value, list | tuple):
            tag = b"l" if isinstance(value, list) else b"t"
            return _sized(
                tag, b"".join(_encode(v, f"{where}[{i}]", active) for i, v in enumerate(value))
            )
        if isinstance(value, dict):
            items = sorted(
                (_encode(k, f"{where} key {k!r}", active), _encode(v, f"{where}[{k!r}]", active))
                for k, v in value.items()
            )
            return _sized(b"d", b"".join(k + v for k, v in items))
        if isinstance(value, set | frozenset):
            members = sorted(_encode(v, f"{where} member", active) for v in value)
            return _sized(b"S", b"".join(members))
    finally:
        active.discard(id(value))
    raise TypeError(
        f"argument {where} is a {type(value).__qualname__}, which has no deterministic hash "
        "(give its class a det_hash_object() method returning something hashable)"
    )


def canonical_bytes(value: Any, where: str = "value") -> bytes:
    """The canonical encoding of ``value`` (TypeError naming ``where`` if unsupported)."""
    return _encode(value, where, set())


def det_hash(value: Any, where: str = "value", length: int = 32) -> str:
    """base58 of the SHA-256 of :func:`canonical_bytes`, cut to ``length`` characters."""
    return base58(hashlib.sha256(canonical_bytes(value, where)).digest())[:length]


def json_view(value: Any) -> Any:
    """A JSON-compatible picture of an argument, for ``StepInfo.config``.

    Steps become ``{"type": "ref", "ref": uid}``; tuples and sets become lists; values JSON cannot
    hold (bytes, NaN, paths, arbitrary objects) become tagged objects or strings. Data only: it
    is shown to people, never turned back into arguments.
    """
    if _is_step(value):
        return {"type": "ref", "ref": value.unique_id}
    if isinstance(value, enum.Enum):
        return f"{_class_name(value)}.{value.name}"
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return {"type": "bytes", "base64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, pathlib.PurePath):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: json_view(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"type": _class_name(value), "fields": fields}
    if isinstance(value, list | tuple):
        return [json_view(v) for v in value]
    if isinstance(value, set | frozenset):
        return [json_view(v) for v in sorted(value, key=lambda v: _safe_key(v))]
    if isinstance(value, dict):
        return {k if isinstance(k, str) else repr(k): json_view(v) for k, v in value.items()}
    return repr(value)


def _safe_key(value: Any) -> bytes:
    try:
        return canonical_bytes(value)
    except TypeError:
        return repr(value).encode("utf-8", "surrogatepass")


def find_steps(value: Any) -> list[Any]:
    """Steps inside ``value`` (itself, or nested in lists/tuples/dicts/sets), in order of appearance."""
    out: list[Any] = []
    stack = [value]
    seen: set[int] = set()
    while stack:
        item = stack.pop()
        if _is_step(item):
            out.append(item)
            continue
        if isinstance(item, list | tuple | set | frozenset | dict):
            if id(item) in seen:
                continue
            seen.add(id(item))
            children = list(item.values()) if isinstance(item, dict) else list(item)
            if isinstance(item, set | frozenset):
                children.sort(key=_safe_key)
            stack.extend(reversed(children))
    return out


def replace_steps(value: Any, resolve: Any) -> Any:
    """A copy of ``value`` with every Step (also nested in lists/tuples/dicts/sets) replaced by
    ``resolve(step)``; other values are returned as they are."""
    if _is_step(value):
        return resolve(value)
    if isinstance(value, list):
        return [replace_steps(v, resolve) for v in value]
    if isinstance(value, tuple):
        items = [replace_steps(v, resolve) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, dict):
        return {k: replace_steps(v, resolve) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return type(value)(replace_steps(v, resolve) for v in value)
    return value
