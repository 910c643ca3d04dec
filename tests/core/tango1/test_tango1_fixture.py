"""The real ai2-tango 1.3.2 workspace read as a Tango user knows it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tango1_support import KILLED_SLOW

from tango_tui.core import RunStatus, StepReason, StepState, TangoTuiError, Workspace
from tango_tui.core.tango1 import Tango1StepInfo, TangoWorkspace, is_tango1_workspace

EXPECTED_STATES = {
    "AfterFail-3m2MaBpqrCbHQpvPYQrU5pgKXLGdDZK1": StepState.INCOMPLETE,
    "FailingStep-2epkpSZUUNj5rQSYR1Q67befmrhrr4LY": StepState.FAILED,
    "MakeNumbers-001-3abQKdmuz8qPqH54XjGqYWcULE8hEVxq": StepState.COMPLETED,
    "MakeNumbers-001-4C6a8DarRvPRkQT7YoFByX7YAccjsByL": StepState.COMPLETED,
    "SlowStep-2wf3PYv89Wf6ad2CsCMzSvfDyRPqFsKx": StepState.COMPLETED,
    KILLED_SLOW: StepState.CRASHED,
    "SquareNumbers-4fyJyqKwC9NTQUJxzpQXBTU6dZmYCTBA": StepState.COMPLETED,
    "SumNumbers-32tKyTKYart4Zs4uQvriavRcgBsEeShK": StepState.COMPLETED,
    "Uncacheable-3qLJ6fWkTtwrcnuHrqJSUxNXSbp4RgPM": StepState.UNCACHEABLE,
    "Uncacheable-3tZ5qX1VXPwBE81BBa42M1kN9pKhS1Yx": StepState.UNCACHEABLE,
    "Uncacheable-4JrgUYSpixVPBZQM3Ea1xJHjJmg3bqzE": StepState.UNCACHEABLE,
    "Uncacheable-4KSNXAgqMPeCwiqM2bKoy1si6YrHzruH": StepState.UNCACHEABLE,
    "UncacheableDet-5PiKpkkdn3msuNX8JeQJzsFT7ssUNw3m": StepState.UNCACHEABLE,
}

EXPECTED_RUNS = {
    "ok-run": RunStatus.COMPLETED,
    "helped-clam": RunStatus.FAILED,
    "simple-poodle": RunStatus.FAILED,
    "api-run": RunStatus.FAILED,
    "killed-run": RunStatus.CRASHED,
}


def test_every_step_has_tangos_state(tango_ws: Path) -> None:
    ws = TangoWorkspace(tango_ws)
    infos = ws.all_step_infos()
    assert {uid: info.state for uid, info in infos.items()} == EXPECTED_STATES
    assert ws.problems == []


def test_killed_step_is_crashed_because_its_lock_is_free(tango_ws: Path) -> None:
    info = TangoWorkspace(tango_ws).step_info(KILLED_SLOW)
    assert info.start_time is not None and info.end_time is None  # the record says running
    assert info.state == StepState.CRASHED
    assert "no process holds its lock" in (info.crashed or "")


def test_step_whose_lock_is_held_is_running(tango_ws: Path, hold_flock) -> None:
    ws = TangoWorkspace(tango_ws)
    holder = hold_flock.hold(tango_ws / "cache" / KILLED_SLOW / "lock")
    assert ws.step_info(KILLED_SLOW).state == StepState.RUNNING
    run = ws.registered_run("killed-run")
    assert run.status == RunStatus.RUNNING
    assert run.plan[KILLED_SLOW].state == StepState.RUNNING
    hold_flock.release(holder)
    assert ws.step_info(KILLED_SLOW).state == StepState.CRASHED
    assert ws.registered_run("killed-run").status == RunStatus.CRASHED


def test_step_record_fields_are_mapped(tango_ws: Path) -> None:
    ws = TangoWorkspace(tango_ws)
    failed = ws.step_info("FailingStep-2epkpSZUUNj5rQSYR1Q67befmrhrr4LY")
    assert isinstance(failed, Tango1StepInfo)
    assert failed.error == "realtango_steps.IntentionalFailure: intentional failure: boom"
    assert failed.traceback is not None and failed.traceback.startswith(
        "Traceback (most recent call last)"
    )
    assert failed.config == {"message": "boom", "type": "rt_fail"}
    assert failed.step_name == "broken" and failed.step_class_name == "FailingStep"
    assert failed.start_time is not None and failed.start_time.utcoffset().total_seconds() == 0
    assert failed.end_time is not None and failed.end_time >= failed.start_time
    assert (
        failed.platform is not None
        and failed.platform.host == "vm"
        and failed.platform.cpu_count == 2
    )
    env = failed.environment
    assert env is not None and env.python == "3.11.7"
    assert env.executable == "/opt/ai2-tango/bin/python3" and env.root == "/tmp/tango-example"
    assert env.packages is not None and env.packages["ai2-tango"] == "1.3.2"
    assert "tango" in (env.command or "")
    assert failed.tango_version == "1.3.2"
    done = ws.step_info("SumNumbers-32tKyTKYart4Zs4uQvriavRcgBsEeShK")
    assert (
        done.result_location
        == "/tmp/tango-example/ws/cache/SumNumbers-32tKyTKYart4Zs4uQvriavRcgBsEeShK"
    )
    squares = ws.step_info("SquareNumbers-4fyJyqKwC9NTQUJxzpQXBTU6dZmYCTBA")
    assert squares.dependencies == {"MakeNumbers-001-3abQKdmuz8qPqH54XjGqYWcULE8hEVxq"}
    assert squares.config == {
        "numbers": {"type": "ref", "ref": "numbers"},
        "type": "rt_square_numbers",
    }
    with pytest.raises(KeyError):
        ws.step_info("NoSuchStep-xyz")


def test_runs_have_status_plan_and_reasons(tango_ws: Path) -> None:
    ws = TangoWorkspace(tango_ws)
    runs = ws.registered_runs()
    assert {n: r.status for n, r in runs.items()} == EXPECTED_RUNS
    ok = runs["ok-run"]
    assert set(ok.steps) == {"numbers", "squares", "total", "slow"}
    assert {r.reason for r in ok.plan.values()} == {StepReason.CACHED}
    assert ok.end_date is not None and ok.end_date >= ok.start_date

    helped = {r.name: r for r in runs["helped-clam"].plan.values()}
    assert (
        helped["numbers"].reason == StepReason.RAN
        and helped["numbers"].state == StepState.COMPLETED
    )
    assert helped["broken"].state == StepState.FAILED and "IntentionalFailure" in (
        helped["broken"].error or ""
    )
    assert helped["after_broken"].reason == StepReason.DEPENDENCY_FAILED
    assert helped["after_broken"].blocked_by == "FailingStep-2epkpSZUUNj5rQSYR1Q67befmrhrr4LY"
    assert helped["after_broken"].state == StepState.INCOMPLETE
    assert helped["count_uncached"].state == StepState.UNCACHEABLE
    assert helped["count_uncached"].reason == StepReason.RAN

    killed = {r.name: r for r in runs["killed-run"].plan.values()}
    assert killed["slow"].unique_id == KILLED_SLOW and killed["slow"].state == StepState.CRASHED
    assert "no process holds its lock" in (killed["slow"].error or "")
    assert killed["numbers"].reason == StepReason.CACHED
    assert runs["killed-run"].counts()[StepState.CRASHED] == 1
    # Newest first by registration time, as the dashboard lists them.
    newest = ws.search_registered_runs()
    assert newest[0].name == "killed-run"


def test_latest_is_resolved_by_name_in_a_moved_workspace(tango_ws: Path) -> None:
    assert os.readlink(tango_ws / "latest") == "/tmp/tango-example/ws/runs/killed-run"
    assert TangoWorkspace(tango_ws).latest_run_name() == "killed-run"


def test_url_registration_and_detection(tango_ws: Path, tmp_path: Path) -> None:
    ws = Workspace.from_url(f"tango1://{tango_ws}")
    assert isinstance(ws, TangoWorkspace) and ws.url == f"tango1://{tango_ws}"
    assert Workspace.from_url(ws.url).registered_run("ok-run").status == RunStatus.COMPLETED
    assert is_tango1_workspace(tango_ws)
    assert not is_tango1_workspace(tmp_path / "empty")
    ours = tmp_path / "ours"
    ours.mkdir()
    (ours / "tango-tui.json").write_text('{"format": "tango-tui.workspace", "version": 1}')
    (ours / "settings.json").write_text('{"version": 2}')
    assert not is_tango1_workspace(ours)


def test_writes_are_refused(tango_ws: Path) -> None:
    ws = TangoWorkspace(tango_ws)
    for call in (
        lambda: ws.register_run([], "x"),
        lambda: ws.step_starting(object()),
        lambda: ws.step_finished(object(), 1),
        lambda: ws.step_failed(object(), ValueError()),
        lambda: ws.remove_step("x"),
        lambda: ws.step_cache,
    ):
        with pytest.raises(TangoTuiError, match="read-only"):
            call()
    assert not (tango_ws / "runs" / "x").exists()


def test_run_problems_are_reported_not_fatal(tango_ws: Path) -> None:
    (tango_ws / "runs" / "ok-run" / "stepinfo.json").write_text("{not json")
    (tango_ws / "runs" / "helped-clam" / "stepinfo.json").write_text(
        '{"ghost": "Ghost-123", "numbers": "MakeNumbers-001-3abQKdmuz8qPqH54XjGqYWcULE8hEVxq"}'
    )
    ws = TangoWorkspace(tango_ws)
    runs = ws.registered_runs()
    # Falls back to the symlinks for the broken record.
    assert {r.name for r in runs["ok-run"].plan.values()} == {"numbers", "squares", "total", "slow"}
    assert any("unreadable run record" in p.message for p in ws.problems)
    ghost = runs["helped-clam"].plan["Ghost-123"]
    assert ghost.state == StepState.INCOMPLETE and "no record" in (ghost.error or "")


def test_running_step_of_another_host_is_unknown_not_crashed(tango_ws: Path) -> None:
    import sqlite3

    db = sqlite3.connect(tango_ws / "stepinfo.sqlite")
    with db:
        (blob,) = db.execute("SELECT value FROM unnamed WHERE key = ?", (KILLED_SLOW,)).fetchone()
        # The record names host "vm"; make it another machine's (same length keeps the pickle valid).
        assert blob.count(b"\x8c\x02vm") == 1
        db.execute(
            "UPDATE unnamed SET value = ? WHERE key = ?",
            (blob.replace(b"\x8c\x02vm", b"\x8c\x02zz"), KILLED_SLOW),
        )
    db.close()
    ws = TangoWorkspace(tango_ws)
    info = ws.step_info(KILLED_SLOW)
    assert info.state == StepState.RUNNING and info.crashed is None
    assert "'zz'" in (info.liveness_unknown or "")
    assert [p.key for p in ws.problems] == [KILLED_SLOW]
    assert "may be dead" in ws.problems[0].message
