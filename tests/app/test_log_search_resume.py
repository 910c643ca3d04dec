"""``n``/``N`` go on from where the user is looking once the view has moved off the match."""

from __future__ import annotations

from pathlib import Path

from app_support import wait_for
from test_log_view import open_log, texts, write

from tango_tui.app import make_app
from tango_tui.app.widgets.log_view import LogView

SIZE = (100, 30)


async def test_n_and_N_resume_from_the_view_after_it_moved(workspace: Path, tmp_path: Path) -> None:
    log = tmp_path / "s.log"
    # 300 matches: "needle" on every tenth line (5, 15, ..., 2995).
    write(log, [("needle" if i % 10 == 5 else "hay") + f" {i}" for i in range(3000)], "w")
    app = make_app(str(workspace))
    async with app.run_test(size=SIZE) as pilot:
        lines = await open_log(pilot, app, log)
        view = app.screen.query_one(LogView)
        await pilot.press("g", "slash", *"needle", "enter")
        await wait_for(pilot, lambda: "match 1 of 300;" in view.search_status, what="1 of 300")
        await pilot.press("N")  # wraps around to the last match
        await wait_for(pilot, lambda: "match 300 of 300;" in view.search_status, what="300")
        assert "needle 2995" in texts(lines)
        await pilot.press("g")  # the view leaves the match
        assert texts(lines)[0] == "hay 0"
        await pilot.press("n")  # the first match from the top of the view, not match 300 again
        await wait_for(pilot, lambda: "match 1 of 300;" in view.search_status, what="back to 1")
        assert "needle 5" in texts(lines)
        await pilot.press("n")  # the match is on screen: on from it
        await wait_for(pilot, lambda: "match 2 of 300;" in view.search_status, what="2")
        # Page down well past match 2: n finds the first match from the new top line on.
        for _ in range(4):
            await pilot.press("pagedown")
        top = int(texts(lines)[0].split()[1])
        assert top > 30
        first = next(i for i in range(top, 3000) if i % 10 == 5)
        await pilot.press("n")
        await wait_for(
            pilot,
            lambda: f"match {first // 10 + 1} of 300;" in view.search_status,
            what=f"the match at line {first}",
        )
        assert f"needle {first}" in texts(lines)
        # Page down again, then N: the last match above the top line.
        for _ in range(4):
            await pilot.press("pagedown")
        top = int(texts(lines)[0].split()[1])
        last = max(i for i in range(top) if i % 10 == 5)
        await pilot.press("N")
        await wait_for(
            pilot,
            lambda: f"match {last // 10 + 1} of 300;" in view.search_status,
            what=f"the match at line {last}",
        )
        assert f"needle {last}" in texts(lines)
