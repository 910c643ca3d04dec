"""Probes every layer of one bad-input case: library, headless CLI, and the real Textual app.

Used in-process and as a batch driver (``python crash_corpus.py SPEC.json``, prints JSON results),
so that the permission cases run as an unprivileged user (``setpriv``) in one process.

A spec is ``{"id", "root", "run", "uid"}`` (run and uid may be null); the result is::

    {"lib": {"errors": [...], "warnings": [...], "foreign": [...]},
     "cli": [{"args", "code", "out", "err", "traceback"}],
     "app": {"make_app_error", "error", "text", "final_screen", "visited"}}

``foreign`` lists exceptions the library raised that are not its own errors (a bug).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import sys
import time
import traceback
from typing import Any

SIZE = (160, 45)


# ----- library ---------------------------------------------------------------------------------
class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record.getMessage())


def probe_library(root: str, run: str | None, uid: str | None) -> dict[str, Any]:
    """Open the workspace read-only, list runs, read ``run`` and step ``uid`` through the library."""
    from tango_tui.core import TangoTuiError

    out: dict[str, Any] = {"errors": [], "warnings": [], "foreign": [], "runs": None}
    handler = _Collect()
    logging.getLogger().addHandler(handler)
    try:

        def attempt(what: str, fn: Any) -> Any:
            try:
                return fn()
            except KeyError as e:
                out["errors"].append(f"{what}: KeyError: {e}")
            except TangoTuiError as e:
                out["errors"].append(f"{what}: {type(e).__name__}: {e}")
            except Exception as e:  # noqa: BLE001 -- the point: anything else is reported
                out["foreign"].append(f"{what}: {type(e).__name__}: {e}\n{traceback.format_exc()}")
            return None

        from tango_tui.monitor.source import open_source

        src = attempt("open_source", lambda: open_source(root))
        if src is None:
            return out
        ws = attempt("workspace", lambda: src.workspace)
        if ws is None:
            return out
        runs = attempt("registered_runs", ws.registered_runs)
        out["runs"] = sorted(runs) if runs is not None else None
        if run is not None:
            r = attempt("registered_run", lambda: ws.registered_run(run))
            if r is not None:
                attempt("run.steps", lambda: {k: v.state for k, v in r.steps.items()})
        if uid is not None:
            attempt("step_info", lambda: ws.step_info(uid))
        attempt("search_step_info", lambda: ws.search_step_info())
    finally:
        logging.getLogger().removeHandler(handler)
        out["warnings"] = handler.records
    return out


# ----- CLI -------------------------------------------------------------------------------------
def run_cli(args: list[str]) -> dict[str, Any]:
    """``tango-tui ARGS`` through its ``main``, with stdout as strict UTF-8 like a terminal's."""
    from tango_tui.cli import main

    raw_out, raw_err = io.BytesIO(), io.BytesIO()
    out = io.TextIOWrapper(raw_out, encoding="utf-8", errors="strict", write_through=True)
    err = io.TextIOWrapper(raw_err, encoding="utf-8", errors="backslashreplace", write_through=True)
    tb = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 2
        except BaseException:  # noqa: BLE001 -- what `python -m tango_tui` would die with
            tb = traceback.format_exc()
            code = 1
    decode = lambda b: b.decode("utf-8", "backslashreplace")
    return {
        "args": args,
        "code": code,
        "out": decode(raw_out.getvalue()),
        "err": decode(raw_err.getvalue()),
        "traceback": tb,
    }


def probe_cli(root: str, run: str | None) -> list[dict[str, Any]]:
    """``ls``, ``ls --json`` and (for a run) ``show`` and ``show --json``."""
    calls = [["ls", root], ["ls", root, "--json"]]
    if run is not None:
        calls += [["show", root, run], ["show", root, run, "--json"]]
    return [run_cli(c) for c in calls]


# ----- app -------------------------------------------------------------------------------------
def app_text(app: Any) -> str:
    """What the user can read: the screen as rendered, the full text of notices and step details
    (they may be wider than the screen), and the notifications."""
    from rich.console import Console
    from textual.widgets import Static

    console = Console(
        width=SIZE[0],
        height=SIZE[1],
        file=io.StringIO(),
        record=True,
        force_terminal=True,
        color_system=None,
        legacy_windows=False,
    )
    console.print(app.screen._compositor.render_update(full=True))
    parts = [console.export_text()]
    for w in app.screen.query(Static):
        with contextlib.suppress(Exception):
            parts.append(str(w.render()))
    with contextlib.suppress(Exception):  # private API: notifications are a bonus place to look
        parts += [n.message for n in app._notifications]
    for w in app.screen.query("LogLines"):
        parts.append(str(getattr(w, "problem", None) or ""))
    return "\n".join(parts)


async def _settle(app: Any, pilot: Any, cond: Any = None, timeout: float = 10.0) -> None:
    """Let workers finish and messages land; then wait (with a deadline) for ``cond``."""
    deadline = time.monotonic() + timeout
    while True:
        await app.workers.wait_for_complete()
        await pilot.pause()
        try:
            ok = cond is None or cond()
        except Exception:  # noqa: BLE001 -- a widget not mounted yet counts as "not yet"
            ok = False
        if ok:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"app did not reach {cond} within {timeout}s")
        await pilot.pause(0.02)


async def drive_app(
    root: str, run: str | None, uid: str | None, hook: Any = None, log_screen: bool = False
) -> dict[str, Any]:
    """Open the dashboard, open ``run`` and step ``uid``, go back to the runs.

    With ``log_screen``, also switch the step's log pane to the run log, open the run's log view
    from the run (``l``), then the help screen.

    ``hook(stage, app, pilot)`` (async) is called at each stage ("runs", "run", "step") so a test
    can change the workspace while the app is open.
    """
    from tango_tui.app import make_app
    from tango_tui.app.screens.help import HelpScreen
    from tango_tui.app.screens.log import LogScreen
    from tango_tui.app.screens.run import RunScreen
    from tango_tui.app.screens.runs import RunsScreen
    from tango_tui.app.screens.step import StepScreen

    res: dict[str, Any] = {
        "make_app_error": None,
        "error": None,
        "text": "",
        "visited": [],
        "final_screen": None,
    }
    try:
        app = make_app(root)
    except Exception as e:  # noqa: BLE001 -- recorded: the CLI prints it and exits 2
        res["make_app_error"] = f"{type(e).__name__}: {e}"
        return res
    texts: list[str] = []
    try:
        async with app.run_test(size=SIZE) as pilot:
            runs_screen = lambda: isinstance(app.screen, RunsScreen) and app.screen
            await _settle(
                app,
                pilot,
                lambda: (
                    runs_screen()
                    and (app.screen.loaded or str(app.screen.query_one("#runs-notice").render()))
                ),
            )
            res["visited"].append("runs")
            if hook:
                await hook("runs", app, pilot)
                await _settle(app, pilot)
            texts.append(app_text(app))
            table = app.screen.table
            if run is not None and run in table.rows_by_name:
                table.move_cursor(row=table.rows[run])
                await pilot.press("enter")
                await _settle(
                    app,
                    pilot,
                    lambda: (
                        isinstance(app.screen, RunScreen)
                        and (app.screen.detail is not None or app.screen.error)
                    ),
                )
                res["visited"].append("run")
                if hook:
                    await hook("run", app, pilot)
                    await _settle(app, pilot)
                texts.append(app_text(app))
                if uid is not None and app.screen.table.select_uid(uid):
                    await pilot.press("enter")
                    await _settle(app, pilot, lambda: isinstance(app.screen, StepScreen))
                    await _settle(app, pilot)
                    res["visited"].append("step")
                    if hook:
                        await hook("step", app, pilot)
                        await _settle(app, pilot)
                    texts.append(app_text(app))
                    if log_screen:
                        await pilot.press("o")  # the step's pane shows the run's log
                        await _settle(app, pilot)
                        texts.append(app_text(app))
                    await pilot.press("escape")
                    await _settle(app, pilot, lambda: isinstance(app.screen, RunScreen))
                if log_screen:
                    await pilot.press("l")
                    await _settle(app, pilot, lambda: isinstance(app.screen, LogScreen))
                    await _settle(app, pilot)
                    res["visited"].append("log")
                    texts.append(app_text(app))
                    await pilot.press("escape", "question_mark")
                    await _settle(app, pilot, lambda: isinstance(app.screen, HelpScreen))
                    res["visited"].append("help")
                    await pilot.press("escape")
                    await _settle(app, pilot, lambda: isinstance(app.screen, RunScreen))
                await pilot.press("escape")
                await _settle(app, pilot, runs_screen)
            res["final_screen"] = type(app.screen).__name__
            await pilot.press("q")
    except Exception:  # noqa: BLE001 -- a crash of the app is the finding
        res["error"] = traceback.format_exc()
    res["text"] = "\n".join(texts)
    return res


def probe(spec: dict[str, Any]) -> dict[str, Any]:
    """All three layers of one case."""
    root, run, uid = spec["root"], spec.get("run"), spec.get("uid")
    return {
        "lib": probe_library(root, run, uid),
        "cli": probe_cli(root, run),
        "app": asyncio.run(drive_app(root, run, uid, log_screen=spec.get("log_screen", False))),
    }


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        specs = json.load(f)
    results = {s["id"]: probe(s) for s in specs}
    with open(sys.argv[2], "w") as f:
        json.dump(results, f)
