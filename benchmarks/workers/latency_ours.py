"""Change-on-disk -> on-screen latency of the real tango-tui app, headless (runs in our .venv).

A separate writer process (``ws_writer.py``) makes each change; this process runs the app with
``App.run_test()``. The probe hooks the app's frame output (``App._display``, called with every
frame even headless): after each frame it reads the screen's text through Textual's compositor
(cheap then: every widget's lines were just rendered). Latency = the time of the first frame that
shows the change minus the moment the writer's call returned (``time.monotonic``, system-wide on
Linux). A polling probe would steal the event loop from the app and inflate the figures.

Usage: python latency_ours.py '{"ws": DIR, "poll": null|0.25, "samples": 20, "bg_runs": 50}'
"""

import asyncio
import json
import random
import subprocess
import sys
import time
from pathlib import Path

from tango_tui.app import make_app
from tango_tui.app.screens.log import LogScreen
from tango_tui.app.screens.run import RunScreen
from tango_tui.app.widgets.steps_table import StepsTable

TIMEOUT = 5.0


class FrameProbe:
    """Wraps ``app._display``: records the time of each frame and wakes waiters."""

    def __init__(self, app):
        self.app = app
        self.frame = asyncio.Event()
        self.last_frame = time.monotonic()
        original = app._display

        def display(screen, renderable):
            original(screen, renderable)
            if renderable is not None:
                self.last_frame = time.monotonic()
                self.frame.set()

        app._display = display


def screen_text(app) -> str:
    """The text the current screen paints (rendered through the compositor)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def steps_table_text(app) -> str:
    """The text the run view's steps table paints, and nothing beside it: on a screen line the
    dependency tree may name another step (a probe reading whole lines matched "wstep02" in the
    tree with "completed" in wstep01's row, 0 ms samples before the change was even read)."""
    region = app.screen.query_one(StepsTable).region
    strips = app.screen._compositor.render_strips()[region.y : region.bottom]
    return "\n".join(strip.crop(region.x, region.right).text for strip in strips)


class Writer:
    """The writer subprocess, one JSON command/answer per line."""

    def __init__(self):
        here = Path(__file__).parent
        self.proc = subprocess.Popen(
            [sys.executable, str(here / "ws_writer.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def send(self, **cmd) -> None:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def reply(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("writer died")
        return json.loads(line)

    def call(self, **cmd) -> dict:
        self.send(**cmd)
        return self.reply()

    def close(self) -> None:
        try:
            self.send(cmd="quit")
        except BrokenPipeError:
            pass
        self.proc.wait(timeout=10)


async def wait_for(app, predicate, timeout=TIMEOUT, view=screen_text) -> float | None:
    """Wait for a frame whose ``view(app)`` text satisfies ``predicate(text)``; that frame's
    time, or None."""
    probe: FrameProbe = app._bench_probe
    deadline = time.monotonic() + timeout
    if predicate(view(app)):
        return time.monotonic()
    while time.monotonic() < deadline:
        probe.frame.clear()
        try:
            await asyncio.wait_for(probe.frame.wait(), max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            break
        at = probe.last_frame
        if predicate(view(app)):
            return at
    return None


async def measure(app, writer: Writer, cmd: dict, predicate, view=screen_text) -> float | None:
    """Send ``cmd`` to the writer, wait until ``view(app)`` satisfies ``predicate``."""
    writer.send(**cmd)
    reply_task = asyncio.create_task(asyncio.to_thread(writer.reply))
    seen = await wait_for(app, predicate, view=view)
    reply = await reply_task
    if seen is None:
        return None
    return max(0.0, seen - reply["t1"])


def row_has(name: str, word: str):
    return lambda text: any(name in line and word in line for line in text.splitlines())


async def run(args) -> dict:
    ws = Path(args["ws"])
    writer = Writer()
    writer.call(cmd="setup", ws=str(ws), runs=args["bg_runs"], steps=args["samples"])
    rng = random.Random(7)
    out: dict = {"new_run": [], "state": [], "log_line": [], "missed": 0}
    app = make_app(str(ws), poll_interval=args["poll"])
    app._bench_probe = FrameProbe(app)
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            if await wait_for(app, lambda t: "watched" in t, timeout=30) is None:
                raise RuntimeError("runs table never showed the runs")
            await asyncio.sleep(0.5)
            for k in range(args["samples"]):
                await asyncio.sleep(0.05 + rng.random() * 0.1)
                name = f"lat{k:03d}"
                out["new_run"].append(
                    await measure(
                        app, writer, {"cmd": "register", "name": name}, lambda t, n=name: n in t
                    )
                )
            await app.push_screen(RunScreen("watched"))
            if await wait_for(app, lambda t: "wstep00" in t, timeout=30) is None:
                raise RuntimeError("run view never showed the steps")
            await asyncio.sleep(0.3)
            for k in range(args["samples"]):
                step = f"wstep{k:02d}"
                for cmd, word in (("start", "running"), ("finish", "completed")):
                    await asyncio.sleep(0.05 + rng.random() * 0.1)
                    out["state"].append(
                        await measure(
                            app, writer, {"cmd": cmd, "i": k}, row_has(step, word), steps_table_text
                        )
                    )
            log = ws / "runs" / "watched" / "out.log"
            await app.push_screen(LogScreen(log, title="out.log"))
            if await wait_for(app, lambda t: "run log opened" in t, timeout=30) is None:
                raise RuntimeError("log view never showed the log")
            await asyncio.sleep(0.3)
            for k in range(args["samples"]):
                await asyncio.sleep(0.05 + rng.random() * 0.1)
                text = f"latency-marker-{k:04d} appended by the writer"
                out["log_line"].append(
                    await measure(
                        app,
                        writer,
                        {"cmd": "append", "path": str(log), "text": text},
                        lambda t, m=f"latency-marker-{k:04d}": m in t,
                    )
                )
            del pilot
    finally:
        writer.close()
    for key in ("new_run", "state", "log_line"):
        out["missed"] += sum(1 for v in out[key] if v is None)
        out[key] = [v for v in out[key] if v is not None]
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run(json.loads(sys.argv[1])))))
