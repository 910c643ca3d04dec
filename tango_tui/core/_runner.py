"""Computing a step's result in a workspace so that each body runs once, across processes.

:class:`StepRunner` is what ``Step.result()`` and the executor use. For one step it loops:

1. a step RUNNING elsewhere (another process, or another thread here) is waited for, polling its
   state with a backoff from 10 ms up to 0.2 s, even when its result is already published (its
   COMPLETED record comes right after);
2. a COMPLETED step's cached result is returned as it is;
3. a result in the cache without a COMPLETED record (the attempt that stored it was killed before
   recording, or its record write failed) is adopted: the step is claimed and finished with that
   result, without running the body again;
4. otherwise (INCOMPLETE, FAILED, CRASHED, UNCACHEABLE) the dependencies' results are obtained
   first (the same way), then ``step_starting`` claims the step. If another process claimed it in
   between, ``step_starting`` raises :class:`StepStateError` and the loop goes back to waiting.
   The body runs inside ``workspace.step_log_context`` and ends in ``step_finished`` or
   ``step_failed``, once what it wrote to fds 1/2 is in its log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ._capture import drain_output
from ._errors import RecordError, StepStateError
from ._hashing import replace_steps
from ._model import StepState

if TYPE_CHECKING:
    from ._step import Step
    from ._workspace import Workspace

logger = logging.getLogger(__name__)

POLL_MIN = 0.01
"""First wait (seconds) between two looks at a step another process is running."""
POLL_MAX = 0.2
"""Longest wait between two looks."""

_LOST = object()  # step_starting refused: someone else got there first


class StepRunner:
    """Obtains step results from one workspace, executing bodies only when needed.

    Args:
        workspace: The workspace.
        run_name: The run the executions belong to (passed to ``step_log_context``).
        on_start: Called with a step right after this runner claimed it (``step_starting``).

    Attributes:
        started: Unique ids of the steps whose body this runner started, in order.
        failed: Unique id of the step whose body (or result storage) raised, if one did.
    """

    def __init__(
        self,
        workspace: Workspace,
        run_name: str | None = None,
        *,
        on_start: Callable[[Step], None] | None = None,
    ):
        self.workspace = workspace
        self.run_name = run_name
        self.on_start = on_start
        self.started: list[str] = []
        self.failed: str | None = None
        # Results of uncacheable steps computed here: a diamond over one computes it once.
        self._memo: dict[str, Any] = {}

    def result(self, step: Step) -> Any:
        """The result of ``step`` (see the module docstring).

        Raises:
            Exception: Whatever the step's (or a dependency's) body raised.
            StepStateError: The step is recorded COMPLETED but its result is not in the cache.
        """
        uid = step.unique_id
        if uid in self._memo:
            return self._memo[uid]
        ws = self.workspace
        delay = POLL_MIN
        while True:
            state = ws.step_info(step).state
            if state is not StepState.RUNNING:
                found, value = self._cached(step, strict=state is StepState.COMPLETED)
                if state is StepState.COMPLETED and step.cache_results:
                    if found:
                        return value
                    raise StepStateError(
                        step,
                        state,
                        "it is recorded as completed but its result is not in the cache",
                    )
                # A whole result without a COMPLETED record: the attempt that stored it ended
                # (killed, or its record write failed) before saying so. Adopt it, not rerun.
                value = self._adopt(step, value) if found else self._execute(step)
                if value is not _LOST:
                    return value
            # RUNNING elsewhere (even if its result is already published, its record is not yet
            # COMPLETED): wait for it.
            time.sleep(delay)
            delay = min(delay * 2, POLL_MAX)

    def _adopt(self, step: Step, value: Any) -> Any:
        ws = self.workspace
        try:
            ws.step_starting(step)
        except StepStateError:
            return _LOST
        logger.info(
            "Step %r (%s): completing the record of a result stored by an earlier attempt",
            step.name,
            step.unique_id,
        )
        return ws.step_finished(step, value)

    def _cached(self, step: Step, *, strict: bool) -> tuple[bool, Any]:
        """``(True, result)`` if the cache holds a usable result of ``step``, else ``(False, None)``.

        A damaged result (RecordError: checksum mismatch, file missing behind its marker) is
        raised when ``strict`` (the record says COMPLETED: the user must hear of it); otherwise it
        was never vouched for by a COMPLETED record (e.g. a power cut lost a rename), so the step
        simply runs again and replaces it.
        """
        if not step.cache_results:
            return False, None
        cache = self.workspace.step_cache
        if step not in cache:
            return False, None
        try:
            return True, cache[step]
        except KeyError:  # removed between the two calls
            return False, None
        except RecordError as e:
            if strict:
                raise
            logger.warning(
                "step %s: ignoring a damaged result no completed record vouches for: %s",
                step.unique_id,
                e,
            )
            return False, None

    def _execute(self, step: Step) -> Any:
        ws = self.workspace
        uid = step.unique_id
        kwargs = replace_steps(step.kwargs, self.result)
        with ws.step_log_context(step, self.run_name):
            try:
                ws.step_starting(step)
            except StepStateError as e:
                logger.debug("step %s was claimed elsewhere (%s); waiting for it", uid, e)
                return _LOST
            self.started.append(uid)
            if self.on_start is not None:
                self.on_start(step)
            step._begin(ws)
            try:
                logger.info("Starting step %r (%s)", step.name, uid)
                value = step.run(**kwargs)
                if step.cache_results and isinstance(value, Iterator):
                    # Consumed here so that an error inside the generator fails the step.
                    value = iter(list(value))
                step._flush_progress()
            except BaseException as e:
                self.failed = self.failed or uid
                logger.exception("Step %r (%s) failed", step.name, uid)
                ws.step_failed(step, e)
                raise
            finally:
                step._end()
            drain_output()  # what the body wrote to fds 1/2 is in its log before it is COMPLETED
            try:
                value = ws.step_finished(step, value)
            except BaseException:
                self.failed = self.failed or uid
                raise
            logger.info("Finished step %r (%s)", step.name, uid)
        if not step.cache_results:
            self._memo[uid] = value
        return value
