"""Run and step names that are safe to use as file names.

Run names become directory names (``runs/<name>/``), so a hostile name is *refused*
(:class:`InvalidNameError`): empty, longer than :data:`MAX_RUN_NAME` characters (or 255 bytes in
UTF-8), ``.``/``..`` or starting with ``.``, containing ``/``, ``\\``, NUL or another control
character, or not encodable as UTF-8.

Step names only become file names as the per-target symlinks in a run directory, and the run
record keeps the real name, so any non-empty step name is accepted and *encoded*: ``%``, ``/``,
``\\``, control characters and a leading ``.`` are percent-encoded, the names the run directory
uses for itself (``run.json``, ``out.log``, ``steps``) get their first character encoded, and a
name whose encoding is longer than :data:`MAX_LINK_BYTES` bytes is cut and given a hash suffix.
The encoding is a single path component by construction: nothing can point outside the run
directory.
"""

from __future__ import annotations

import hashlib
import unicodedata
from urllib.parse import unquote

from ._errors import InvalidNameError
from ._format import RUN_LOG, RUN_RECORD, RUN_STEPS_DIR

MAX_RUN_NAME = 200
"""Longest run name accepted, in characters."""
MAX_NAME_BYTES = 255
"""NAME_MAX of common Linux filesystems: the longest file name, in bytes."""
MAX_LINK_BYTES = 200
"""Longest encoded step-name link, in bytes (leaves room for temporary-name prefixes)."""

_RESERVED_IN_RUN_DIR = frozenset({RUN_RECORD, RUN_LOG, RUN_STEPS_DIR})


def _is_control(ch: str) -> bool:
    # Cc covers C0, DEL and C1; Zl/Zp (line/paragraph separators) break line-based tools too.
    return unicodedata.category(ch) in ("Cc", "Zl", "Zp")


def validate_run_name(name: object) -> str:
    """Return ``name`` if it is a safe run name, else raise.

    Raises:
        InvalidNameError: naming the problem (see the module docstring for the rules).
    """
    if not isinstance(name, str):
        raise InvalidNameError(
            repr(name), f"a run name must be a string, not {type(name).__name__}"
        )
    if not name:
        raise InvalidNameError(name, "a run name cannot be empty")
    if len(name) > MAX_RUN_NAME:
        raise InvalidNameError(
            name[:40] + "...", f"a run name has at most {MAX_RUN_NAME} characters (got {len(name)})"
        )
    if name in (".", ".."):
        raise InvalidNameError(name, "'.' and '..' are not run names")
    if name.startswith("."):
        raise InvalidNameError(
            name, "a run name cannot start with '.' (reserved for temporary files)"
        )
    for ch in name:
        if ch in "/\\":
            raise InvalidNameError(name, "a run name cannot contain a path separator")
        if _is_control(ch):
            raise InvalidNameError(name, f"a run name cannot contain control character {ch!r}")
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidNameError(
            name, "a run name must be valid Unicode (no lone surrogates)"
        ) from None
    if len(encoded) > MAX_NAME_BYTES:
        raise InvalidNameError(
            name[:40] + "...",
            f"a run name has at most {MAX_NAME_BYTES} bytes in UTF-8 (got {len(encoded)})",
        )
    return name


def is_valid_run_name(name: object) -> bool:
    """Whether :func:`validate_run_name` accepts ``name``."""
    try:
        validate_run_name(name)
    except InvalidNameError:
        return False
    return True


def is_component(name: object) -> bool:
    """Whether ``name`` can name exactly one directory entry (a unique id, a run directory)."""
    return (
        isinstance(name, str)
        and bool(name)
        and "/" not in name
        and "\0" not in name
        and name not in (".", "..")
    )


def step_uid(step: object) -> str:
    """``step.unique_id``, checked to be usable as one directory name in the cache.

    Raises:
        InvalidNameError: If it contains a separator or NUL, is empty, or starts with ``.``
            (e.g. a ``VERSION`` with a ``/`` in it).
    """
    uid = getattr(step, "unique_id", None)
    if not is_component(uid) or uid.startswith("."):  # type: ignore[union-attr]
        raise InvalidNameError(repr(uid), "a step's unique id must be a single file name")
    return uid  # type: ignore[return-value]


def _pct(ch: str) -> str:
    return "".join(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))


def encode_step_name(name: str) -> str:
    """The file name of the run-directory symlink for a target step called ``name``.

    Raises:
        InvalidNameError: If ``name`` is not a non-empty string.
    """
    if not isinstance(name, str) or not name:
        raise InvalidNameError(repr(name), "a step name must be a non-empty string")
    out = []
    for i, ch in enumerate(name):
        if ch in "%/\\" or _is_control(ch) or (i == 0 and ch == ".") or "\ud800" <= ch <= "\udfff":
            out.append(_pct(ch))
        else:
            out.append(ch)
    encoded = "".join(out)
    if encoded in _RESERVED_IN_RUN_DIR:
        encoded = _pct(encoded[0]) + encoded[1:]
    raw = encoded.encode("utf-8")
    if len(raw) > MAX_LINK_BYTES:
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        head = raw[: MAX_LINK_BYTES - len(digest) - 1].decode("utf-8", "ignore")
        # Do not leave a half percent-escape at the cut.
        cut = head.rfind("%")
        if cut >= len(head) - 2 and cut != -1:
            head = head[:cut]
        encoded = f"{head}~{digest}"
    return encoded


def decode_step_name(encoded: str) -> str:
    """Best-effort inverse of :func:`encode_step_name` (a cut, hashed name stays cut).

    The run record keeps the real name; this is for display when only the link is at hand.
    """
    return unquote(encoded, errors="surrogateescape")
