"""Library worker for ai2-tango 1.3.2 (runs in benchmarks/.venvs/tango). One op per process.

Usage: python lib_tango.py '{"op": ..., "dir": ..., ...}'; prints one JSON line.
The operations mirror lib_ours.py exactly; see benchmarks/bench_library.py for what each means.
"""

import time

T_START = time.perf_counter()

import json
import statistics
import sys
from pathlib import Path

import tango_steps
from tango import StepGraph
from tango.workspaces import LocalWorkspace
from tango_steps import BenchAdd

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
    # Tango loads every StepInfo eagerly, so the states cost nothing more here.
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
    """Tango's `tango run` path: StepGraph + Executor, through tango.cli.execute_step_graph.

    parallelism 1: the default `tango run` (in-process Executor); parallelism > 1: `tango run -j N`
    (MulticoreExecutor, one `tango` subprocess per step).
    """
    from tango.cli import execute_step_graph
    from tango.common.exceptions import CliRunError
    from tango.common.logging import initialize_logging, teardown_logging
    from tango.executor import Executor
    from tango.executors import MulticoreExecutor

    chains, length = a["chains"], a["length"]
    config = {}
    for c in range(chains):
        for i in range(length):
            x = 0 if i == 0 else {"type": "ref", "ref": f"c{c}s{i - 1}"}
            config[f"c{c}s{i}"] = {"type": "bench_add", "x": x, "salt": f"p{c}"}
    graph = StepGraph.from_params(config)
    ws = LocalWorkspace(a["dir"])
    if a["parallelism"] == 1:
        executor = Executor(workspace=ws, include_package=["tango_steps"])
    else:
        executor = MulticoreExecutor(
            workspace=ws, include_package=["tango_steps"], parallelism=a["parallelism"]
        )
    t0 = time.perf_counter()
    # As the `tango` CLI does: its subprocess steps log to the main process over a socket.
    initialize_logging(log_level="warning", enable_cli_logs=False, file_friendly_logging=True)
    run_error = None
    try:
        execute_step_graph(graph, workspace=ws, executor=executor, name="bench")
    except CliRunError as e:
        # Some steps failed; the figure stays (time to the end of the run), the count says it.
        run_error = repr(e)
    finally:
        teardown_logging()
    elapsed = time.perf_counter() - t0
    run = ws.registered_run("bench")
    done = sum(1 for info in run.steps.values() if info.state.value == "completed")
    return {"run_s": elapsed, "completed": done, "error": run_error}


if __name__ == "__main__":
    args = json.loads(sys.argv[1])
    assert tango_steps
    out = globals()["op_" + args["op"]](args)
    out["import_s"] = T_IMPORTED - T_START
    print(json.dumps(out))
