"""A generated corpus of bad input, checked through every layer (see ``corpus_cases.py``).

For each case, on a broken copy of a real workspace:

(a) the library raises an error naming the path and the problem, or skips the broken record with
    a warning naming it while the rest stays usable, and never raises anything but its own errors;
(b) the headless CLI (``ls``, ``ls --json``, ``show``, ``show --json``) prints the rest plus a
    problem line, or exits non-zero with a message naming the path; never a traceback;
(c) the real Textual app opens, shows the problem, survives navigation (runs -> run -> step ->
    run log -> back) and does not crash;
(d) every file of the workspace (and the tree listing) is unchanged afterwards.

The probes run in batch driver processes (``crash_corpus.py``), the permission cases as user
nobody (root reads everything), all at once on both cores.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from corpus_cases import CASES, TOTAL, Case, build_base
from crash_corpus import _settle, app_text, drive_app
from crash_support import tree_checksums

HERE = Path(__file__).resolve().parent
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def _nobody_works() -> bool:
    if shutil.which("setpriv") is None:
        return False
    probe = subprocess.run([*NOBODY, "true"], capture_output=True, check=False)
    return probe.returncode == 0


def _run_drivers(
    groups: list[tuple[list[str], list[dict[str, Any]]]], out_dir: Path
) -> dict[str, Any]:
    procs = []
    for i, (prefix, specs) in enumerate(groups):
        if not specs:
            continue
        spec_file, result_file = out_dir / f"specs-{i}.json", out_dir / f"results-{i}.json"
        spec_file.write_text(json.dumps(specs))
        env = {**os.environ, "HOME": str(out_dir), "TZ": "UTC"}
        cmd = [
            *prefix,
            sys.executable,
            str(HERE / "crash_corpus.py"),
            str(spec_file),
            str(result_file),
        ]
        procs.append(
            (
                subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE),
                result_file,
            )
        )
    results: dict[str, Any] = {}
    try:
        for p, result_file in procs:
            _out, err = p.communicate(timeout=180)
            assert p.returncode == 0, f"driver failed:\n{err.decode(errors='replace')[-4000:]}"
            results.update(json.loads(result_file.read_text()))
    finally:
        for p, _ in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return results


@pytest.fixture(scope="module")
def corpus() -> Iterator[dict[str, Any]]:
    """Every case broken, probed and checksummed: ``{id: {"case", "result", "before", "after"}}``."""
    # World-readable, so that user nobody can reach the cases (pytest's tmp dirs are 0700).
    top = Path(tempfile.mkdtemp(prefix="tango-tui-corpus-"))
    top.chmod(0o755)
    out_dir = top / "out"
    out_dir.mkdir()
    out_dir.chmod(0o777)
    try:
        base = top / "base"
        build_base(base)
        nobody = _nobody_works()
        entries: dict[str, Any] = {}
        groups: list[tuple[list[str], list[dict[str, Any]]]] = [([], []), ([], []), (NOBODY, [])]
        for i, case in enumerate(CASES):
            if case.nobody and not nobody:
                continue
            root = top / case.id
            shutil.copytree(base, root, symlinks=True)
            path = case.mutate(root)
            spec = {"id": case.id, "root": str(path), "run": case.run, "uid": case.uid}
            entries[case.id] = {"case": case, "path": path, "before": tree_checksums(top / case.id)}
            groups[2 if case.nobody else i % 2][1].append(spec)
        results = _run_drivers(groups, out_dir)
        for cid, entry in entries.items():
            entry["result"] = results[cid]
            entry["after"] = tree_checksums(top / cid)
        yield entries
    finally:
        for dirpath, dirnames, _ in os.walk(top):
            for d in dirnames:
                os.chmod(os.path.join(dirpath, d), 0o755)
        shutil.rmtree(top, ignore_errors=True)


def _show(result: dict[str, Any]) -> str:
    return json.dumps(result, indent=1)[:6000]


PARAMS = [
    pytest.param(
        c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=c.xfail)] if c.xfail else []
    )
    for c in CASES
]


@pytest.mark.parametrize("case", PARAMS)
def test_bad_input(case: Case, corpus: dict[str, Any]) -> None:
    if case.id not in corpus:
        pytest.skip("cannot switch to user nobody here (setpriv)")
    entry = corpus[case.id]
    res, path = entry["result"], str(entry["path"])
    lib, cli, app = res["lib"], res["cli"], res["app"]

    # (a) the library
    assert lib["foreign"] == [], f"library raised a non-library error:\n{_show(lib)}"
    errors, warnings = "\n".join(lib["errors"]), "\n".join(lib["warnings"])
    if case.lib == "raise":
        for needle in case.lib_needles:
            assert needle in errors, f"{needle!r} not in the library's errors:\n{_show(lib)}"
    elif case.lib == "skip":
        assert lib["runs"] is not None and "second" in lib["runs"], _show(lib)
        for needle in case.lib_needles:
            assert needle in warnings, f"{needle!r} not in the library's warnings:\n{_show(lib)}"
    else:
        for needle in case.lib_needles:
            assert needle in errors + warnings, f"{needle!r} not reported:\n{_show(lib)}"

    # (b) the headless CLI
    for call in cli:
        assert call["traceback"] is None, f"tango-tui {call['args']} crashed:\n{call['traceback']}"
        assert "Traceback" not in call["err"], call["err"]
        assert call["code"] in (0, 1, 2), call
        if call["code"] != 0:
            assert call["err"].startswith("tango-tui: "), call
            assert path in call["err"] or case.run in call["err"], (
                f"message does not name it: {call}"
            )
        if call["args"][-1] == "--json" and call["code"] == 0:
            json.loads(call["out"])  # the rest, still valid JSON
    ls = cli[0]
    if case.open_fails:
        assert ls["code"] == 2 and path in ls["err"], ls
    elif not case.tango1:
        assert ls["code"] == 0, ls
        assert "second" in ls["out"] or not case.rest, f"the rest is not listed: {ls}"
    printed = "\n".join(c["out"] + c["err"] for c in cli)
    for needle in case.cli_needles:
        assert needle in printed, f"{needle!r} not printed by the CLI:\n{_show(cli)}"

    # (c) the app
    if case.open_fails:
        assert app["make_app_error"] and path in app["make_app_error"], app["make_app_error"]
        for needle in case.app_needles:
            assert needle in app["make_app_error"]
    else:
        assert app["error"] is None, f"the app crashed:\n{app['error']}"
        assert app["final_screen"] == "RunsScreen", app["visited"]
        if case.run in (lib["runs"] or []):  # the library lists it: the app opens it
            assert "run" in app["visited"], app["visited"]
        for needle in case.app_needles:
            assert needle in app["text"], f"{needle!r} not shown by the app:\n{app['text'][-3000:]}"

    # (d) nothing changed
    assert entry["after"] == entry["before"]
    for check in case.extra_checks:
        check(entry["path"])


def test_the_corpus_is_big_enough() -> None:
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


# ----- cases that change the workspace while the dashboard is open ------------------------------
@pytest.fixture
def live_ws(tmp_path: Path) -> Path:
    build_base(tmp_path / "ws")
    return tmp_path / "ws"


async def _until_shown(app: Any, pilot: Any, needle: str) -> None:
    await _settle(app, pilot, lambda: needle in app_text(app), timeout=15)


def _truncate(path: Path, data: bytes) -> None:
    """Truncate in place (same inode, as ``> file`` in a shell) and write ``data``."""
    with open(path, "r+b") as f:
        f.truncate(0)
        f.write(data)


def _log_of_total(root: Path) -> Path:
    return next((root / "cache" / TOTAL / "logs").iterdir())


@pytest.mark.parametrize("how", ["truncated", "rotated"])
async def test_log_changed_while_followed(live_ws: Path, how: str) -> None:
    snapshot: dict[str, Any] = {}

    async def hook(stage: str, app: Any, pilot: Any) -> None:
        if stage != "step":
            return
        log = _log_of_total(live_ws)
        await _until_shown(app, pilot, "adding 1 and 2")  # the step's log is shown and followed
        if how == "truncated":
            _truncate(log, b"after the truncation\n")
        else:
            log.rename(log.with_name(log.name + ".1"))
            log.write_bytes(b"after the rotation\n")
        snapshot["before"] = tree_checksums(live_ws)
        await _until_shown(app, pilot, f"after the {how[:-2]}ion")

    res = await drive_app(str(live_ws), "first", TOTAL, hook=hook)
    assert res["error"] is None, res["error"]
    assert res["visited"] == ["runs", "run", "step"] and res["final_screen"] == "RunsScreen"
    assert tree_checksums(live_ws) == snapshot["before"]


async def test_workspace_deleted_while_the_dashboard_is_open(live_ws: Path) -> None:
    async def hook(stage: str, app: Any, pilot: Any) -> None:
        if stage == "run":
            shutil.rmtree(live_ws)
            # The open run cannot be read any more: said in place, the last view kept.
            await _until_shown(app, pilot, "cannot read run 'first'")

    res = await drive_app(str(live_ws), "first", TOTAL, hook=hook)
    assert res["error"] is None, res["error"]
    assert res["visited"] == ["runs", "run", "step"] and res["final_screen"] == "RunsScreen"
    assert "cannot read step" in res["text"]
    assert not live_ws.exists()  # and nothing was recreated


REAL_CLI = ["run-json-garbage", "not-a-workspace", "non-utf8-run-dir", "tango1-malicious-pickles"]


def test_real_cli_processes_agree_with_the_driver(corpus: dict[str, Any]) -> None:
    """``python -m tango_tui`` itself, for a few cases: same exit code and output as the driver's
    in-process calls of ``cli.main``, and never a traceback."""
    procs = {}
    for cid in REAL_CLI:
        args = corpus[cid]["result"]["cli"][0]["args"]
        procs[cid] = subprocess.Popen(
            [sys.executable, "-m", "tango_tui", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "TZ": "UTC"},
        )
    for cid, p in procs.items():
        out, err = p.communicate(timeout=60)
        driver = corpus[cid]["result"]["cli"][0]
        assert b"Traceback" not in err, err.decode(errors="replace")
        assert p.returncode == driver["code"], (cid, err)
        assert err.decode("utf-8", "backslashreplace") == driver["err"]
        assert (
            out.decode("utf-8", "backslashreplace").splitlines()[:1]
            == driver["out"].splitlines()[:1]
        )
