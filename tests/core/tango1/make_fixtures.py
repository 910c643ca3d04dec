"""Regenerate the extra Tango 1.x fixtures in ``fixtures/`` with a real ai2-tango (not a test).

Needs ai2-tango 1.3.2 in a separate virtualenv (never in the project's)::

    python -m venv /tmp/tango-venv && /tmp/tango-venv/bin/pip install ai2-tango==1.3.2
    /tmp/tango-venv/bin/python tests/core/tango1/make_fixtures.py

Makes:

* ``tango-1.3.2-multicore.tar.gz``: ``tango run -j 2`` of a four-step pipeline (two parallel
  steps, one combining them, one failing), so ``out.log`` carries the multicore executor's
  ``[step NAME]`` prefixes.
* ``tango-v1-layout.tar.gz``: the version-1 layout (no ``settings.json``, no sqlite; a
  ``stepinfo.dill`` per cache directory, without the ``cacheable`` field that version 1 lacked),
  made from the multicore workspace's records with dill, as Tango 0.x wrote them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent / "fixtures"

STEPS = textwrap.dedent(
    """
    import time
    from tango import Step

    @Step.register("mc_emit")
    class Emit(Step):
        DETERMINISTIC = True
        def run(self, n: int, tag: str) -> list:
            for i in range(n):
                self.logger.info("tick %d of %s", i, tag)
                time.sleep(0.2)
            return list(range(n))

    @Step.register("mc_combine")
    class Combine(Step):
        DETERMINISTIC = True
        def run(self, a: list, b: list) -> int:
            self.logger.info("combining %d and %d", len(a), len(b))
            return sum(a) + sum(b)

    @Step.register("mc_explode")
    class Explode(Step):
        DETERMINISTIC = True
        def run(self, x: int) -> int:
            self.logger.warning("about to explode with %d", x)
            raise RuntimeError(f"exploded {x}")
    """
)

CONFIG = textwrap.dedent(
    """
    {
      steps: {
        left: {type: "mc_emit", n: 4, tag: "left"},
        right: {type: "mc_emit", n: 4, tag: "right"},
        both: {type: "mc_combine", a: {type: "ref", ref: "left"}, b: {type: "ref", ref: "right"}},
        boom: {type: "mc_explode", x: {type: "ref", ref: "both"}},
      }
    }
    """
)

TO_V1 = textwrap.dedent(
    """
    import sys, dill
    from pathlib import Path
    from sqlitedict import SqliteDict
    ws = Path(sys.argv[1])
    with SqliteDict(str(ws / "stepinfo.sqlite"), flag="r") as d:
        infos = list(d.values())
    for info in infos:
        if not info.cacheable:
            continue  # version 1 recorded cacheable steps only
        del info.__dict__["cacheable"]
        step_dir = ws / "cache" / info.unique_id
        step_dir.mkdir(parents=True, exist_ok=True)
        with open(step_dir / "stepinfo.dill", "wb") as f:
            dill.dump(info, f)
    """
)


def _tar(src: Path, dest: Path) -> None:
    with tarfile.open(dest, "w:gz") as tar:
        tar.add(src, arcname="ws")


def main() -> None:
    venv_bin = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "mcsteps.py").write_text(STEPS)
        (work / "config.jsonnet").write_text(CONFIG)
        env = dict(os.environ, PATH=f"{venv_bin}:{os.environ['PATH']}", PYTHONPATH=str(work))
        subprocess.run(
            [
                "tango",
                "--log-level",
                "info",
                "run",
                "config.jsonnet",
                "-w",
                str(work / "ws"),
                "-i",
                "mcsteps",
                "-j",
                "2",
                "-n",
                "multi-run",
            ],
            cwd=work,
            env=env,
            check=False,
        )
        _tar(work / "ws", HERE / "tango-1.3.2-multicore.tar.gz")
        v1 = work / "v1"
        shutil.copytree(work / "ws", v1 / "ws", symlinks=True)
        subprocess.run([sys.executable, "-c", TO_V1, str(v1 / "ws")], check=True, env=env)
        (v1 / "ws" / "stepinfo.sqlite").unlink()
        (v1 / "ws" / "settings.json").unlink()
        _tar(v1 / "ws", HERE / "tango-v1-layout.tar.gz")


if __name__ == "__main__":
    main()
