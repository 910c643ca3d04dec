"""Step classes shared by the LocalWorkspace tests and the subprocesses they start.

The subprocesses import this module by file location, so the classes (and so their unique ids)
are the same on both sides.
"""

from __future__ import annotations

import errno
from typing import Any

from tango_tui.core._step import Step


class Echo(Step):
    """Returns its ``value``: the smallest step there is."""

    def run(self, value: Any) -> Any:  # type: ignore[override]
        return value


class Uncached(Step):
    """A step whose result is never stored."""

    CACHEABLE = False

    def run(self, value: Any) -> Any:  # type: ignore[override]
        return value


class DiskFull:
    """A value whose pickling fails the way a full disk fails a write (ENOSPC)."""

    def __reduce__(self) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device")


class PickledEcho(Step):
    """Like Echo, but always stored as a pickle."""

    FORMAT = "pickle"

    def run(self, value: Any) -> Any:  # type: ignore[override]
        return value
