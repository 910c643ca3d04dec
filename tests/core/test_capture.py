"""fd-level step output capture: C code, os.system and child processes reach the step's log.

Most tests run ``run_steps`` in a subprocess whose real stdout/stderr the test captures, so both
halves of the tee are checked: the step's log file, and the process's original descriptors.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tango_tui.core import _capture, _capture_log
from tango_tui.core._logs import capture_output

REPO = Path(__file__).resolve().parent.parent.parent

pytestmark = pytest.mark.skipif(not _capture.fd_capture_possible(), reason="no fd capture here")

PRELUDE = textwrap.dedent(
    """
    import ctypes, json, logging, os, signal, subprocess, sys, time
    from pathlib import Path
    from tango_tui import LocalWorkspace, Step, run_steps

    def child(code):
        return [sys.executable, "-c", code]

    def logs(ws, run):
        return {r.name: str(ws.dir / r.log_file) if r.log_file else None for r in run.plan.values()}
    """
)

NOISY = PRELUDE + textwrap.dedent(
    """
    class Noisy(Step):
        def run(self, tag):
            print(f"print {tag}")
            os.write(1, f"fd1 {tag}\\n".encode())
            os.write(2, f"fd2 {tag} ".encode() + b"\\xff\\xfe\\n")
            os.system(f"echo system {tag}")
            subprocess.run(child(f"import sys; sys.stderr.write('child {tag}\\\\n')"), check=True)
            libc = ctypes.CDLL(None)
            libc.printf(f"printf {tag}\\n".encode())
            libc.fflush(None)
            logging.getLogger("noisy").info("record %s", tag)
            return tag

    class Fails(Step):
        def run(self, tag):
            print(f"before failing {tag}")
            os.write(2, b"native complaint\\n")
            raise ValueError("boom")

    logging.basicConfig(level=logging.INFO, format="CONSOLE %(name)s %(message)s")
    ws = LocalWorkspace(sys.argv[1])
    steps = {"a": Noisy(tag="a"), "b": Noisy(tag="b"), "f": Fails(tag="f")}
    run = run_steps(ws, steps, name="r", parallelism=int(sys.argv[2]))
    os.write(1, b"after the run\\n")
    Path(sys.argv[3]).write_text(json.dumps({"logs": logs(ws, run), "status": run.status.value}))
    """
)


def _run(
    tmp_path: Path,
    script: str,
    *args: str,
    merged: bool = False,
    timeout: float = 120,
    **kw: object,
) -> tuple[subprocess.CompletedProcess[bytes], dict]:
    result = tmp_path / "result.json"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "ws"), *args, str(result)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merged else subprocess.PIPE,
        env=env,
        timeout=timeout,
        check=False,
        **kw,  # type: ignore[arg-type]
    )
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    return proc, json.loads(result.read_text())


@pytest.mark.parametrize("parallelism", [1, 2])
def test_native_and_child_output_reach_the_log_once_and_the_terminal(
    tmp_path: Path, parallelism: int
) -> None:
    proc, out = _run(tmp_path, NOISY, str(parallelism))
    assert out["status"] == "failed"
    for tag in "ab":
        log = Path(out["logs"][tag]).read_bytes()
        for line in (
            f"print {tag}",
            f"fd1 {tag}",
            f"system {tag}",
            f"child {tag}",
            f"printf {tag}",
            f"INFO noisy: record {tag}",
        ):
            assert log.count(line.encode() + b"\n") == 1, (line, log)
        assert log.count(f"fd2 {tag} ".encode() + b"\xff\xfe\n") == 1, log  # bytes kept as they are
        assert log.count(b"Starting step") == 1, log  # the executor's own record, once
        assert b"CONSOLE" not in log, log  # the console handler's copy of a record is not captured
        other = "b" if tag == "a" else "a"
        assert f" {other}\n".encode() not in log, log
        # The original descriptors still got everything, once.
        for line in (f"fd1 {tag}", f"system {tag}", f"printf {tag}"):
            assert proc.stdout.count(line.encode() + b"\n") == 1, (line, proc.stdout)
        # Unbuffered (PYTHONUNBUFFERED), print() writes the text and the newline separately, so
        # two workers' prints may interleave on the shared stdout (as without the capture).
        assert proc.stdout.count(f"print {tag}".encode()) == 1, proc.stdout
        assert proc.stderr.count(f"fd2 {tag} ".encode() + b"\xff\xfe\n") == 1, proc.stderr
        assert proc.stderr.count(f"child {tag}\n".encode()) == 1, proc.stderr
        assert proc.stderr.count(f"CONSOLE noisy record {tag}\n".encode()) == 1, proc.stderr
    failed = Path(out["logs"]["f"]).read_bytes()
    assert (
        failed.index(b"before failing f\n")
        < failed.index(b"native complaint\n")
        < failed.index(b"failed")
    )
    assert b"ValueError: boom" in failed
    assert b"after the run\n" in proc.stdout  # fds 1/2 are back after the run
    assert all(b"after the run" not in Path(p).read_bytes() for p in out["logs"].values())


INTERLEAVED = PRELUDE + textwrap.dedent(
    """
    class Chatty(Step):
        def run(self):
            for i in range(200):
                os.write(1, f"out {i}\\n".encode())
                os.write(2, f"err {i}\\n".encode())
            print("x" * 200_000)  # more than a pipe holds: the reader keeps up while the body writes
            return 1

    ws = LocalWorkspace(sys.argv[1])
    run = run_steps(ws, {"c": Chatty()}, name="r", parallelism=int(sys.argv[2]))
    Path(sys.argv[3]).write_text(json.dumps({"logs": logs(ws, run), "status": run.status.value}))
    """
)


@pytest.mark.parametrize("parallelism", [1, 2])
def test_stdout_and_stderr_keep_their_order_when_they_share_a_file(
    tmp_path: Path, parallelism: int
) -> None:
    proc, out = _run(tmp_path, INTERLEAVED, str(parallelism), merged=True)
    assert out["status"] == "completed"
    lines = Path(out["logs"]["c"]).read_text().splitlines()
    wanted = [f"{s} {i}" for i in range(200) for s in ("out", "err")]
    assert [ln for ln in lines if ln.startswith(("out ", "err "))] == wanted
    assert ("x" * 200_000) in lines
    assert proc.stdout.count(b"out 199\nerr 199\n") == 1


def test_separate_streams_give_whole_lines(tmp_path: Path) -> None:
    _capture_log.PARTIAL_AFTER, saved = 600.0, _capture_log.PARTIAL_AFTER  # no flush by age here
    try:
        log = tmp_path / "a.log"
        with capture_output(log):
            os.write(1, b"std")
            os.write(2, b"a whole error line\n")
            os.write(1, b"out line\n")
            os.write(2, b"tail without newline")
        # Two pipes: their relative order is not known, but no line is cut by the other stream's.
        lines = log.read_bytes().splitlines()
        assert sorted(lines) == [b"a whole error line", b"stdout line", b"tail without newline"]
    finally:
        _capture_log.PARTIAL_AFTER = saved


def test_descriptors_come_back_after_an_interrupt(tmp_path: Path) -> None:
    before = [os.fstat(fd) for fd in (1, 2)]
    log = tmp_path / "a.log"
    with pytest.raises(KeyboardInterrupt), capture_output(log):
        os.write(2, b"written just before\n")
        assert (os.fstat(2).st_dev, os.fstat(2).st_ino) != (before[1].st_dev, before[1].st_ino)
        raise KeyboardInterrupt
    after = [os.fstat(fd) for fd in (1, 2)]
    assert [(s.st_dev, s.st_ino) for s in after] == [(s.st_dev, s.st_ino) for s in before]
    assert b"written just before\n" in log.read_bytes()
    assert _capture.active() is None


def test_nested_capture_reaches_both_logs(tmp_path: Path) -> None:
    outer, inner = tmp_path / "outer.log", tmp_path / "inner.log"
    with capture_output(outer):
        os.write(1, b"outer line\n")
        with capture_output(inner):
            os.write(1, b"inner line\n")
        os.write(2, b"outer again\n")
    assert inner.read_bytes() == b"inner line\n"
    assert outer.read_bytes() == b"outer line\ninner line\nouter again\n"


def test_a_thread_falls_back_to_the_python_level_tee(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    errors: list[BaseException] = []

    def body() -> None:
        try:
            assert not _capture.fd_capture_possible()
            with capture_output(log):
                print("printed in a thread")
                assert _capture.active() is None  # fds 1/2 untouched
        except BaseException as e:  # noqa: BLE001 -- reported to the test
            errors.append(e)

    t = threading.Thread(target=body)
    t.start()
    t.join(60)
    assert not t.is_alive() and not errors, errors
    assert log.read_text() == "printed in a thread\n"


OUTLIVED = PRELUDE + textwrap.dedent(
    """
    class Spawns(Step):
        def run(self, release):
            code = (
                "import os, sys, time\\n"
                "print('child early', flush=True)\\n"
                f"deadline = time.monotonic() + 60\\n"
                f"while not os.path.exists({release!r}) and time.monotonic() < deadline:\\n"
                "    time.sleep(0.01)\\n"
                "print('child late', flush=True)\\n"
            )
            p = subprocess.Popen(child(code))
            Path(release + ".pid").write_text(str(p.pid))
            while "child early" not in Path(self.log_path()).read_text():
                time.sleep(0.01)
            return 1

        def log_path(self):
            return ws.dir / ws.step_info(self).log_file

    ws = LocalWorkspace(sys.argv[1])
    run = run_steps(ws, {"s": Spawns(release=sys.argv[2])}, name="r", parallelism=int(sys.argv[3]))
    Path(sys.argv[4]).write_text(json.dumps({"logs": logs(ws, run), "status": run.status.value}))
    """
)


@pytest.mark.parametrize("parallelism", [1, 2])
def test_a_child_that_outlives_the_body_does_not_hold_the_step(
    tmp_path: Path, parallelism: int
) -> None:
    release = tmp_path / "release"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            OUTLIVED,
            str(tmp_path / "ws"),
            str(release),
            str(parallelism),
            str(tmp_path / "result.json"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    pid_file = Path(str(release) + ".pid")
    try:
        # The run ends while the child still runs (it waits for `release`).
        assert proc.wait(120) == 0, proc.stderr.read() if proc.stderr else ""
        out = json.loads((tmp_path / "result.json").read_text())
        assert out["status"] == "completed"
        log = Path(out["logs"]["s"]).read_bytes()
        assert b"child early\n" in log and _capture.DETACHED_NOTE in log
        child_pid = int(pid_file.read_text())
        assert Path(f"/proc/{child_pid}").exists()  # the child was left alone, still running
        release.touch()
        stdout = proc.stdout.read() if proc.stdout else b""  # EOF: the child has ended
        assert stdout.count(b"child early\n") == 1 and b"child late\n" in stdout
        assert b"child late" not in Path(out["logs"]["s"]).read_bytes()
        assert (
            "still hold its stdout/stderr"
            in (tmp_path / "ws" / "runs" / "r" / "out.log").read_text()
        )
    finally:
        release.touch()
        if proc.poll() is None:
            proc.kill()
        proc.wait(60)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


SIGNALLED = PRELUDE + textwrap.dedent(
    """
    class Waits(Step):
        def run(self, ready):
            os.write(1, b"before the signal\\n")
            Path(ready).touch()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                time.sleep(0.01)
            return 1

    signal.signal(signal.SIGTERM, lambda *a: None)  # redelivered to us: returns, so we go on
    ws = LocalWorkspace(sys.argv[1])
    try:
        run_steps(ws, {"w": Waits(ready=sys.argv[2])}, name="r")
    except KeyboardInterrupt as e:
        os.write(1, b"fds are back\\n")
        run = ws.registered_run("r")
        Path(sys.argv[3]).write_text(json.dumps({"logs": logs(ws, run), "error": str(e)}))
    """
)


def test_sigterm_restores_descriptors_and_keeps_the_tail(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            SIGNALLED,
            str(tmp_path / "ws"),
            str(ready),
            str(tmp_path / "result.json"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)  # polling for a condition, with a deadline
        assert ready.exists()
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    out = json.loads((tmp_path / "result.json").read_text())
    assert out["error"] == "interrupted by SIGTERM"
    log = Path(out["logs"]["w"]).read_bytes()
    assert log.index(b"before the signal\n") < log.index(b"interrupted by SIGTERM")
    assert b"fds are back" not in log
    assert stdout.count(b"before the signal\n") == 1 and b"fds are back\n" in stdout


TERMINAL = PRELUDE + textwrap.dedent(
    """
    class Looks(Step):
        def run(self):
            size = os.get_terminal_size(1)
            os.write(1, f"isatty {os.isatty(1)} {os.isatty(2)} columns {size.columns}\\n".encode())
            os.write(2, b"progress 50%\\rprogress 100%\\n")
            return 1

    ws = LocalWorkspace(sys.argv[1])
    run = run_steps(ws, {"t": Looks()}, name="r")
    Path(sys.argv[2]).write_text(json.dumps({"logs": logs(ws, run), "status": run.status.value}))
    """
)


def test_a_terminal_stays_a_terminal_for_the_step(tmp_path: Path) -> None:
    import fcntl
    import struct
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 123, 0, 0))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", TERMINAL, str(tmp_path / "ws"), str(tmp_path / "result.json")],
            stdin=subprocess.DEVNULL,
            stdout=slave,
            stderr=slave,
            env=env,
        )
        os.close(slave)
        slave = -1
        seen = b""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if not select.select([master], [], [], 1.0)[0]:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer is gone
                break
            seen += chunk
        assert proc.wait(60) == 0, seen
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    out = json.loads((tmp_path / "result.json").read_text())
    log = Path(out["logs"]["t"]).read_bytes()
    assert b"isatty True True columns 123\n" in log, log
    assert b"progress 50%\rprogress 100%\n" in log and b"\r\n" not in log, log
    assert b"isatty True True columns 123\r\n" in seen, seen  # the real terminal got it too


REENTERED = textwrap.dedent(
    """
    import logging, sys
    from tango_tui.core import _capture, _capture_log
    from tango_tui.core._logs import capture_output

    with capture_output(sys.argv[1]):
        cap = _capture.active()
        with cap._section():  # the main thread is inside a locked section when, say,
            logging.getLogger("handler").warning("a second SIGTERM")  # a signal handler logs
    """
)


def test_a_record_logged_from_a_signal_handler_mid_section_does_not_deadlock(
    tmp_path: Path,
) -> None:
    log = tmp_path / "a.log"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", REENTERED, str(log)],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert b"WARNING handler: a second SIGTERM\n" in log.read_bytes()


CLOSED = textwrap.dedent(
    """
    import logging, os, sys
    from tango_tui.core import _capture
    from tango_tui.core._logs import capture_output

    os.close(1)  # e.g. a daemon started with its stdout closed
    with capture_output(sys.argv[1]):
        assert _capture.active() is None  # fell back to the Python-level tee
        logging.getLogger("x").warning("still logged")
        print("to stderr", file=sys.stderr)
    """
)


def test_closed_fds_fall_back_to_the_python_level_tee(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", CLOSED, str(log)],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert b"WARNING x: still logged\n" in log.read_bytes() and b"to stderr\n" in log.read_bytes()
    assert b"to stderr\n" in proc.stderr


def test_fd_capture_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_capture.FD_CAPTURE_ENV, "0")
    log = tmp_path / "a.log"
    with capture_output(log):
        assert _capture.active() is None
        print("python level")
    assert log.read_text() == "python level\n"
