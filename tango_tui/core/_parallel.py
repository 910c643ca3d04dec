"""The worker processes of ``run_steps(..., parallelism=N)``.

Each task runs in a forked process that reopens the workspace from its URL and reports back
through a pipe what ran and how it ended. Workers die with the executor's process (the kernel
SIGKILLs them, see :func:`~tango_tui.core._signals.die_with_parent`), and a SIGTERM or SIGHUP
interrupts a worker's step, which is then recorded FAILED ("interrupted by SIGTERM"). The
processes a step started are ended when its worker is stopped (see
:func:`~tango_tui.core._signals.end_tree`), not when it finishes normally.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from ._model import StepReason, StepState, utc_now
from ._runner import StepRunner
from ._signals import (
    SignalInterrupt,
    adopt_orphans,
    descendants,
    die_with_parent,
    end_tree,
    libc,
    stop_like_interrupt_in_worker,
)
from ._workspace import Workspace

if TYPE_CHECKING:
    import multiprocessing.connection

    from ._executor import _Execution
    from ._step import Step

logger = logging.getLogger(__name__)

_POLL = 0.3  # seconds between looks at worker processes when none reports
_GRACE = 3.0  # seconds stopping workers get to record their interruption before SIGKILL
_CHILD_GRACE = 1.0  # seconds a stopped worker's step processes get between SIGTERM and SIGKILL


def _worker(
    url: str,
    run_name: str,
    step: Step,
    conn: multiprocessing.connection.Connection,
    parent_pid: int,
) -> None:
    """A worker process: reopen the workspace, compute one step, report what ran and how.

    It dies with the parent (SIGKILL from the kernel), and a SIGTERM/SIGHUP (from the parent
    stopping it, or anyone else) interrupts the step, which is recorded FAILED with
    "interrupted by SIGTERM" and reported like any failure.
    """
    die_with_parent(parent_pid)
    stop_like_interrupt_in_worker()
    adopt_orphans()
    runner = StepRunner(Workspace.from_url(url), run_name)
    try:
        try:
            runner.result(step)
            conn.send((runner.started, runner.failed, None))
        except (Exception, SignalInterrupt) as e:  # noqa: BLE001 -- reported to the parent
            if isinstance(e, SignalInterrupt):  # stopped: so are the processes the step started
                end_tree(descendants(os.getpid()), _CHILD_GRACE)
            conn.send((runner.started, runner.failed, f"{type(e).__name__}: {e}"))
    finally:
        conn.close()


class Parallel:
    """Runs tasks in up to ``parallelism`` forked worker processes."""

    def __init__(self, ex: _Execution):
        import multiprocessing  # only here: importing the library stays light for the dashboard

        self.ex = ex
        self.ctx = multiprocessing.get_context("fork")
        if sys.platform.startswith("linux"):
            with contextlib.suppress(OSError):
                libc()  # loaded once here, not in every forked worker (die_with_parent)

        self.running: dict[str, tuple[Any, Any]] = {}  # uid -> (process, connection)

    def go(self) -> None:
        ex = self.ex
        pending = list(ex.tasks)
        try:
            while pending or self.running:
                for uid in list(pending):
                    root = ex._blocker(uid)
                    if root is not None:
                        pending.remove(uid)
                        if not ex._cached_now(uid):
                            ex._block(uid, root)
                    elif all(ex.outcome.get(d) == "ok" for d in ex.task_deps[uid]):
                        if ex._cached_now(uid):
                            pending.remove(uid)
                        elif len(self.running) < ex.parallelism:
                            pending.remove(uid)
                            self._launch(uid)
                if self.running:
                    self._collect()
                elif pending:
                    raise RuntimeError(f"no step can start: {pending}")  # a cycle; cannot happen
        finally:
            self._stop_all()

    def _launch(self, uid: str) -> None:
        ex = self.ex
        reader, writer = self.ctx.Pipe(duplex=False)
        proc = self.ctx.Process(
            target=_worker,
            args=(ex.ws.url, ex.run.name, ex.steps[uid], writer, os.getpid()),
            name=f"tango-tui step {uid}",
        )
        proc.start()
        writer.close()
        self.running[uid] = (proc, reader)
        with ex.recorder.lock:
            row = ex.run.plan[uid]
            row.state, row.reason, row.start_time = StepState.RUNNING, StepReason.RAN, utc_now()
            ex.recorder.changed()
        logger.info("Step %r started in worker process %d", ex.steps[uid].name, proc.pid)

    def _collect(self) -> None:
        import multiprocessing.connection

        waitables = [c for _, c in self.running.values()] + [
            p.sentinel for p, _ in self.running.values()
        ]
        ready = set(multiprocessing.connection.wait(waitables, timeout=_POLL))
        for uid, (proc, conn) in list(self.running.items()):
            if conn not in ready and proc.sentinel not in ready:
                continue
            message = None
            try:
                if conn.poll():
                    message = conn.recv()
            except (EOFError, OSError):
                message = None
            if message is None and proc.is_alive():
                continue  # EOF seen before the exit; the sentinel comes next
            proc.join()
            conn.close()
            del self.running[uid]
            if message is None:
                error = f"worker process died (exit code {proc.exitcode})"
                self.ex._after(uid, [uid], uid, error)
                self.ex._mark(
                    uid,
                    StepReason.RAN,
                    error=self.ex.run.plan[uid].error or error,
                    state=None
                    if self.ex.run.plan[uid].state is StepState.CRASHED
                    else StepState.FAILED,
                )
            else:
                started, failed, error = message
                self.ex._after(uid, started, failed, error)

    def _stop_all(self) -> None:
        """Stop the workers still running: SIGTERM (each records its step FAILED, interrupted,
        and ends the processes its step started), then SIGKILL for any still there after
        ``_GRACE`` seconds (its step reads CRASHED), and for the processes its step started."""
        for proc, conn in self.running.values():
            if proc.is_alive():
                proc.terminate()
        deadline = time.monotonic() + _GRACE
        for uid, (proc, conn) in list(self.running.items()):
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                logger.warning("worker %d of step %s ignored SIGTERM; killing it", proc.pid, uid)
                tree = descendants(proc.pid)  # e.g. it waits in os.system: its processes too
                proc.kill()
                proc.join()
                end_tree(tree, 0.0)
            conn.close()
        self.running.clear()
