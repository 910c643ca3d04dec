"""Regenerate the README's screenshots of the real dashboard.

Writes a workspace with the real library (the bundled demo pipeline, run in a background
process so a step's log is growing while the pictures are taken), drives the real app headless,
and saves SVG files to ``screenshots/``; with ``rsvg-convert`` installed, PNG copies as well.

    .venv/bin/python scripts/screenshots.py [--keep]

Every wait is on a condition with a deadline; the writer process is always ended.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "screenshots"
SIZE = (160, 42)


async def until(pilot: Any, cond: Any, what: str, timeout: float = 60.0) -> Any:
    """Run the app until ``cond()`` is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = cond()
        except Exception:  # noqa: BLE001
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshots: timed out waiting for {what}")
        await pilot.pause(0.05)


def save(app: Any, name: str) -> Path:
    """Save the current screen as ``screenshots/NAME.svg`` (and ``.png`` if possible)."""
    OUT.mkdir(exist_ok=True)
    svg = OUT / f"{name}.svg"
    text = app.export_screenshot(title=f"tango-tui: {name.replace('-', ' ')}")
    # rsvg drops leading spaces unless the svg element asks to preserve them.
    text = re.sub(r"<svg ", '<svg xml:space="preserve" ', text, count=1)
    svg.write_text(text)
    if shutil.which("rsvg-convert"):
        subprocess.run(["rsvg-convert", str(svg), "-o", str(svg.with_suffix(".png"))], check=True)
    print(f"saved {svg}")
    return svg


def warm_up(root: Path) -> None:
    """Two quick earlier runs, so the runs view has history (the second one hits the cache)."""
    from tango_tui import LocalWorkspace, Step, run_steps

    class Shard(Step):
        VERSION = "001"

        def run(self, index: int) -> list[int]:  # type: ignore[override]
            return list(range(index * 10, index * 10 + 10))

    class Merge(Step):
        VERSION = "001"

        def run(self, shards: list[list[int]]) -> int:  # type: ignore[override]
            return sum(map(sum, shards))

    ws = LocalWorkspace(root)
    shards = [Shard(index=i, step_name=f"shard_{i}") for i in range(4)]
    targets = {"merge": Merge(shards=shards, step_name="merge")}
    run_steps(ws, targets, name="nightly-prep")
    run_steps(ws, targets, name="nightly-prep-rerun")

    class Validate(Step):
        VERSION = "001"

        def run(self, total: int) -> int:  # type: ignore[override]
            raise ValueError(f"checksum mismatch: {total} is not a multiple of 7")

    run_steps(
        ws,
        {"validate": Validate(total=targets["merge"], step_name="validate")},
        name="nightly-validate",
    )


def step_uid(detail: Any, name: str) -> str | None:
    return next((s.unique_id for s in detail.steps if s.name == name), None)


def state_of(detail: Any, name: str) -> str:
    return next((str(s.state) for s in detail.steps if s.name == name), "")


async def shoot(root: Path) -> None:
    from tango_tui.app import make_app
    from tango_tui.app.screens.run import RunScreen
    from tango_tui.app.screens.step import StepScreen
    from tango_tui.app.widgets.log_lines import LogLines
    from tango_tui.app.widgets.runs_table import RunsTable

    app = make_app(str(root), theme="textual-dark")
    async with app.run_test(size=SIZE) as pilot:
        await until(
            pilot,
            lambda: (
                app.screen.query_one(RunsTable).row_count >= 3 and app.screen.query_one(RunsTable)
            ),
            "four runs",
        )
        await pilot.press("enter")
        run = await until(
            pilot,
            lambda: isinstance(app.screen, RunScreen) and app.screen.detail and app.screen,
            "run view",
        )
        await until(
            pilot,
            lambda: (
                state_of(run.detail, "check_labels") == "failed"
                and state_of(run.detail, "train") == "running"
                and any(s.progress and s.progress.rate for s in run.detail.steps)
            ),
            "failure and a progress bar",
        )
        await pilot.press("n")
        await pilot.pause(0.2)
        save(app, "run-view")

        await pilot.press("enter")
        step = await until(
            pilot,
            lambda: isinstance(app.screen, StepScreen) and app.screen.info and app.screen,
            "failed step",
        )
        await until(pilot, lambda: step.query_one(LogLines).window, "its log")
        # Show the end of the record, where the traceback is.
        step.query_one("#step-scroll").scroll_end(animate=False)
        await pilot.pause(0.2)
        save(app, "step-view-traceback")

        await pilot.press("escape")
        train = step_uid(run.detail, "train")
        assert train is not None
        run.table.select_uid(train)
        await pilot.press("enter")
        step = await until(
            pilot,
            lambda: isinstance(app.screen, StepScreen) and app.screen.info and app.screen,
            "train step",
        )
        lines = step.query_one(LogLines)
        await until(
            pilot,
            lambda: any("learning rate looks high" in ln.text for ln in lines.window),
            "the third epoch's warning in the log",
        )
        save(app, "log-following")

        await pilot.press("escape", "escape")
        await until(pilot, lambda: app.screen.query_one(RunsTable), "runs view again")
        await pilot.pause(0.3)
        save(app, "runs-view")
        await pilot.press("q")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the generated workspace")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tango-tui-shots-"))
    root = tmp / "ws"
    warm_up(root)
    env = {**os.environ, "TANGO_TUI_DEMO_SPEED": "1.5"}
    demo = [sys.executable, "-m", "tango_tui.demo", str(root)]
    # The demo pipeline writes while the pictures are taken: logs grow, a step fails.
    writer = subprocess.Popen(demo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        asyncio.run(shoot(root))
    finally:
        writer.terminate()
        try:
            writer.wait(timeout=10)
        except subprocess.TimeoutExpired:
            writer.kill()
            writer.wait()
        if args.keep:
            print(f"workspace kept at {root}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
