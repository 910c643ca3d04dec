"""LogFile on real files: following, truncation, rotation, vanishing, errors, big files."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tango_tui.core._errors import WorkspaceError
from tango_tui.monitor._logscan import BYTE_STRIDE, LineCount
from tango_tui.monitor._logtext import display_text
from tango_tui.monitor.logfile import ChangeKind, LogFile, LogFileError


def texts(lines) -> list[str]:
    return [line.text for line in lines]


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    path = tmp_path / "out.log"
    path.write_bytes(b"".join(b"line %d\n" % i for i in range(100)))
    return path


# -- display rules ------------------------------------------------------------------------------


def test_display_text_rules() -> None:
    assert display_text(b"\x1b[1;31mERROR\x1b[0m boom") == "ERROR boom"
    assert display_text(b"\x1b]0;title\x07shown") == "shown"
    assert display_text(b"a\tb") == "a\tb"
    assert display_text(b"bell\x07 nul\x00 del\x7f") == "bell\u2407 nul\u2400 del\u2421"
    assert display_text(b" 10%\r 50%\r100%") == "100%"
    assert display_text(b"bad \xff\xfe byte") == "bad \ufffd\ufffd byte"
    assert display_text("naïve €".encode()) == "naïve €"


# -- reading ------------------------------------------------------------------------------------


def test_tail_and_paging(log_path: Path) -> None:
    with LogFile(log_path) as log:
        last = log.tail(50)
        assert texts(last) == [f"line {i}" for i in range(50, 100)]
        assert texts(log.lines_before(last[0].offset, 50)) == [f"line {i}" for i in range(50)]
        assert texts(log.lines_after(last[-1].end, 5)) == []
        assert log.lines_before(0, 5) == []
        assert log.line_at(last[10].offset + 3) == last[10]


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    with LogFile(path) as log:
        assert log.tail(50) == [] and log.lines_after(0, 5) == [] and log.line_at(0) is None
        assert log.scan() is True and log.line_count == 0 and log.approx_line_count == 0
        assert log.search("x", 0) is None


def test_partial_last_line_is_reread_when_complete(tmp_path: Path) -> None:
    path = tmp_path / "p.log"
    path.write_bytes(b"one\ntw")
    with LogFile(path) as log:
        partial = log.tail(1)[0]
        assert (partial.text, partial.complete) == ("tw", False)
        append(path, b"o\nthree\n")
        change = log.refresh()
        assert change.kind is ChangeKind.APPENDED and change.new_lines == 2
        assert change.reread_from == partial.offset
        assert texts(log.lines_after(change.reread_from, 10)) == ["two", "three"]
        assert all(line.complete for line in log.tail(5))


def test_follow_appends_keep_the_count_current(log_path: Path) -> None:
    with LogFile(log_path) as log:
        assert log.scan() and log.line_count == 100
        for round_ in range(3):
            append(log_path, b"".join(b"more %d.%d\n" % (round_, i) for i in range(7)))
            change = log.refresh()
            assert (change.kind, change.new_lines) == (ChangeKind.APPENDED, 7)
            assert log.line_count == 100 + 7 * (round_ + 1)
        assert log.refresh().kind is ChangeKind.NONE
        last = log.tail(1)[0]
        assert last.text == "more 2.6" and log.line_number_of(last.offset) == 121


def test_truncation_while_followed(log_path: Path) -> None:
    with LogFile(log_path) as log:
        log.scan()
        with open(log_path, "r+b") as f:
            f.truncate(0)
            f.write(b"fresh\n")
        change = log.refresh()
        assert change.kind is ChangeKind.TRUNCATED and change.reset and change.reread_from == 0
        assert texts(log.tail(50)) == ["fresh"]
        assert log.line_count is None and log.scan() and log.line_count == 1


def test_rewrite_in_place_to_a_bigger_size_is_a_truncation(log_path: Path) -> None:
    """copytruncate followed by fast writes: the file is bigger, but its start changed."""
    with LogFile(log_path) as log:
        size = log.size
        log_path.write_bytes(b"x" * (size + 10) + b"\n")
        assert log.refresh().kind is ChangeKind.TRUNCATED
        assert log.tail(1)[0].text == "x" * (size + 10)


def test_rotation_rename_and_recreate(log_path: Path) -> None:
    with LogFile(log_path) as log:
        before = log.tail(1)
        log_path.rename(log_path.with_suffix(".log.1"))
        change = log.refresh()
        assert change.kind is ChangeKind.VANISHED and log.vanished
        assert change.problem == "log file vanished"
        assert log.tail(1) == before  # the old file is still readable meanwhile
        assert log.refresh().kind is ChangeKind.NONE  # reported once
        log_path.write_bytes(b"new file\n")
        change = log.refresh()
        assert change.kind is ChangeKind.REPLACED and change.reset and not log.vanished
        assert texts(log.tail(5)) == ["new file"]


def test_replaced_without_a_gap(log_path: Path) -> None:
    new = log_path.with_name("tmp")
    new.write_bytes(b"a\nb\n")
    with LogFile(log_path) as log:
        os.replace(new, log_path)
        assert log.refresh().kind is ChangeKind.REPLACED
        assert texts(log.tail(5)) == ["a", "b"]


def test_vanished_and_deleted_does_not_crash(log_path: Path) -> None:
    with LogFile(log_path) as log:
        log_path.unlink()
        assert log.refresh().kind is ChangeKind.VANISHED
        assert texts(log.tail(1)) == ["line 99"]
        assert log.search("line 5", 0) is not None


def test_path_becomes_a_directory(log_path: Path) -> None:
    with LogFile(log_path) as log:
        log_path.unlink()
        log_path.mkdir()
        change = log.refresh()
        assert change.kind is ChangeKind.VANISHED and "regular file" in (change.problem or "")


# -- errors -------------------------------------------------------------------------------------


def test_open_errors_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError) as missing:
        LogFile(tmp_path / "nope.log").open()
    assert missing.value.path == str(tmp_path / "nope.log") and "not found" in missing.value.problem
    with pytest.raises(LogFileError, match="is a directory"):
        LogFile(tmp_path).open()
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(LogFileError, match="not a regular file"):
        LogFile(tmp_path / "fifo").open()
    with pytest.raises(RuntimeError, match="not open"):
        LogFile(tmp_path / "nope.log").tail(5)


def test_permission_denied(tmp_path: Path) -> None:
    """Run as an unprivileged user (everything here runs as root, which chmod does not stop)."""
    path = tmp_path / "secret.log"
    path.write_bytes(b"x\n")
    path.chmod(0o600)
    os.chmod(tmp_path, 0o755)
    code = (
        "import sys\nfrom tango_tui.monitor.logfile import LogFile, LogFileError\n"
        "try:\n    LogFile(sys.argv[1]).open()\nexcept LogFileError as e:\n    print(e.problem)\n"
    )
    cmd = [sys.executable, "-c", code, str(path)]
    if os.geteuid() == 0:
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    out = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=60, env=env)
    assert out.stdout.strip() == "permission denied", out.stderr


# -- big inputs ---------------------------------------------------------------------------------


def test_ten_megabyte_single_line(tmp_path: Path) -> None:
    path = tmp_path / "one.log"
    body = b"x" * (9 * 2**20) + b"NEEDLE" + b"y" * (2**20) + "é".encode() * 10
    path.write_bytes(b"first\n" + body + b"\nlast")
    with LogFile(path) as log:
        first, big, last = log.lines_after(0, 3)
        assert (big.offset, big.end) == (6, 6 + len(body) + 1) and big.cut and not first.cut
        assert len(big.text) < 70 * 1024 and big.text.startswith("x" * 1000)
        assert f"{len(body):,} bytes" in big.text
        assert log.tail(2) == [big, last]
        assert log.lines_before(last.offset, 1) == [big]
        assert log.line_at(len(body) // 2) == big
        assert log.search("needle", 0) == big
        assert log.search("needle", last.offset, backwards=True) == big
        assert log.search("needle", big.end) is None
        assert log.scan() and log.line_count == 3 and log.line_number_of(last.offset) == 3


def test_twenty_megabytes_count_and_goto(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    line = b"2026-11-29 07:00:00,000 INFO step %08d: a typical log line of about 80 bytes..\n"
    n = 250_000
    with open(path, "wb") as f:
        f.writelines(
            b"".join(line % i for i in range(start, start + 10_000))
            for start in range(0, n, 10_000)
        )
    width = len(line % 0)
    with LogFile(path) as log:
        assert log.tail(1)[0].text.endswith("..") and log.line_number_of(0) == 1
        estimate = log.approx_line_count
        assert n * 0.5 < estimate < n * 2  # from the tail sample, before any count
        cancel = threading.Event()
        cancel.set()
        assert log.scan(cancel=cancel) is False and log.line_count is None
        assert log.scan(max_bytes=2**20) is False and 0 < log.scan_progress < 1
        assert log.line_number_of(log.size - width) is None  # not counted that far yet
        assert log.scan() is True and log.line_count == n
        for number in (1, 1000, 1001, 123_457, n):
            offset = log.offset_of_line(number)
            assert offset == (number - 1) * width
            assert log.line_number_of(offset) == number
            assert log.line_at(offset).text.startswith(
                f"2026-11-29 07:00:00,000 INFO step {number - 1:08d}"
            )
        hit = log.search(r"step 0012345\d", log.size, backwards=True, regex=True)
        assert hit is not None and log.line_number_of(hit.offset) == 123_460


def test_scan_thread_survives_truncation(tmp_path: Path) -> None:
    path = tmp_path / "t.log"
    path.write_bytes(b"abc\n" * 2_000_000)
    with LogFile(path) as log:
        results: list[bool] = []
        started = threading.Event()

        def worker() -> None:
            started.set()
            results.append(log.scan())

        thread = threading.Thread(target=worker)
        thread.start()
        assert started.wait(10)
        path.write_bytes(b"short\n")
        change = log.refresh()
        thread.join(30)
        assert not thread.is_alive() and results == [True]
        assert change.kind is ChangeKind.TRUNCATED
        assert log.scan() and log.line_count == 1


def test_rotations_do_not_leak_descriptors(log_path: Path) -> None:
    before = len(os.listdir("/proc/self/fd"))
    with LogFile(log_path) as log:
        for i in range(10):
            log_path.unlink()
            log_path.write_bytes(b"generation %d\n" % i)
            assert log.refresh().kind is ChangeKind.REPLACED
            assert texts(log.tail(5)) == [f"generation {i}"]
        assert len(os.listdir("/proc/self/fd")) <= before + 2  # the current file + the retired one
    assert len(os.listdir("/proc/self/fd")) == before


def test_out_of_range_offsets(log_path: Path) -> None:
    with LogFile(log_path) as log:
        assert texts(log.lines_after(-10, 1)) == ["line 0"]
        assert log.lines_before(-10, 1) == [] and log.line_at(-1) is None
        assert texts(log.lines_before(log.size + 100, 1)) == ["line 99"]
        assert log.lines_after(log.size + 100, 1) == []
        assert log.search("line 0", -5).offset == 0
        assert log.search("line 99", log.size + 100, backwards=True).text == "line 99"


def test_non_utf8_file_name(tmp_path: Path) -> None:
    path = tmp_path / os.fsdecode(b"step-\xff\xfe.log")
    path.write_bytes(b"ok \xff\n")
    with LogFile(path) as log:
        assert texts(log.tail(5)) == ["ok \ufffd"]
    with pytest.raises(LogFileError) as missing:
        LogFile(tmp_path / os.fsdecode(b"gone-\xff.log")).open()
    assert os.fsencode(missing.value.path).endswith(b"gone-\xff.log")


def test_long_lines_leave_checkpoints_by_bytes() -> None:
    """A log of long lines (progress bars redrawn with \\r) still has a checkpoint within about
    BYTE_STRIDE bytes before any line, so a line number never needs a long read."""
    line = b"\r".join(b"epoch 1: %3d%%" % p for p in range(100)) * 60 + b"\n"  # ~80 KB
    data = line * 200  # 16 MB, 200 lines: the 1,000-line stride alone would leave 1 checkpoint
    count = LineCount(stride=1000)
    for start in range(0, len(data), 3 * 1024 * 1024):  # fed in scan-sized and odd pieces
        count.feed(data[start : start + 3 * 1024 * 1024], start)
    assert count.lines == 200 and count.cursor == len(data)
    for k in range(200):
        index, pos = count.checkpoint_before(k * len(line))
        assert index * len(line) == pos and k * len(line) - pos <= BYTE_STRIDE * 5 // 4 + len(line)
        assert count.checkpoint_of_line(k) == (index, pos)
