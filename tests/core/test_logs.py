"""Step logs: print() and logging land in the attempt's file while the step runs; reruns keep old logs."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))
from local_steps import Echo, Uncached

from tango_tui.core._local import LocalWorkspace
from tango_tui.core._logs import capture_output, file_handler
from tango_tui.core._model import StepState

WORKER = textwrap.dedent(
    """
    import logging, sys
    sys.path.insert(0, {here!r})
    from local_steps import Echo
    from tango_tui.core._local import LocalWorkspace
    ws = LocalWorkspace({root!r})
    step = Echo(value="logged")
    with ws.step_log_context(step):
        ws.step_starting(step)
        print("hello from print")
        logging.getLogger("my.step").info("hello from logging")
        print("to stderr", file=sys.stderr)
        sys.stdin.readline()  # the test reads the log while we are still running
        ws.step_finished(step, "logged")
    """
)


def _env() -> dict[str, str]:
    extra = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *([extra] if extra else [])])}


def _wait_for(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)  # polling a file for a condition, with a deadline
    return predicate()


def test_print_and_logging_reach_the_log_while_the_step_runs(tmp_path: Path) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    step = Echo(value="logged")
    log = ws.dir / "cache" / step.unique_id / "logs" / "001.log"
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER.format(here=str(HERE), root=str(ws.dir))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:

        def complete() -> bool:
            text = log.read_text() if log.exists() else ""
            return all(s in text for s in ("hello from print", "hello from logging", "to stderr"))

        assert _wait_for(complete), log.read_text() if log.exists() else "no log file"
        # The step is still running: we saw the lines live, not after the fact.
        assert proc.poll() is None
        assert ws.step_info(step).state is StepState.RUNNING
        assert ws.step_info(step).log_file == f"cache/{step.unique_id}/logs/001.log"
        out, err = proc.communicate("go\n", timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    # The tee kept the original streams working too.
    assert "hello from print" in out and "to stderr" in err
    text = log.read_text()
    assert "INFO my.step: hello from logging" in text
    assert ws.step_info(step).state is StepState.COMPLETED


def test_a_rerun_keeps_the_earlier_attempts_log(tmp_path: Path) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    step = Echo(value="rerun")
    with ws.step_log_context(step):
        ws.step_starting(step)
        print("first attempt output")
        try:
            raise RuntimeError("first attempt fails")
        except RuntimeError as e:
            logging.getLogger("x").exception("failing")
            ws.step_failed(step, e)
    with ws.step_log_context(step):
        ws.step_starting(step)
        print("second attempt output")
        ws.step_finished(step, "rerun")
    logs = ws.dir / "cache" / step.unique_id / "logs"
    assert sorted(p.name for p in logs.iterdir()) == ["001.log", "002.log"]
    first, second = (logs / "001.log").read_text(), (logs / "002.log").read_text()
    assert "first attempt output" in first and "first attempt fails" in first
    assert "second attempt output" in second and "first attempt" not in second
    info = ws.step_info(step)
    assert info.attempt == 2 and info.log_file.endswith("logs/002.log")


def test_log_context_restores_streams_and_logging_on_error(tmp_path: Path) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    out, err = sys.stdout, sys.stderr
    with pytest.raises(KeyError), capture_output(tmp_path / "a.log"):
        assert sys.stdout is not out
        raise KeyError("inside")
    assert sys.stdout is out and sys.stderr is err
    assert root.handlers == handlers and root.level == level


def test_no_empty_log_is_left_when_nothing_ran(tmp_path: Path) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    step = Echo(value="cached")
    ws.step_starting(step)
    ws.step_finished(step, "cached")
    with ws.step_log_context(step):
        pass  # e.g. the result was cached: the step was not executed
    logs = ws.dir / "cache" / step.unique_id / "logs"
    assert list(logs.iterdir()) == []


def test_uncacheable_step_logs_go_to_the_run(tmp_path: Path) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    step = Uncached(value=3, step_name="u")
    ws.register_run([step], name="r")
    with ws.step_log_context(step, "r"):
        ws.step_starting(step)
        print("uncacheable output")
        ws.step_finished(step, 3)
    log = ws.dir / "runs" / "r" / "steps" / step.unique_id / "logs" / "001.log"
    assert "uncacheable output" in log.read_text()
    assert ws.step_info(step).log_file == f"runs/r/steps/{step.unique_id}/logs/001.log"


def test_file_handler_keeps_info_lines(tmp_path: Path) -> None:
    root = logging.getLogger()
    old_level = root.level
    root.setLevel(logging.WARNING)
    try:
        path = tmp_path / "run" / "out.log"
        with file_handler(path):
            logging.getLogger("pipeline").info("an info line")
            logging.getLogger("pipeline").debug("a debug line")
        logging.getLogger("pipeline").warning("after the context")
        text = path.read_text()
        assert "INFO pipeline: an info line" in text
        assert "debug line" not in text and "after the context" not in text
        assert root.level == logging.WARNING
    finally:
        root.setLevel(old_level)


def test_capture_logs_for_run_writes_the_run_log(tmp_path: Path) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    ws.register_run([Echo(value=1, step_name="a")], name="r")
    with ws.capture_logs_for_run("r"):
        logging.getLogger("executor").info("run line")
    assert "run line" in (ws.dir / "runs" / "r" / "out.log").read_text()
    with pytest.raises(KeyError):
        ws.capture_logs_for_run("no-such-run")
    assert not (ws.dir / "runs" / "no-such-run").exists()


def test_no_empty_log_is_left_for_a_step_never_started(tmp_path: Path) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    step = Echo(value="never")
    with ws.step_log_context(step):
        pass
    assert list((ws.dir / "cache" / step.unique_id / "logs").iterdir()) == []
