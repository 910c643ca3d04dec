"""Helpers of the crash tests: waiting with deadlines, journals, checksums, the script module."""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import os
import stat
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def load_kill_storm() -> Any:
    """``scripts/kill_storm.py`` as a module (registered so forked workers find it).

    ``scripts/`` goes on ``sys.path`` first: the script imports its ``_storm_*`` modules from there.
    """
    name = "kill_storm"
    if name in sys.modules:
        return sys.modules[name]
    scripts = str(REPO / "scripts")
    if scripts not in sys.path:
        sys.path.insert(0, scripts)
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / "kill_storm.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def wait_until(condition: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll ``condition()`` until truthy; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def intervals(journal: Path) -> dict[str, list[tuple[float, float, int]]]:
    """Per step unique id, the (start, end, pid) of every finished body in the journal."""
    opened: dict[tuple[str, int], float] = {}
    out: dict[str, list[tuple[float, float, int]]] = {}
    for line in journal.read_text().splitlines():
        event, uid, pid, t = line.split()
        if event == "start":
            opened[(uid, int(pid))] = float(t)
        else:
            start = opened.pop((uid, int(pid)))
            out.setdefault(uid, []).append((start, float(t), int(pid)))
    assert not opened, f"bodies that never ended: {opened}"
    return out


def overlaps(spans: dict[str, list[tuple[float, float, int]]]) -> list[str]:
    """Steps whose bodies ran at the same time as another body of the same step."""
    bad = []
    for uid, items in spans.items():
        items = sorted(items)
        for (s1, e1, p1), (s2, _, p2) in itertools.pairwise(items):
            if s2 < e1:
                bad.append(f"{uid}: pid {p2} started at {s2} while pid {p1} ran until {e1}")
    return bad


def tree_checksums(root: Path) -> dict[str, str]:
    """Every entry under ``root`` (as root sees it): files by content hash, links by target,
    directories by mode; the keys are the tree listing (byte paths, any encoding)."""
    out: dict[str, str] = {}
    broot = os.fsencode(root)
    for dirpath, dirnames, filenames in os.walk(broot, followlinks=False):
        for name in [*dirnames, *filenames]:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, broot).decode("utf-8", "surrogateescape")
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = "link:" + os.fsdecode(os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = f"dir:{stat.S_IMODE(st.st_mode):o}"
            else:
                h = hashlib.sha256()
                with open(path, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
                out[rel] = f"file:{stat.S_IMODE(st.st_mode):o}:{st.st_size}:{h.hexdigest()}"
    return out
