"""Search says "match k of m", m counted in the background (capped at 1,000 matches)."""

from __future__ import annotations

from pathlib import Path

from app_support import wait_for
from test_log_view import open_log, texts, write

from tango_tui.app import make_app
from tango_tui.app.widgets._log_matches import MATCH_CAP
from tango_tui.app.widgets.log_view import LogView

SIZE = (100, 30)


async def test_match_k_of_m_follows_n_and_N(workspace: Path, tmp_path: Path) -> None:
    log = tmp_path / "s.log"
    write(log, [("needle" if i in (100, 500, 900) else "hay") + f" {i}" for i in range(1000)], "w")
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        lines = await open_log(pilot, app, log)
        view = app.screen.query_one(LogView)
        await pilot.press("g", "slash", *"needle", "enter")
        await wait_for(pilot, lambda: "match 1 of 3;" in view.search_status, what="1 of 3")
        assert "byte" not in view.search_status
        for rank, line in ((2, 500), (3, 900), (1, 100)):  # the last one wraps around
            await pilot.press("n")
            await wait_for(
                pilot,
                lambda rank=rank, line=line: (
                    f"needle {line}" in texts(lines) and f"match {rank} of 3;" in view.search_status
                ),
                what=f"match {rank}",
            )
        await pilot.press("N")
        await wait_for(pilot, lambda: "match 3 of 3;" in view.search_status, what="back to 3")
        # New matching lines arrive: the count goes on from where it stopped.
        write(log, ["needle late"])
        await wait_for(pilot, lambda: lines.new_lines == 1, what="the new line seen")
        await pilot.press("n")
        await wait_for(pilot, lambda: "match 4 of 4;" in view.search_status, what="4 of 4")
        assert "needle late" in texts(lines)
        # Another search starts a fresh count.
        await pilot.press("g", "slash", *"hay 99", "enter")
        await wait_for(pilot, lambda: "match 1 of 11;" in view.search_status, what="hay 99")


async def test_the_count_stops_at_the_cap(workspace: Path, tmp_path: Path) -> None:
    log = tmp_path / "many.log"
    n = 200_000
    write(log, [("needle" if i % 100 == 0 else "hay") + f" {i}" for i in range(n)], "w")
    assert n // 100 > MATCH_CAP
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        lines = await open_log(pilot, app, log)
        view = app.screen.query_one(LogView)
        await pilot.press("g", "slash", *"needle", "enter")
        await wait_for(pilot, lambda: "match 1 of 1,000+;" in view.search_status, what="capped")
        await pilot.press("n")
        await wait_for(pilot, lambda: "match 2 of 1,000+;" in view.search_status, what="2nd")
        # Past the cap the rank is unknown, and the count is not run again.
        await pilot.press("N")
        await wait_for(pilot, lambda: "match 1 of 1,000+;" in view.search_status, what="1st")
        await pilot.press("N")  # wraps around to the last match
        await wait_for(pilot, lambda: "needle 199900" in texts(lines), what="the last match")
        await wait_for(pilot, lambda: "match ? of 1,000+;" in view.search_status, what="rank ?")
        assert not any(w.group == "log-match-count" and not w.is_finished for w in view.workers)
