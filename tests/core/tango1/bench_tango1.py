"""Figures for the Tango 1.x reader on a 1,000-step workspace (prints, asserts nothing).

    .venv/bin/python tests/core/tango1/bench_tango1.py

The records are copies of a real ai2-tango 1.3.2 record from the fixture with new unique ids.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from tango1_support import FIXTURE

from tango_tui.core.tango1 import TangoWorkspace

TEMPLATE = "MakeNumbers-001-3abQKdmuz8qPqH54XjGqYWcULE8hEVxq"
N = 1000


def _timed(label: str, fn, repeat: int = 1):
    start = time.perf_counter()
    for _ in range(repeat):
        value = fn()
    ms = (time.perf_counter() - start) * 1000 / repeat
    print(f"{label:<48} {ms:9.2f} ms")
    return value


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(FIXTURE) as tar:
            tar.extractall(tmp, filter="tar")
        ws_dir = Path(tmp) / "ws"
        db = sqlite3.connect(ws_dir / "stepinfo.sqlite")
        (blob,) = db.execute("SELECT value FROM unnamed WHERE key = ?", (TEMPLATE,)).fetchone()
        uids = [f"MakeNumbers-001-{i:032d}" for i in range(N)]
        with db:
            db.executemany(
                "INSERT INTO unnamed VALUES (?, ?)",
                [(u, blob.replace(TEMPLATE.encode(), u.encode())) for u in uids],
            )
        run_dir = ws_dir / "runs" / "big-run"
        run_dir.mkdir()
        (run_dir / "stepinfo.json").write_text(json.dumps({f"s{i}": u for i, u in enumerate(uids)}))
        ws = TangoWorkspace(ws_dir)
        print(f"{N + 13} records, one run of {N} steps")
        _timed("first refresh (read + decode every row)", ws.refresh)
        _timed("refresh, nothing changed", ws.refresh, repeat=200)
        with db:
            db.execute(
                "UPDATE unnamed SET value = ? WHERE key = ?",
                (blob.replace(TEMPLATE.encode(), uids[7].encode()).replace(b"vm", b"xx"), uids[7]),
            )
        changed = _timed("refresh after one row changed", ws.refresh)
        assert changed == {uids[7]}, changed
        _timed("registered_run('big-run')", lambda: ws.registered_run("big-run"), repeat=5)
        _timed("registered_runs() (6 runs)", ws.registered_runs, repeat=5)
        _timed("all_step_infos()", ws.all_step_infos, repeat=5)
        db.close()


if __name__ == "__main__":
    main()
