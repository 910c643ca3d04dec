"""A full disk or an I/O error while storing a result: the step ends FAILED, never COMPLETED."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))
from local_steps import DiskFull, Echo, PickledEcho

import tango_tui.core._local_cache as local_cache
from tango_tui.core._errors import StepStateError
from tango_tui.core._local import LocalWorkspace
from tango_tui.core._model import StepState


def _assert_failed_without_result(ws: LocalWorkspace, step, err: OSError, code: int) -> None:
    assert err.errno == code
    info = ws.step_info(step)
    assert info.state is StepState.FAILED
    assert info.end_time is not None and info.result_location is None
    assert os.strerror(code) in info.error and step.unique_id in info.error
    assert str(ws.dir / "cache" / step.unique_id) in info.error  # names the path
    assert step not in ws.step_cache
    with pytest.raises(KeyError):
        ws.step_cache[step]
    step_dir = ws.dir / "cache" / step.unique_id
    assert not (step_dir / "result.json").exists()
    assert not [p for p in step_dir.iterdir() if p.name.startswith(".tmp-")]


def test_enospc_while_encoding_the_result(tmp_path: Path) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    step = PickledEcho(value="big")
    ws.step_starting(step)
    with pytest.raises(OSError) as err:
        ws.step_finished(step, DiskFull())
    _assert_failed_without_result(ws, step, err.value, errno.ENOSPC)
    # The caller's step_failed for the same error is accepted quietly (already recorded).
    ws.step_failed(step, err.value)
    # But failing a step nobody runs is still an error.
    with pytest.raises(StepStateError):
        ws.step_failed(step, RuntimeError("other"))
    # It can run again and complete.
    ws.step_starting(step)
    ws.step_finished(step, "fine now")
    assert ws.step_cache[step] == "fine now"


@pytest.mark.parametrize(
    ("value", "failing"),
    [
        ({"a": 1}, "/result.json"),  # inline: the marker's flush, after its rename
        ("x" * (local_cache.INLINE_LIMIT + 1), "/.tmp-result."),  # result/: the data file's
    ],
    ids=["inline-marker", "result-file"],
)
def test_eio_while_syncing_the_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: object, failing: str
) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    step = Echo(value="x")
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        # Only the result fails; records (the FAILED one included) still write.
        if failing in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(local_cache.os, "fsync", failing_fsync)
    ws.step_starting(step)
    with pytest.raises(OSError) as err:
        ws.step_finished(step, value)
    monkeypatch.undo()
    _assert_failed_without_result(ws, step, err.value, errno.EIO)


def test_failure_writing_the_completed_record_never_leaves_completed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    step = Echo(value="y")
    ws.step_starting(step)

    def no_space(info) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ws, "_write_info", no_space)
    with pytest.raises(OSError):
        ws.step_finished(step, "y")
    monkeypatch.undo()
    # The record still says running, but nobody is executing it: readers see CRASHED, not
    # RUNNING forever and not COMPLETED; it can run again.
    assert ws.step_info(step).state is StepState.CRASHED
    ws.step_starting(step)
    ws.step_finished(step, "y")
    assert ws.step_info(step).state is StepState.COMPLETED


TINY_DISK = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, {here!r})
    from local_steps import PickledEcho
    from tango_tui.core._local import LocalWorkspace
    ws = LocalWorkspace({root!r})
    step = PickledEcho(value="huge")
    ws.step_starting(step)
    out = {{}}
    try:
        ws.step_finished(step, b"x" * 1_000_000)
        out["raised"] = None
    except OSError as e:
        out["raised"] = e.errno
        out["message"] = str(e)
    info = ws.step_info(step)
    out["state"] = info.state.value
    out["error"] = info.error
    out["in_cache"] = step in ws.step_cache
    print(json.dumps(out))
    """
)


def test_a_real_full_disk(tmp_path: Path) -> None:
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {mnt}"],
        check=False,
        capture_output=True,
        timeout=30,
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {probe.stderr.decode().strip()}")
    root = mnt / "ws"
    script = TINY_DISK.format(here=str(HERE), root=str(root))
    extra = os.environ.get("PYTHONPATH")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *([extra] if extra else [])])}
    proc = subprocess.run(
        [
            "unshare",
            "-m",
            "sh",
            "-c",
            'mount -t tmpfs -o size=64k tmpfs "$1" && exec "$2" -c "$3"',
            "sh",
            str(mnt),
            sys.executable,
            script,
        ],
        check=False,
        capture_output=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    out = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    assert out["raised"] == errno.ENOSPC
    assert str(root) in out["message"]
    assert out["state"] == "failed" and "No space left on device" in out["error"]
    assert out["in_cache"] is False


def test_unpicklable_result_fails_the_step_instead_of_completing_it(tmp_path: Path) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    step = Echo(value="lambda")
    ws.step_starting(step)
    with pytest.raises(Exception) as err:
        ws.step_finished(step, lambda: None)
    info = ws.step_info(step)
    assert info.state is StepState.FAILED
    assert type(err.value).__name__ in info.error
    assert step not in ws.step_cache
    assert not (ws.dir / "cache" / step.unique_id / "result.json").exists()
