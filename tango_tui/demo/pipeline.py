"""An example pipeline that exercises every part of the dashboard.

Eight steps, run two at a time::

    load_data ──> tokenize ──> train ──> evaluate
    fetch_vocab ─┘
    check_labels (fails with a real traceback) ──> publish (not run: dependency failed)
    summary (uncacheable, depends on evaluate)

The steps log (with ``logging`` and ``print``) a line every so often, so their logs grow over about
a minute (the critical path sleeps about 55 s at speed 1), and report progress for the dashboard's bars. Run the pipeline again into the same
directory and the completed steps come back cached; ``check_labels`` fails again.
"""

from __future__ import annotations

import logging
import os
import random
import sys
import time
from typing import Any

from tango_tui import LocalWorkspace, Step, run_steps

logger = logging.getLogger("tango_tui.demo")

SPEED_ENV = "TANGO_TUI_DEMO_SPEED"
"""Environment variable dividing every sleep of the demo (``50`` runs it in about a second)."""


def speed() -> float:
    """The speed-up factor from :data:`SPEED_ENV` (1 when unset or invalid)."""
    try:
        value = float(os.environ.get(SPEED_ENV, "1"))
    except ValueError:
        return 1.0
    return value if value > 0 else 1.0


def pause(seconds: float) -> None:
    """Sleep ``seconds`` divided by the demo speed."""
    time.sleep(seconds / speed())


class LoadData(Step):
    """Read a (made-up) dataset in shards."""

    VERSION = "001"

    def run(self, n_shards: int = 12) -> list[int]:  # type: ignore[override]
        rows: list[int] = []
        for shard in self.track(range(n_shards), desc="loading shards", unit="shard"):
            pause(1.0)
            rows.extend(range(shard * 100, shard * 100 + 100))
            logger.info("loaded shard %d/%d (%d rows so far)", shard + 1, n_shards, len(rows))
        print(f"dataset ready: {len(rows)} rows")
        return rows


class FetchVocab(Step):
    """Download a vocabulary (runs beside LoadData)."""

    VERSION = "001"

    def run(self, size: int = 64) -> list[str]:  # type: ignore[override]
        words = []
        for i in range(size):
            words.append(f"w{i:03d}")
            if i % 8 == 7:
                pause(1.0)
                logger.info("fetched %d/%d words", i + 1, size)
                self.progress(i + 1, size, desc="fetching", unit="word")
        return words


class Tokenize(Step):
    """Map rows onto the vocabulary."""

    VERSION = "001"

    def run(self, rows: list[int], vocab: list[str]) -> list[str]:  # type: ignore[override]
        out = []
        for i, row in enumerate(rows):
            out.append(vocab[row % len(vocab)])
            if i % 200 == 199:
                pause(0.5)
                self.progress(i + 1, len(rows), desc="tokenizing", unit="row")
                logger.info("tokenized %d rows", i + 1)
        return out


class Train(Step):
    """Train a 'model' for a few epochs, logging the loss."""

    VERSION = "001"

    def run(self, tokens: list[str], epochs: int = 5, seed: int = 1) -> dict[str, Any]:  # type: ignore[override]
        rng = random.Random(seed)
        loss = 2.5
        batches = 8
        for epoch in range(1, epochs + 1):
            for batch in range(batches):
                pause(0.8)
                loss *= 0.93 + rng.random() * 0.04
                self.progress(
                    (epoch - 1) * batches + batch + 1,
                    epochs * batches,
                    desc="training",
                    unit="batch",
                )
            logger.info("epoch %d/%d: loss %.4f", epoch, epochs, loss)
            if epoch == 3:
                logger.warning("learning rate looks high at epoch %d; carrying on", epoch)
        return {"loss": round(loss, 4), "epochs": epochs, "vocab": len(set(tokens))}


class Evaluate(Step):
    """Score the model."""

    VERSION = "001"

    def run(self, model: dict[str, Any]) -> dict[str, float]:  # type: ignore[override]
        for i in self.track(range(6), desc="evaluating", unit="split"):
            pause(0.8)
            logger.info("evaluated split %d", i + 1)
        return {"accuracy": round(1.0 - model["loss"] / 4, 3)}


class CheckLabels(Step):
    """Validate the label file; fails on purpose, so the dashboard has a traceback to show."""

    VERSION = "001"

    def run(self, rows: list[int]) -> int:  # type: ignore[override]
        labels = {row: ("pos" if row % 3 else "neg") for row in rows[:50]}
        for i in range(4):
            pause(1.0)
            logger.info("checked %d labels", (i + 1) * 10)
        return _count_label(labels, "neutral")


def _count_label(labels: dict[int, str], wanted: str) -> int:
    counts: dict[str, int] = {}
    for label in labels.values():
        counts[label] = counts.get(label, 0) + 1
    logger.error("about to look up label %r", wanted)
    return counts[wanted]  # KeyError: the demo's deliberate failure


class Publish(Step):
    """Publish the checked labels (never runs: CheckLabels fails)."""

    VERSION = "001"

    def run(self, n: int) -> str:  # type: ignore[override]
        return f"published {n}"


class Summary(Step):
    """Print a summary; uncacheable, so it runs every time."""

    CACHEABLE = False
    DETERMINISTIC = False

    def run(self, metrics: dict[str, float]) -> str:  # type: ignore[override]
        pause(0.3)
        text = f"accuracy {metrics['accuracy']:.3f}"
        print(text)
        return text


def build() -> dict[str, Step]:
    """The demo's target steps by name."""
    rows = LoadData(step_name="load_data")
    vocab = FetchVocab(step_name="fetch_vocab")
    tokens = Tokenize(rows=rows, vocab=vocab, step_name="tokenize")
    model = Train(tokens=tokens, step_name="train")
    metrics = Evaluate(model=model, step_name="evaluate")
    checked = CheckLabels(rows=rows, step_name="check_labels")
    return {
        "evaluate": metrics,
        "publish": Publish(n=checked, step_name="publish"),
        "summary": Summary(metrics=metrics, step_name="summary"),
    }


def run_demo(directory: str | os.PathLike[str], *, parallelism: int = 2) -> Any:
    """Run the demo pipeline into ``directory`` and return the final Run."""
    workspace = LocalWorkspace(directory)
    return run_steps(workspace, build(), parallelism=parallelism)


def main(argv: list[str]) -> int:
    """``python -m tango_tui.demo DIR``: run the pipeline; 0 if it ran to its (expected) end."""
    if len(argv) != 1:
        print("usage: python -m tango_tui.demo DIR", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    run = run_demo(argv[0])
    print(f"demo run {run.name}: {run.status.value}")
    return 0
