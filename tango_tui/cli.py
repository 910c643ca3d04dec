"""The ``tango-tui`` command.

::

    tango-tui DIR|URL [--poll SECONDS] [--theme NAME]   the live dashboard
    tango-tui ls DIR [--json]                           list the runs
    tango-tui show DIR RUN [--json]                     a run's steps
    tango-tui demo [DIR] [--no-ui]                      run the bundled example pipeline and watch it

The headless commands read through :mod:`tango_tui.monitor.source` and never import Textual; the
dashboard is imported only when it is started. Exit codes: 0 ok, 1 no such run (or a failed demo
pipeline with ``--no-ui``), 2 usage error or a path that is not a workspace.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from . import __version__
from .core._errors import WorkspaceError
from .core._model import StepState

COMMANDS = ("ls", "show", "demo")

_DESCRIPTION = """\
A live terminal dashboard for tango-tui and AI2 Tango (1.x) workspaces.

commands:
  tango-tui DIR|URL [--poll S] [--theme NAME]  open the dashboard on a workspace (it may be empty
                                               or not exist yet: runs appear as they are written)
  tango-tui ls DIR [--json]                    print the runs, newest first
  tango-tui show DIR RUN [--json]              print a run's steps
  tango-tui demo [DIR] [--no-ui]               run an example pipeline in the background and
                                               open the dashboard on it
"""


def _dashboard_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tango-tui",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run 'tango-tui COMMAND --help' for a command's options. "
        "A workspace directory literally named like a command: write ./ls.",
    )
    p.add_argument("--version", action="version", version=f"tango-tui {__version__}")
    p.add_argument("path", metavar="DIR|URL", help="workspace directory or local:// URL")
    _add_live_options(p)
    return p


def _add_live_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--poll",
        metavar="SECONDS",
        type=_positive_float,
        default=None,
        help="poll the file system every SECONDS instead of inotify (for NFS and other network "
        "file systems, where inotify never sees other machines' writes)",
    )
    p.add_argument(
        "--theme", metavar="NAME", default=None, help="Textual theme (e.g. nord, gruvbox)"
    )


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _command_parser(command: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"tango-tui {command}")
    if command == "ls":
        p.description = "Print the runs of a workspace, newest first."
        p.add_argument("path", metavar="DIR|URL")
        p.add_argument(
            "--json", action="store_true", help="print JSON (a list of runs with their steps)"
        )
    elif command == "show":
        p.description = "Print the steps of one run, dependencies first."
        p.add_argument("path", metavar="DIR|URL")
        p.add_argument("run", metavar="RUN")
        p.add_argument("--json", action="store_true", help="print JSON")
    else:
        p.description = (
            "Start the bundled example pipeline in a background process writing into DIR "
            "(default: a fresh temporary directory) and open the dashboard on it. Run it again "
            "into the same DIR to see cached steps."
        )
        p.add_argument(
            "path",
            metavar="DIR",
            nargs="?",
            default=None,
            help="workspace to write the example runs into (created if missing; an existing "
            "one must be a tango-tui workspace); default: a fresh temporary directory, printed",
        )
        p.add_argument(
            "--no-ui",
            action="store_true",
            help="only run the pipeline, in the foreground (no terminal needed), then exit; "
            "look at it afterwards with 'tango-tui ls DIR' or 'tango-tui DIR'",
        )
        _add_live_options(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``tango-tui``; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in COMMANDS:
        ns = _command_parser(args[0]).parse_args(args[1:])
        command = args[0]
    else:
        ns = _dashboard_parser().parse_args(args)
        command = "ui"
    try:
        if command == "ls":
            return cmd_ls(ns.path, as_json=ns.json)
        if command == "show":
            return cmd_show(ns.path, ns.run, as_json=ns.json)
        if command == "demo":
            from .demo.launch import cmd_demo

            return cmd_demo(ns.path, no_ui=ns.no_ui, poll_interval=ns.poll, theme=ns.theme)
        return cmd_ui(ns.path, poll_interval=ns.poll, theme=ns.theme)
    except WorkspaceError as e:
        print(f"tango-tui: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `tango-tui ls DIR | head`: the reader went away; that is not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as e:
        # The monitor turns what it reads into problems; this is the last line of defence, so
        # that nothing it missed ends in a traceback: name the path and the problem.
        where = e.filename if e.filename is not None else ns.path
        print(f"tango-tui: {where}: {e.strerror or e}", file=sys.stderr)
        return 2


def _open_existing(path: str) -> Any:
    from .monitor.source import open_source, path_from_url

    root = path_from_url(path)
    if not root.exists():
        raise WorkspaceError(root, "no such directory")
    return open_source(path)


# Set (to anything but "" or "0") to start the dashboard without a terminal, for tests.
ALLOW_NO_TTY_ENV = "TANGO_TUI_ALLOW_NO_TTY"


def _mistyped_command(path: str) -> str | None:
    """Why ``path`` is refused as a not-yet-existing workspace, if it looks like a typo.

    A bare word (no slash, no URL) that names nothing is far more likely a mistyped command
    than a workspace someone will create in the current directory; a path with a slash
    (``./ws``, ``/abs/not/yet``) is taken at its word and waited for.
    """
    if "/" in path or "://" in path or os.path.lexists(path):
        return None
    close = difflib.get_close_matches(path, COMMANDS, n=1, cutoff=0.5)
    hint = (
        f"did you mean '{close[0]}'?" if close else f"to wait for it to be created, write ./{path}"
    )
    return f"no such directory {path!r} ({hint})"


def _no_terminal() -> str | None:
    """Which of stdin/stdout is not a terminal, unless the test override is set."""
    if os.environ.get(ALLOW_NO_TTY_ENV, "") not in ("", "0"):
        return None
    for name, stream in (("stdout", sys.stdout), ("stdin", sys.stdin)):
        try:
            tty = stream is not None and stream.isatty()
        except (ValueError, OSError):
            tty = False
        if not tty:
            return name
    return None


def cmd_ui(path: str, *, poll_interval: float | None = None, theme: str | None = None) -> int:
    """Open the dashboard (the directory may be empty or not exist yet)."""
    from .monitor.source import open_source

    typo = _mistyped_command(path)
    if typo is not None:
        print(f"tango-tui: {typo}", file=sys.stderr)
        return 2
    source = open_source(path)  # fails fast, before Textual loads, on a non-workspace
    from .app import make_app

    try:
        app = make_app(path, poll_interval=poll_interval, theme=theme, source=source)
    except ValueError as e:
        print(f"tango-tui: {e}", file=sys.stderr)
        return 2
    missing = _no_terminal()
    if missing is not None:
        print(
            f"tango-tui: the dashboard needs a terminal, and {missing} is not one. "
            f"For a plain listing use 'tango-tui ls {path}' or 'tango-tui show {path} RUN'.",
            file=sys.stderr,
        )
        return 2
    app.run()
    return int(app.return_code or 0)


# ----- headless -----------------------------------------------------------------------------------
def cmd_ls(path: str, *, as_json: bool = False, out: TextIO | None = None) -> int:
    """Print the runs of the workspace at ``path``."""
    out = out or sys.stdout
    src = _open_existing(path)
    rows = src.list_runs()
    if as_json:
        docs = []
        for row in rows:
            try:
                docs.append(src.run_detail(row.name).to_json_dict())
            except KeyError:
                continue  # deleted while listing
        json.dump(docs, out, indent=2)
        out.write("\n")
    elif not rows:
        out.write(f"no runs in {src.root}\n")
    else:
        now = datetime.now(UTC)
        table = [
            [
                r.name,
                r.status.value,
                _when(r.start_date),
                _duration(r.start_date, _run_end(src, r, now)),
                _counts(r.counts),
                r.problem or "",
            ]
            for r in rows
        ]
        _print_table(["RUN", "STATUS", "STARTED", "DURATION", "STEPS", "PROBLEM"], table, out)
    _print_problems(src)
    return 0


def cmd_show(path: str, run: str, *, as_json: bool = False, out: TextIO | None = None) -> int:
    """Print the steps of run ``run`` of the workspace at ``path``."""
    out = out or sys.stdout
    src = _open_existing(path)
    try:
        detail = src.run_detail(run)
    except KeyError:
        print(f"tango-tui: no run named {run!r} in {src.root}", file=sys.stderr)
        return 1
    if detail.run.problem is not None or (not detail.steps and src.problems):
        # The run's record could not be used: an empty table would look like a run of no steps.
        problems = src.problems or [f"run {run!r}: {detail.run.problem}"]
        for p in problems:
            print(f"tango-tui: cannot show run {run!r}: {p}", file=sys.stderr)
        return 1
    if as_json:
        json.dump(detail.to_json_dict(), out, indent=2)
        out.write("\n")
    else:
        r = detail.run
        out.write(f"run {r.name}: {r.status.value}, started {_when(r.start_date)}")
        if r.end_date:
            out.write(f", took {_duration(r.start_date, r.end_date)}")
        out.write("\n")
        now = datetime.now(UTC)
        table = [
            [
                s.name + (" *" if s.target else ""),
                s.state.value,
                s.reason.value,
                _when(s.start_time),
                _duration(
                    s.start_time, s.end_time or (now if s.state == StepState.RUNNING else None)
                ),
                s.unique_id,
                (s.error or "").splitlines()[0] if s.error else "",
            ]
            for s in detail.steps
        ]
        _print_table(
            ["STEP", "STATE", "REASON", "STARTED", "DURATION", "UNIQUE ID", "ERROR"], table, out
        )
        out.write("(* = target)\n")
    _print_problems(src)
    return 0


def _run_end(src: Any, row: Any, now: datetime) -> datetime | None:
    """Where a run's duration stops: its end, now while it runs, else (crashed, interrupted) its
    last sign of life as the listing found it (else the last time its record was written; None,
    shown blank, if that is unknown)."""
    from .core._format import RUN_RECORD
    from .core._model import RunStatus

    if row.end_date is not None:
        return row.end_date  # type: ignore[no-any-return]
    if row.status == RunStatus.RUNNING:
        return now
    if getattr(row, "last_seen", None) is not None:
        return row.last_seen  # type: ignore[no-any-return]
    try:
        mtime = os.stat(os.path.join(src.root, "runs", row.name, RUN_RECORD)).st_mtime
    except OSError:
        return None
    return datetime.fromtimestamp(mtime, UTC)


def _print_problems(src: Any) -> None:
    for p in src.problems:
        print(f"tango-tui: skipped {p.path}: {p.problem}", file=sys.stderr)


def _when(dt: datetime | None) -> str:
    return dt.astimezone().strftime("%Y-%m-%d %H:%M:%S") if dt else "-"


def _duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "-"
    secs = max(0, int((end - start).total_seconds()))
    h, rem = divmod(secs, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _counts(counts: dict[StepState, int]) -> str:
    order = list(StepState)
    return ", ".join(
        f"{n} {s.value}" for s, n in sorted(counts.items(), key=lambda kv: order.index(kv[0])) if n
    )


def _print_table(header: list[str], rows: list[list[str]], out: TextIO) -> None:
    # Control characters in names or errors must not move the terminal's cursor.
    clean = [[_printable(c) for c in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in clean) for i in range(len(header))]
    out.writelines(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n"
        for row in clean
    )


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
