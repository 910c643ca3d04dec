"""Tango's out.log: the lines of one step, markers followed incrementally."""

from __future__ import annotations

from pathlib import Path

import pytest

from tango_tui.core.tango1 import RunLogScanner, lines_for_step, parse_head

PATH = " " * 40 + "tango/step.py:761"


def _rec(time: str, level: str, msg: str) -> str:
    return f"[11/29/26 {time}] {level:<8} {msg}{PATH}\n"


MULTICORE = "".join(
    [
        _rec("06:00:00", "INFO", "Starting new run fast-cat"),
        _rec("06:00:01", "INFO", '[step a] ● Starting step "a"...'),
        _rec("06:00:01", "INFO", '[step b] ● Starting step "b"...'),
        _rec("06:00:02", "INFO", "[step a] loading data"),
        _rec("06:00:02", "WARNING", "[step b] b is slow"),
        "  a continuation line of b's warning\n",
        _rec("06:00:03", "ERROR", "[step b] Uncaught exception"),
        "Traceback (most recent call last):\n",
        "ValueError: nope\n",
        _rec("06:00:03", "ERROR", '[step b] ✗ Step "b" failed'),
        _rec("06:00:04", "INFO", '[step a] ✓ Finished step "a"'),
        _rec("06:00:05", "ERROR", "✗ Run fast-cat finished with errors"),
    ]
)


def test_multicore_prefixes_attribute_lines(tmp_path: Path) -> None:
    log = tmp_path / "out.log"
    log.write_text(MULTICORE)
    a = lines_for_step(log, "a")
    b = lines_for_step(log, "b")
    assert [parse_head(line).message.split("  ")[0] for line in a] == [
        '● Starting step "a"...',
        "loading data",
        '✓ Finished step "a"',
    ]
    assert len(b) == 7 and "a continuation line of b's warning" in b[2]
    assert b[4] == "Traceback (most recent call last):" and b[5] == "ValueError: nope"
    assert lines_for_step(log, "b", limit=2) == b[-2:]
    head = parse_head(a[1])
    assert head.step == "a" and head.level == "INFO" and head.time == "11/29/26 06:00:02"
    assert parse_head("  continuation") is None


def test_sequential_markers_on_the_real_log(tango_ws: Path) -> None:
    log = tango_ws / "runs" / "helped-clam" / "out.log"
    numbers = lines_for_step(log, "numbers")
    assert '● Starting step "numbers"' in numbers[0]
    assert any("word039" in line for line in numbers)  # Rich's wrapped continuation lines
    assert "  third line" in "\n".join(numbers)  # multi-line messages
    assert any("WARNING" in line and "rt_make_numbers" in line for line in numbers)
    assert not any("squaring" in line for line in numbers)
    broken = lines_for_step(log, "broken")
    assert any("IntentionalFailure" in line for line in broken)
    assert any('Step "broken" failed' in line for line in broken)
    assert lines_for_step(tango_ws / "runs" / "nope" / "out.log", "x") == []


def test_scanner_follows_growth_and_replacement(tmp_path: Path) -> None:
    log = tmp_path / "out.log"
    lines = MULTICORE.splitlines(keepends=True)
    log.write_text("".join(lines[:3]))
    scanner = RunLogScanner(log)
    state = scanner.scan()
    assert state.started == {"a", "b"} and not state.run_ended
    with log.open("a") as f:
        f.write("".join(lines[3:]))
        f.write(_rec("06:00:06", "INFO", "partial line without newline").rstrip("\n"))
    state = scanner.scan()
    assert state.failed == {"b"} and state.finished == {"a"}
    assert state.run_ended and state.run_errors
    # A replaced log (a run registered again under the same name) is read from the start.
    replacement = tmp_path / "new.log"
    replacement.write_text(
        _rec("07:00:00", "INFO", "Starting new run fast-cat")
        + _rec("07:00:01", "INFO", '✓ Found output for step "a" in cache...')
    )
    replacement.replace(log)
    state = scanner.scan()
    assert state.cached == {"a"} and state.started == set() and not state.run_ended


def _reference(log: Path, step: str) -> list[str]:
    """The plain per-line rule, for comparison with the chunked fast paths."""
    from tango_tui.core.tango1._logs import _owner_of

    out, stack, owner = [], [], None
    for line in log.read_text(encoding="utf-8").splitlines():
        head = parse_head(line)
        if head is not None:
            owner = _owner_of(head, stack)
        if owner == step:
            out.append(line)
    return out


@pytest.mark.parametrize("chunk", [1 << 20, 97, 4096])
def test_chunked_reading_matches_the_per_line_rule(
    tango_ws: Path, unpack, monkeypatch, chunk: int
) -> None:
    from tango_tui.core.tango1 import _logs

    monkeypatch.setattr(_logs, "CHUNK", chunk)
    logs = list((tango_ws / "runs").glob("*/out.log"))
    logs.append(unpack("tango-1.3.2-multicore.tar.gz") / "runs" / "multi-run" / "out.log")
    for log in logs:
        for step in (
            "numbers",
            "squares",
            "total",
            "slow",
            "broken",
            "count_uncached",
            "upper_uncached",
            "left",
            "right",
            "both",
            "boom",
        ):
            assert lines_for_step(log, step) == _reference(log, step), (log, step)
        whole = RunLogScanner(log).scan()
        assert whole.started | whole.cached  # every fixture log names some steps
