"""Rate-limited writes of a run's record while its executor works.

A monitor watches the run record, so every rewrite costs it a read: :class:`RunRecorder` writes at
most once per ``interval`` (0.3 s) from a background thread, and only when something changed.
Changes made between two writes are never lost: the next write carries them, and the executor
makes a final write itself.
"""

from __future__ import annotations

import logging
import threading

from ._model import Run
from ._workspace import Workspace

logger = logging.getLogger(__name__)

INTERVAL = 0.3
"""Least seconds between two rewrites of a run record while the run executes."""


class RunRecorder:
    """Writes ``run`` through ``workspace.update_run`` when it changed, at most every ``interval``.

    Mutate the run only while holding :attr:`lock`, then call :meth:`changed`.
    """

    def __init__(self, workspace: Workspace, run: Run, interval: float = INTERVAL):
        self.workspace = workspace
        self.run = run
        self.interval = interval
        self.lock = threading.RLock()
        self.writes = 0
        """How many times the record was written (for tests and benchmarks)."""
        self._dirty = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def changed(self) -> None:
        """Note that the run changed; the background thread writes it within ``interval``."""
        with self.lock:
            self._dirty = True

    def flush(self) -> None:
        """Write the run now (raises what ``update_run`` raises)."""
        with self.lock:
            self._dirty = False
            self.workspace.update_run(self.run)
            self.writes += 1

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            with self.lock:
                if not self._dirty:
                    continue
                try:
                    self.flush()
                except Exception as e:  # noqa: BLE001 -- keep running; the final write will report for real
                    logger.warning("could not update the record of run %r: %s", self.run.name, e)

    def start(self) -> None:
        """Start the background writer."""
        self._thread = threading.Thread(
            target=self._loop, name=f"run-recorder {self.run.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the background writer (it makes no further writes)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
