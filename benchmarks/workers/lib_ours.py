"""Library worker for tango-tui (runs in the project's .venv). One op per process.

Usage: python lib_ours.py '{"op": ..., "dir": ..., ...}'; prints one JSON line.
The operations mirror lib_tango.py exactly; see benchmarks/bench_library.py for what each means.
"""

import time

T_START = time.perf_counter()

import json
import statistics
import sys
from pathlib import Path

from ours_steps import BenchAdd

from tango_tui import LocalWorkspace, run_steps

T_IMPORTED = time.perf_counter()


def chain(n: int, salt: str) -> list:
    """n steps, each depending on the previous one."""
    steps = []
    prev = 0
    for i in range(n):
        step = BenchAdd(x=prev, salt=salt, step_name=f"s{i}")
        steps.append(step)
        prev = step
    return steps


def op_register(a):
    ws = LocalWorkspace(a["dir"])
    times = []
    for r in range(a["n"]):
        steps = chain(a["steps"], f"reg{r}")
        t0 = time.perf_counter()
        ws.register_run(steps, name=f"run{r}")
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "samples": times}


def op_cycle(a):
    ws = LocalWorkspace(a["dir"])
    times = []
    for i in range(a["n"]):
        step = BenchAdd(x=i, salt="cycle")
        t0 = time.perf_counter()
        ws.step_starting(step)
        ws.step_finished(step, i + 1)
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "mean_s": statistics.fmean(times)}


def op_gen(a):
    ws = LocalWorkspace(a["dir"])
    uids = []
    t0 = time.perf_counter()
    for r in range(a["runs"]):
        steps = chain(a["steps"], f"gen{r}")
        ws.register_run(steps, name=f"run{r:05d}")
        uids.append(steps[-1].unique_id)
    Path(a["uids_file"]).write_text(json.dumps(uids))
    return {"gen_s": time.perf_counter() - t0}


def op_list(a):
    t0 = time.perf_counter()
    ws = LocalWorkspace(a["dir"])
    runs = ws.registered_runs()
    t1 = time.perf_counter()
    # Our Run.steps loads StepInfos lazily: reading every state is the fair "deep" figure.
    n_states = sum(1 for run in runs.values() for info in run.steps.values() if info.state)
    t2 = time.perf_counter()
    return {
        "list_s": t1 - t0,
        "deep_s": t2 - t0,
        "n_runs": len(runs),
        "n_states": n_states,
        "import_s": T_IMPORTED - T_START,
    }


def op_step_info(a):
    uids = json.loads(Path(a["uids_file"]).read_text())[: a["n"]]
    ws = LocalWorkspace(a["dir"])
    times = []
    for uid in uids:
        t0 = time.perf_counter()
        ws.step_info(uid)
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "first_s": times[0]}


def op_run_steps(a):
    """Our run_steps: in-process at parallelism 1, worker processes at parallelism > 1."""
    chains, length = a["chains"], a["length"]
    targets = {}
    for c in range(chains):
        prev = 0
        for i in range(length):
            prev = BenchAdd(x=prev, salt=f"p{c}", step_name=f"c{c}s{i}")
            targets[f"c{c}s{i}"] = prev
    ws = LocalWorkspace(a["dir"])
    t0 = time.perf_counter()
    run = run_steps(ws, targets, name="bench", parallelism=a["parallelism"])
    elapsed = time.perf_counter() - t0
    run = ws.registered_run("bench")
    done = sum(1 for info in run.steps.values() if info.state.value == "completed")
    return {"run_s": elapsed, "completed": done}


if __name__ == "__main__":
    args = json.loads(sys.argv[1])
    out = globals()["op_" + args["op"]](args)
    out["import_s"] = T_IMPORTED - T_START
    print(json.dumps(out))
