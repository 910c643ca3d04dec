"""Run the real tango-tui app in the real terminal (for tmux-driven benchmarks).

Usage: python app_ours.py '{"ws": DIR, "log": PATH|null, "poll": null|SECONDS}'
With "log", the app opens that log in its log screen right after start (what enter + `l` on a
run does), so the benchmark measures the log view rather than key navigation.
"""

import json
import sys
from pathlib import Path

from tango_tui.app import make_app

args = json.loads(sys.argv[1])
app = make_app(args["ws"], poll_interval=args.get("poll"))
auto_pilot = None
if args.get("log"):
    from tango_tui.app.screens.log import LogScreen

    async def auto_pilot(pilot):
        await pilot.app.push_screen(LogScreen(Path(args["log"]), title=Path(args["log"]).name))


app.run(auto_pilot=auto_pilot)
