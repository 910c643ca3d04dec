"""Telling a Tango 1.x workspace directory apart, and which layout version it has.

Both answers come from names and one small JSON file only: nothing in the directory is opened
for writing, locked or decoded beyond ``settings.json``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def is_tango1_workspace(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` looks like a workspace written by ai2-tango 1.x (and not by tango-tui).

    Decided from names only: ``settings.json`` with a Tango version, ``stepinfo.sqlite``, or a
    version-1 ``cache/*/stepinfo.dill``; a directory with ``tango-tui.json`` is ours.
    """
    root = Path(path)
    if os.path.lexists(root / "tango-tui.json"):
        return False
    try:
        settings = json.loads((root / "settings.json").read_text(encoding="utf-8"))
        if isinstance(settings, dict) and settings.get("version") in (1, 2):
            return True
    except (OSError, ValueError):
        pass
    if os.path.isfile(root / "stepinfo.sqlite"):
        return True
    cache = root / "cache"
    try:
        with os.scandir(cache) as it:
            for i, entry in enumerate(it):
                if os.path.isfile(os.path.join(entry.path, "stepinfo.dill")):
                    return True
                if i > 50:
                    break
    except OSError:
        pass
    return False


def read_layout_version(root: Path) -> int:
    """The layout version ``root/settings.json`` names (1 when it is missing or unreadable).

    Version 2 keeps step records in ``stepinfo.sqlite``; version 1 in ``cache/<uid>/stepinfo.dill``.
    """
    try:
        settings = json.loads((root / "settings.json").read_text(encoding="utf-8"))
        return int(settings.get("version", 1))
    except (OSError, ValueError, AttributeError, TypeError):
        return 1
