"""Progress of a running Tango step, read from the tqdm lines Tango logs into ``out.log``.

Tango's ``Tqdm`` writes its bar through logging when the output is not a terminal, e.g.
``rt_slow progress:  50%|#####     | 10/20 [00:10<00:10,  1.00s/it]``. Only the log's tail is
read: the newest bar of the step is near the end while it runs.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime

from .._model import Progress
from ._logs import parse_head

TAIL_BYTES = 256 * 1024
"""How much of the end of the log is searched."""

_BAR = re.compile(
    r"(?:(?P<desc>[^|]*?):\s*)?\d+%\|[^|]*\|\s*(?P<n>[\d.]+)(?P<nsuf>[kMGT]?)/(?P<total>[\d.]+)(?P<tsuf>[kMGT]?)"
    r"\s*\[[^<\]]*<[^,\]]*,\s*(?P<rate>[\d.?]+)(?P<rsuf>[kMGT]?)(?P<unit>[^\]\s]*)\]"
)
_SUFFIX = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_MARKER = re.compile(r'(?:Starting step|Finished step|Step) "(?P<name>.+?)"')


def parse_bar(message: str) -> Progress | None:
    """A :class:`Progress` from one tqdm bar text, or None if the text holds no bar."""
    m = _BAR.search(message)
    if not m:
        return None
    done = float(m["n"]) * _SUFFIX[m["nsuf"]]
    total = float(m["total"]) * _SUFFIX[m["tsuf"]]
    unit = m["unit"] or "it/s"
    rate: float | None = None
    if m["rate"] not in ("?", ""):
        value = float(m["rate"]) * _SUFFIX[m["rsuf"]]
        if unit.startswith("s/"):  # tqdm shows slow rates inverted: "1.50s/it"
            rate, unit = (1.0 / value if value else None), unit[2:]
        else:
            rate, unit = value, unit.removesuffix("/s")
    else:
        unit = unit.removesuffix("/s").removeprefix("s/")
    desc = (m["desc"] or "").strip() or None
    if desc:
        desc = re.sub(r"^\\?\[step [^\]]+\]\s*", "", desc) or None
    return Progress(done=done, total=total or None, unit=unit or "it", desc=desc, rate=rate)


def progress_from_log(log_path: str | os.PathLike[str], step_name: str) -> Progress | None:
    """The newest tqdm bar of step ``step_name`` in the tail of a Tango run log, if any.

    A bar counts as the step's when it carries the multicore ``[step NAME]`` prefix, or (a
    sequential run) when it comes after the step's "Starting step" marker with no other step's
    marker after it.
    """
    try:
        with open(log_path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - TAIL_BYTES))
            tail = f.read().decode("utf-8", "replace")
            updated = datetime.fromtimestamp(os.fstat(f.fileno()).st_mtime, UTC)
    except OSError:
        return None
    candidate: Progress | None = None
    for line in reversed(tail.splitlines()):
        head = parse_head(line)
        if head is None:
            continue
        if head.step is not None:
            if head.step == step_name and (bar := parse_bar(head.message)):
                return _stamped(bar, updated)
            continue
        marker = _MARKER.search(head.message)
        if marker:
            if marker["name"] != step_name:
                return None  # another step ran after: the bar, if any, was not ours
            if "Starting step" in head.message:
                return _stamped(candidate, updated) if candidate else None
            return None  # finished or failed: no live progress
        if candidate is None:
            candidate = parse_bar(head.message)
    return None


def _stamped(bar: Progress | None, updated: datetime) -> Progress | None:
    if bar is None:
        return None
    return Progress(
        done=bar.done, total=bar.total, unit=bar.unit, desc=bar.desc, rate=bar.rate, updated=updated
    )
