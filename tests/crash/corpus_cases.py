"""The generated bad-input corpus: how each case breaks a copy of a real workspace.

Each :class:`Case` breaks a copy of a workspace written by ``run_steps`` (or of the ai2-tango 1.3.2
fixture) and says what every layer must report. Needles are substrings that must appear: in the
library's errors (``lib="raise"``) or warnings (``lib="skip"``, where the rest stays usable), in
what the CLI prints, and in what the dashboard shows.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import sqlite3
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from crash_steps import Add, Fail, Plain

from tango_tui import LocalWorkspace, run_steps

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "ai2-tango-1.3.2-workspace.tar.gz"
TOTAL = Add(a=Plain(x=1), b=Plain(x=2)).unique_id
"""The target ``total`` of both runs: its record is what the step cases break."""
TANGO1_STEP = "SquareNumbers-4fyJyqKwC9NTQUJxzpQXBTU6dZmYCTBA"
"""A step of the fixture's ``ok-run``."""


def build_base(root: Path) -> None:
    """Runs ``first`` (completes) and ``second`` (a failed step and its blocked dependent)."""
    ws = LocalWorkspace(root)
    total = Add(a=Plain(x=1), b=Plain(x=2), step_name="total")
    run_steps(ws, {"total": total}, name="first")
    boom = Fail(x=Plain(x=1), step_name="boom")
    run_steps(ws, {"total": total, "boom": boom, "after": Plain(x=boom)}, name="second")


@dataclass
class Case:
    """One way to break a workspace, and what each layer must say about it."""

    id: str
    mutate: Callable[[Path], Path]
    """Breaks the copy at the given root; returns the path to open."""
    lib: str = "any"
    """"raise": errors carry lib_needles; "skip": warnings do and run "second" is still listed."""
    lib_needles: tuple[str, ...] = ()
    cli_needles: tuple[str, ...] = ()
    app_needles: tuple[str, ...] = ()
    run: str | None = "first"
    uid: str | None = TOTAL
    nobody: bool = False
    """Run the probes as an unprivileged user (root reads everything)."""
    tango1: bool = False
    open_fails: bool = False
    """The path is refused as a whole: CLI exits non-zero, make_app raises, both naming it."""
    rest: bool = True
    """Whether run "second" must still be listed by the CLI."""
    xfail: str | None = None
    """A known bug this case shows (``file:function``: what goes wrong)."""
    extra_checks: list[Callable[[Path], None]] = field(default_factory=list)


# ----- mutations ---------------------------------------------------------------------------------
def _step_json(root: Path) -> Path:
    return root / "cache" / TOTAL / "step.json"


def _run_json(root: Path) -> Path:
    return root / "runs" / "first" / "run.json"


def _write(
    path_of: Callable[[Path], Path], data: bytes | Callable[[bytes], bytes]
) -> Callable[[Path], Path]:
    def mutate(root: Path) -> Path:
        p = path_of(root)
        p.write_bytes(data(p.read_bytes()) if callable(data) else data)
        return root

    return mutate


def _edit_json(
    path_of: Callable[[Path], Path], edit: Callable[[dict], None]
) -> Callable[[Path], Path]:
    def change(raw: bytes) -> bytes:
        doc = json.loads(raw)
        edit(doc)
        return json.dumps(doc).encode()

    return _write(path_of, change)


def _to_dir(path_of: Callable[[Path], Path]) -> Callable[[Path], Path]:
    def mutate(root: Path) -> Path:
        p = path_of(root)
        p.unlink()
        (p / "inside").mkdir(parents=True)
        return root

    return mutate


def _to_file(path_of: Callable[[Path], Path]) -> Callable[[Path], Path]:
    def mutate(root: Path) -> Path:
        p = path_of(root)
        shutil.rmtree(p)
        p.write_bytes(b"not a directory\n")
        return root

    return mutate


def _link(rel: str | bytes, target: str, replace: bool = False) -> Callable[[Path], Path]:
    def mutate(root: Path) -> Path:
        p = os.path.join(os.fsencode(root), os.fsencode(rel))
        if replace:
            os.unlink(p)
        os.symlink(target, p)
        return root

    return mutate


def _chmod(path_of: Callable[[Path], Path], mode: int = 0) -> Callable[[Path], Path]:
    def mutate(root: Path) -> Path:
        path_of(root).chmod(mode)
        return root

    return mutate


def _step_log(root: Path) -> Path:
    return next((root / "cache" / TOTAL / "logs").iterdir())


def _append_bad_bytes(root: Path) -> Path:
    for p in (_step_log(root), root / "runs" / "first" / "out.log"):
        with open(p, "ab") as f:
            f.write(b"bad \xff\xfe bytes \x00 \x1b[31mred\x1b[0m \xc3\x28 end\n")
    return root


def _huge_line(root: Path) -> Path:
    with open(_step_log(root), "ab") as f:
        f.write(b"x" * (10 * 1024 * 1024))  # 10 MB, no newline
    return root


def _non_utf8_run(root: Path) -> Path:
    runs = os.fsencode(root / "runs")
    shutil.copytree(os.path.join(runs, b"first"), os.path.join(runs, b"fi\xffrst"), symlinks=True)
    return root


def _not_a_workspace(root: Path) -> Path:
    shutil.rmtree(root)
    root.mkdir()
    (root / "notes.txt").write_text("my thesis\n")
    (root / "data").mkdir()
    return root


def _a_file(root: Path) -> Path:
    shutil.rmtree(root)
    root.write_text("just a file\n")
    return root


def _tango1(plant: Callable[[sqlite3.Connection], None]) -> Callable[[Path], Path]:
    def mutate(root: Path) -> Path:
        shutil.rmtree(root)
        root.mkdir()
        with tarfile.open(FIXTURE) as tar:
            tar.extractall(root, filter="fully_trusted")  # our own fixture
        ws = root / "ws"
        db = sqlite3.connect(ws / "stepinfo.sqlite")
        with db:
            plant(db)
        db.close()
        return ws

    return mutate


def _garbage_rows(db: sqlite3.Connection) -> None:
    db.execute("UPDATE unnamed SET value = ? WHERE key = ?", (b"\x00garbage\xff", TANGO1_STEP))
    db.execute("INSERT INTO unnamed VALUES (?, ?)", ("Bogus-1-xyz", b"\x80\x04\x95"))


class _Evil:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


EVIL_MARKER = "/tmp/tango-tui-crash-pwned"


def _malicious_rows(db: sqlite3.Connection) -> None:
    db.execute(
        "UPDATE unnamed SET value = ? WHERE key = ?",
        (pickle.dumps(_Evil(EVIL_MARKER)), TANGO1_STEP),
    )
    payload = pickle.dumps({"step_name": [_Evil(EVIL_MARKER)]}, protocol=0)
    db.execute("INSERT INTO unnamed VALUES (?, ?)", ("Evil-1-abc", payload))


def _no_marker(_: Path) -> None:
    assert not os.path.exists(EVIL_MARKER), "a pickle planted in the workspace was executed"


def _cases() -> list[Case]:
    step = {"lib": "raise", "app_needles": ("cannot read step", "step.json")}
    run = {"lib": "skip", "cli_needles": ("run.json",), "app_needles": ("run.json",)}
    stepj, runj = _step_json, _run_json
    cases = [
        # step.json records
        Case("step-json-empty", _write(stepj, b""), lib_needles=("step.json", "empty"), **step),
        Case(
            "step-json-truncated",
            _write(stepj, lambda b: b[: len(b) // 2]),
            lib_needles=("step.json", "not valid JSON"),
            **step,
        ),
        Case(
            "step-json-garbage",
            _write(stepj, b"\x00\xff\xfe garbage"),
            lib_needles=("step.json", "UTF-8"),
            **step,
        ),
        Case(
            "step-json-array",
            _write(stepj, b"[1, 2, 3]"),
            lib_needles=("step.json", "not an object"),
            **step,
        ),
        Case(
            "step-json-null",
            _write(stepj, b"null"),
            lib_needles=("step.json", "not an object"),
            **step,
        ),
        Case(
            "step-json-unknown-format",
            _edit_json(stepj, lambda d: d.update(format="tango-tui.bogus")),
            lib_needles=("step.json", "format"),
            **step,
        ),
        Case(
            "step-json-newer-version",
            _edit_json(stepj, lambda d: d.update(version=99)),
            lib_needles=("step.json", "newer"),
            **step,
        ),
        Case(
            "step-json-malformed-body",
            _edit_json(stepj, lambda d: d.update(step={"unique_id": 5})),
            lib_needles=("step.json", "malformed"),
            **step,
        ),
        Case(
            "step-json-is-a-directory",
            _to_dir(stepj),
            lib_needles=("step.json", "directory"),
            **step,
        ),
        Case(
            "cache-entry-is-a-file",
            _to_file(lambda r: r / "cache" / TOTAL),
            lib="raise",
            lib_needles=(TOTAL, "file"),
            app_needles=("cannot read step", "a file stands"),
        ),
        # run.json records
        Case("run-json-empty", _write(runj, b""), lib_needles=("first/run.json", "empty"), **run),
        Case(
            "run-json-truncated",
            _write(runj, lambda b: b[: len(b) // 3]),
            lib_needles=("first/run.json", "not valid JSON"),
            **run,
        ),
        Case(
            "run-json-garbage",
            _write(runj, bytes(range(256))),
            lib_needles=("first/run.json", "UTF-8"),
            **run,
        ),
        Case(
            "run-json-array",
            _write(runj, b'["run"]'),
            lib_needles=("first/run.json", "not an object"),
            **run,
        ),
        Case(
            "run-json-number",
            _write(runj, b"42"),
            lib_needles=("first/run.json", "not an object"),
            **run,
        ),
        Case(
            "run-json-unknown-format",
            _edit_json(runj, lambda d: d.update(format="tango.run")),
            lib_needles=("first/run.json", "format"),
            **run,
        ),
        Case(
            "run-json-newer-version",
            _edit_json(runj, lambda d: d.update(version=2)),
            lib_needles=("first/run.json", "newer"),
            **run,
        ),
        Case(
            "run-json-missing-fields",
            _edit_json(runj, lambda d: d.update(run={})),
            lib_needles=("first/run.json", "missing"),
            **run,
        ),
        Case(
            "run-json-is-a-directory",
            _to_dir(runj),
            lib_needles=("first/run.json", "directory"),
            **run,
        ),
        Case(
            "run-dir-without-run-json",
            lambda r: (runj(r).unlink(), r)[1],
            lib_needles=("first/run.json", "no run.json"),
            **run,
        ),
        Case(
            "run-dir-is-a-file",
            _to_file(lambda r: r / "runs" / "first"),
            lib="skip",
            lib_needles=("runs/first", "file"),
            cli_needles=("runs/first",),
            app_needles=("runs/first",),
        ),
        Case(
            "runs-dir-is-a-file",
            _to_file(lambda r: r / "runs"),
            lib_needles=("/runs",),
            cli_needles=("/runs: Not a directory",),
            app_needles=("Not a directory",),
            rest=False,
        ),
        Case(
            "run-names-missing-steps",
            _edit_json(runj, lambda d: d["run"]["targets"].update(ghost="Ghost-1-nowhere")),
            lib="raise",
            lib_needles=("Ghost-1-nowhere",),
            run="first",
            uid=None,
        ),
        Case(
            "run-steps-removed",
            lambda r: (shutil.rmtree(r / "cache" / TOTAL), r)[1],
            lib="raise",
            lib_needles=(TOTAL,),
            app_needles=("cannot read step",),
        ),
        # symlinks
        Case(
            "run-dir-dangling-symlink",
            _link("runs/ghost", "../nowhere"),
            lib="skip",
            lib_needles=("runs/ghost", "dangling"),
            cli_needles=("runs/ghost",),
            app_needles=("runs/ghost",),
        ),
        Case(
            "run-dir-looping-symlink",
            _link("runs/loop", "loop"),
            lib="skip",
            lib_needles=("runs/loop",),
            cli_needles=("runs/loop",),
            app_needles=("runs/loop",),
        ),
        Case(
            "step-link-dangling",
            _link("runs/first/total", "../../cache/Nothing-1-here", replace=True),
            uid=None,
        ),
        Case("step-link-looping", _link("runs/first/extra", "extra"), uid=None),
        Case("latest-dangling", _link("latest", "runs/nowhere", replace=True), uid=None),
        Case("latest-looping", _link("latest", "latest", replace=True), uid=None),
        # the workspace as a whole
        Case(
            "marker-garbage",
            _write(lambda r: r / "tango-tui.json", b"\x00{{{"),
            open_fails=True,
            lib="raise",
            lib_needles=("tango-tui.json",),
            cli_needles=("tango-tui.json",),
            app_needles=("tango-tui.json",),
        ),
        Case(
            "marker-newer-version",
            _edit_json(lambda r: r / "tango-tui.json", lambda d: d.update(version=7)),
            open_fails=True,
            lib="raise",
            lib_needles=("tango-tui.json", "newer"),
            cli_needles=("newer",),
            app_needles=("newer",),
        ),
        Case(
            "not-a-workspace",
            _not_a_workspace,
            open_fails=True,
            lib="raise",
            lib_needles=("not a tango-tui",),
            cli_needles=("not a tango-tui",),
            app_needles=("not a tango-tui",),
        ),
        Case(
            "path-is-a-file",
            _a_file,
            open_fails=True,
            lib="raise",
            lib_needles=("is a file",),
            cli_needles=("is a file",),
            app_needles=("is a file",),
        ),
        # names and bytes
        Case("non-utf8-run-dir", _non_utf8_run, lib="skip", lib_needles=("runs/fi",), uid=None),
        Case("non-utf8-step-link", _link(b"runs/first/st\xffep", f"../../cache/{TOTAL}"), uid=None),
        Case("non-utf8-log-bytes", _append_bad_bytes),
        Case("log-10mb-single-line", _huge_line),
        # permissions (probed as nobody)
        Case(
            "denied-step-json",
            _chmod(stepj),
            nobody=True,
            lib_needles=("step.json", "permission denied"),
            **step,
        ),
        Case(
            "denied-run-json",
            _chmod(runj),
            nobody=True,
            lib_needles=("first/run.json", "permission denied"),
            **run,
        ),
        Case(
            "denied-step-dir",
            _chmod(lambda r: r / "cache" / TOTAL),
            nobody=True,
            lib="raise",
            lib_needles=(TOTAL, "ermission denied"),
            app_needles=("ermission denied",),
        ),
        Case(
            "denied-runs-dir",
            _chmod(lambda r: r / "runs"),
            nobody=True,
            lib_needles=("/runs", "ermission denied"),
            app_needles=("ermission denied",),
            cli_needles=("ermission denied",),
            rest=False,
        ),
        Case(
            "denied-logs",
            lambda r: (_step_log(r).chmod(0), (r / "runs/first/out.log").chmod(0), r)[2],
            nobody=True,
            app_needles=("ermission denied",),
        ),
        Case(
            "denied-workspace-dir",
            _chmod(lambda r: r),
            nobody=True,
            open_fails=True,
            lib="raise",
            lib_needles=("ermission denied",),
            cli_needles=("ermission denied",),
            app_needles=("ermission denied",),
        ),
        # ai2-tango 1.x
        Case(
            "tango1-garbage-rows",
            _tango1(_garbage_rows),
            tango1=True,
            run="ok-run",
            uid=TANGO1_STEP,
            lib_needles=(TANGO1_STEP,),
            cli_needles=("stepinfo.sqlite", "unreadable record"),
            app_needles=("stepinfo.sqlite",),
        ),
        Case(
            "tango1-malicious-pickles",
            _tango1(_malicious_rows),
            tango1=True,
            run="ok-run",
            uid=TANGO1_STEP,
            lib_needles=(TANGO1_STEP, "refused global posix.system"),
            cli_needles=("refused global posix.system",),
            app_needles=("stepinfo.sqlite",),
            extra_checks=[_no_marker],
        ),
    ]
    return cases


CASES = _cases()
