"""Fixtures for the dashboard tests (the helpers they use live in ``app_support.py``)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from app_support import FROZEN, Boom, Numbers, Tagged, build_workspace, run_quietly

from tango_tui import LocalWorkspace, Step


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Show times in UTC so what the tests read does not depend on the machine's zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with runs ``first`` and ``second`` written by the real library.

    Shared by the tests that only read it (the app never writes); a test that changes the
    workspace uses :func:`own_workspace`.
    """
    return build_workspace(tmp_path_factory.mktemp("shared") / "ws")


@pytest.fixture(scope="session")
def wide_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run ``wide`` of 202 steps: numbers -> boom (fails) -> 200 steps that never run."""
    root = tmp_path_factory.mktemp("wide") / "ws"
    boom = Boom(values=Numbers(n=3, step_name="numbers"), step_name="boom")
    targets: dict[str, Step] = {
        f"s{i:03d}": Tagged(x=boom, tag=i, step_name=f"s{i:03d}") for i in range(200)
    }
    run_quietly(LocalWorkspace(root), targets, "wide")
    return root


@pytest.fixture
def own_workspace(workspace: Path, tmp_path: Path) -> Path:
    """A private copy of :func:`workspace` that the test may change."""
    import shutil

    return Path(shutil.copytree(workspace, tmp_path / "ws", symlinks=True))


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[], datetime]:
    """Replace ``utc_now`` in the library and ``now`` in the app with a clock that ticks one
    second per reading, so a workspace written with ``parallelism=1`` is the same every time."""
    state = {"t": FROZEN}

    def fake_now() -> datetime:
        state["t"] += timedelta(seconds=1)
        return state["t"]

    import importlib
    import pkgutil

    import tango_tui.core

    # Import every library module first, so none picks up the real clock later.
    for info in pkgutil.walk_packages(tango_tui.core.__path__, "tango_tui.core."):
        importlib.import_module(info.name)
    for name, module in list(sys.modules.items()):
        if name.startswith("tango_tui.core") and hasattr(module, "utc_now"):
            monkeypatch.setattr(module, "utc_now", fake_now)
    import tango_tui.app.format as fmt

    monkeypatch.setattr(fmt, "now", lambda: FROZEN + timedelta(hours=1))
    return fake_now
