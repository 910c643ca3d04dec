"""A separate process that changes a tango-tui workspace on command (for latency benchmarks).

Reads one JSON command per stdin line and answers one JSON line with ``t0``/``t1``:
``time.monotonic()`` just before and just after the change (the clock is system-wide on Linux,
so the app process can subtract it from its own readings).

Commands:
    {"cmd": "setup", "ws": DIR, "runs": R, "steps": S}  R background runs + run "watched" (S steps)
    {"cmd": "register", "name": NAME}                    register a new 1-step run
    {"cmd": "start", "i": I} / {"cmd": "finish", "i": I}  step I of "watched": RUNNING / COMPLETED
    {"cmd": "append", "path": P, "text": LINE}           append one line to a log
    {"cmd": "quit"}
"""

import json
import logging
import sys
import time

from ours_steps import BenchAdd

from tango_tui import LocalWorkspace


def main() -> None:
    ws = None
    steps: list = []
    for line in sys.stdin:
        c = json.loads(line)
        out: dict = {}
        t0 = time.monotonic()
        if c["cmd"] == "setup":
            ws = LocalWorkspace(c["ws"])
            for r in range(c["runs"]):
                ws.register_run([BenchAdd(x=r, salt="bg", step_name="s0")], name=f"bg{r:04d}")
            prev = 0
            for i in range(c["steps"]):
                prev = BenchAdd(x=prev, salt="watched", step_name=f"wstep{i:02d}")
                steps.append(prev)
            ws.register_run(steps, name="watched")
            with ws.capture_logs_for_run("watched"):
                logging.getLogger("bench").warning("run log opened")
        elif c["cmd"] == "register":
            ws.register_run([BenchAdd(x=0, salt=c["name"], step_name="s0")], name=c["name"])
        elif c["cmd"] == "start":
            ws.step_starting(steps[c["i"]])
        elif c["cmd"] == "finish":
            ws.step_finished(steps[c["i"]], 1)
        elif c["cmd"] == "append":
            with open(c["path"], "a") as f:
                f.write(c["text"] + "\n")
        elif c["cmd"] == "quit":
            break
        out.update(t0=t0, t1=time.monotonic())
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
