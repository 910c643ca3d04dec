"""Helpers shared by the dashboard tests: small real steps, workspace builders, waiting
and reading helpers. (Kept out of ``conftest.py`` so test modules import them by a name no
other test directory uses.)

Every workspace here is produced by ``tango_tui.run_steps`` running small real steps; nothing
is hand-written to disk except where a test is about a broken or hostile file.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from tango_tui import LocalWorkspace, Step, run_steps

logger = logging.getLogger("tests.app.steps")

# -- small real steps ------------------------------------------------------------------------


class Numbers(Step):
    """Makes ``n`` numbers."""

    VERSION = "001"

    def run(self, n: int) -> list[int]:  # type: ignore[override]
        logger.info("making %d numbers", n)
        return list(range(n))


class Square(Step):
    """Squares them."""

    VERSION = "001"

    def run(self, numbers: list[int]) -> list[int]:  # type: ignore[override]
        logger.info("squaring %d numbers", len(numbers))
        return [x * x for x in numbers]


class Total(Step):
    """Adds them up."""

    VERSION = "001"

    def run(self, values: list[int]) -> int:  # type: ignore[override]
        logger.info("adding %d values", len(values))
        return sum(values)


class Boom(Step):
    """Fails with a traceback."""

    VERSION = "001"

    def run(self, values: list[int]) -> int:  # type: ignore[override]
        logger.warning("these values look odd: %d of them", len(values))
        return _explode(values)


def _explode(values: list[int]) -> int:
    logger.error("giving up on %d values", len(values))
    raise ValueError(f"boom: cannot handle {len(values)} values")


class Echo(Step):
    """Returns its input (used after a failing step: never runs)."""

    VERSION = "001"

    def run(self, x: Any) -> Any:  # type: ignore[override]
        return x


class Tagged(Step):
    """Returns its input with a tag (many of them make a wide run)."""

    VERSION = "001"

    def run(self, x: Any, tag: int) -> Any:  # type: ignore[override]
        return (tag, x)


def pipeline(n: int = 5) -> dict[str, Step]:
    """numbers -> squares -> total."""
    numbers = Numbers(n=n, step_name="numbers")
    squares = Square(numbers=numbers, step_name="squares")
    return {"total": Total(values=squares, step_name="total")}


def failing_pipeline(n: int = 5) -> dict[str, Step]:
    """The pipeline plus boom(squares) -> after_boom (dependency failed)."""
    numbers = Numbers(n=n, step_name="numbers")
    squares = Square(numbers=numbers, step_name="squares")
    boom = Boom(values=squares, step_name="boom")
    return {
        "total": Total(values=squares, step_name="total"),
        "after_boom": Echo(x=boom, step_name="after_boom"),
    }


def run_quietly(ws: Any, targets: dict[str, Step], name: str, parallelism: int = 1) -> Any:
    """``run_steps`` that tolerates a failing pipeline (the run record says how it ended)."""
    try:
        return run_steps(ws, targets, name=name, parallelism=parallelism)
    except Exception:  # noqa: BLE001 - a failed step may surface as an exception; the workspace has it all
        return None


def build_workspace(root: Path) -> Path:
    """Two runs: ``first`` (completes) then ``second`` (cached, failed, dependency failed)."""
    ws = LocalWorkspace(root)
    run_quietly(ws, pipeline(), "first")
    run_quietly(ws, failing_pipeline(), "second")
    return root


FROZEN = datetime(2026, 5, 4, 12, 0, 0, tzinfo=UTC)
"""The start of the frozen clock of snapshot tests."""


async def wait_for(
    pilot: Pilot[Any], condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition"
) -> Any:
    """Let the app run until ``condition()`` is truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except Exception:  # noqa: BLE001 - a widget not mounted yet counts as "not yet"
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await pilot.pause(0.02)


def cell(table: Any, row_key: str, column_key: str) -> str:
    """The plain text of one cell of a table (a LineTable, or a DataTable) as drawn."""
    if hasattr(table, "cell_text"):
        return str(table.cell_text(row_key, column_key))
    value = table.get_cell(row_key, column_key)
    return getattr(value, "plain", str(value))


def row_keys(table: Any) -> list[str]:
    """A table's row keys in display order (a LineTable, or a DataTable)."""
    if hasattr(table, "ordered_keys"):
        return list(table.ordered_keys)
    return [table.coordinate_to_cell_key((i, 0)).row_key.value for i in range(table.row_count)]


def checksums(root: Path) -> dict[str, tuple[str, int, float]]:
    """Every entry under ``root``: (kind/content hash, size, mtime); symlinks by target."""
    import hashlib

    out: dict[str, tuple[str, int, float]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            if p.is_symlink():
                out[str(p)] = ("link:" + os.readlink(p), st.st_size, st.st_mtime)
            elif p.is_file():
                out[str(p)] = (hashlib.sha256(p.read_bytes()).hexdigest(), st.st_size, st.st_mtime)
            else:
                out[str(p)] = ("dir", 0, st.st_mtime)
    return out
