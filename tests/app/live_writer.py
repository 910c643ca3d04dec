"""A separate process for the end-to-end test: runs a pipeline whose middle step waits at a gate.

``python live_writer.py WORKSPACE GATE_FILE`` registers run ``live`` with steps ``prepare`` ->
``gate`` (waits until GATE_FILE exists, logging while it waits) -> ``finish``. The test opens the
gate when it has seen what it wants on screen.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from tango_tui import LocalWorkspace, Step, run_steps

logger = logging.getLogger("live_writer")


class Prepare(Step):
    VERSION = "001"

    def run(self, n: int) -> int:  # type: ignore[override]
        logger.info("prepared %d", n)
        return n


class Gate(Step):
    VERSION = "001"

    def run(self, n: int, gate: str) -> int:  # type: ignore[override]
        logger.info("waiting for the gate")
        path = Path(gate)
        while not path.exists():  # the test opens the gate; polling here is the writer's job
            time.sleep(0.02)
        logger.info("gate opened")
        return n + 1


class Finish(Step):
    VERSION = "001"

    def run(self, n: int) -> int:  # type: ignore[override]
        logger.info("finished with %d", n)
        return n * 2


def main(root: str, gate: str) -> int:
    prepare = Prepare(n=3, step_name="prepare")
    waiting = Gate(n=prepare, gate=gate, step_name="gate")
    run_steps(LocalWorkspace(root), {"finish": Finish(n=waiting, step_name="finish")}, name="live")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
