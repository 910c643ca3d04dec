"""Progress of a running Tango step, from the tqdm bars in its run log."""

from __future__ import annotations

from pathlib import Path

import pytest
from tango1_support import KILLED_SLOW

from tango_tui.core.tango1 import TangoWorkspace
from tango_tui.core.tango1._progress import parse_bar, progress_from_log


@pytest.mark.parametrize(
    ("text", "done", "total", "unit", "rate"),
    [
        ("rt_slow progress:  50%|#####     | 10/20 [00:10<00:10,  1.00s/it]", 10, 20, "it", 1.0),
        ("rt_slow progress:   0%|          | 0/60 [00:00<?, ?it/s]", 0, 60, "it", None),
        ("train:  12%|#2        | 120/1000 [00:02<00:15, 55.10batch/s]", 120, 1000, "batch", 55.1),
        ("dl: 33%|###3      | 1.5M/4.5M [00:01<00:02, 2.0MB/s]", 1.5e6, 4.5e6, "B", 2.0e6),
        ("[step left] load:  25%|##5       | 1/4 [00:01<00:03,  2.00s/it]", 1, 4, "it", 0.5),
    ],
)
def test_tqdm_bars(text: str, done: float, total: float, unit: str, rate: float | None) -> None:
    bar = parse_bar(text)
    assert bar is not None
    assert (bar.done, bar.total, bar.unit) == (done, total, unit)
    assert bar.rate == pytest.approx(rate) if rate is not None else bar.rate is None
    assert bar.desc is not None and "[step" not in bar.desc
    assert parse_bar("no bar here 50%") is None


def test_running_step_reports_its_last_bar(tango_ws: Path, hold_flock) -> None:
    log = tango_ws / "runs" / "killed-run" / "out.log"
    bar = progress_from_log(log, "slow")
    assert bar is not None and bar.done == 0 and bar.total == 60 and bar.updated is not None
    assert progress_from_log(log, "numbers") is None  # not the step that was running
    assert (
        progress_from_log(tango_ws / "runs" / "helped-clam" / "out.log", "slow") is None
    )  # finished
    ws = TangoWorkspace(tango_ws)
    assert ws.step_progress(KILLED_SLOW) is None  # crashed: no live progress
    holder = hold_flock.hold(tango_ws / "cache" / KILLED_SLOW / "lock")
    progress = ws.step_progress(KILLED_SLOW)
    assert progress is not None and progress.total == 60
    hold_flock.release(holder)


def test_multicore_bar_needs_the_steps_prefix(tmp_path: Path) -> None:
    log = tmp_path / "out.log"
    log.write_text(
        '[11/29/26 06:00:01] INFO     [step a] ● Starting step "a"...\n'
        "[11/29/26 06:00:02] INFO     [step a] a:  50%|#####     | 2/4 [00:01<00:01,  2.00it/s]\n"
        "[11/29/26 06:00:02] INFO     [step b] b:  10%|#         | 1/10 [00:01<00:09,  1.00it/s]\n"
    )
    a = progress_from_log(log, "a")
    b = progress_from_log(log, "b")
    assert a is not None and a.done == 2 and a.rate == 2.0
    assert b is not None and b.done == 1 and b.total == 10
    assert progress_from_log(log, "c") is None
