"""The sqlite reader: read-only, short transactions, retries, incremental decoding, hot journals."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from tango1_support import wait_line

from tango_tui.core.tango1 import StepInfoTable, TangoWorkspace


def _rewrite_row(db_path: Path, key: str, transform) -> None:
    db = sqlite3.connect(db_path)
    with db:
        (blob,) = db.execute("SELECT value FROM unnamed WHERE key = ?", (key,)).fetchone()
        db.execute("UPDATE unnamed SET value = ? WHERE key = ?", (transform(blob), key))
    db.close()


def test_unchanged_database_is_not_read_again(tango_ws: Path) -> None:
    table = StepInfoTable(tango_ws / "stepinfo.sqlite")
    first = table.refresh()
    assert len(first.rows) == 13 and len(first.changed) == 13 and table.reads == 1
    for _ in range(5):
        assert table.refresh().changed == set()
    assert table.reads == 1


def test_only_the_changed_row_is_decoded(tango_ws: Path) -> None:
    ws = TangoWorkspace(tango_ws)
    assert ws.refresh()  # first read: everything
    before = {uid: id(ws.table.snapshot.rows[uid]) for uid in ws.table.snapshot.rows}
    key = "AfterFail-3m2MaBpqrCbHQpvPYQrU5pgKXLGdDZK1"
    # Make the step "failed" by rewriting its pickle the way Tango would (name a new step name).
    _rewrite_row(
        tango_ws / "stepinfo.sqlite", key, lambda b: b.replace(b"after_broken", b"after_brokeX")
    )
    assert ws.refresh() == {key}
    after = {uid: id(ws.table.snapshot.rows[uid]) for uid in ws.table.snapshot.rows}
    assert [u for u in before if before[u] != after[u]] == [key]
    assert ws.step_info(key).step_name == "after_brokeX"
    db = sqlite3.connect(tango_ws / "stepinfo.sqlite")
    with db:
        db.execute("DELETE FROM unnamed WHERE key = ?", (key,))
    db.close()
    assert ws.refresh() == {key}
    assert key not in ws.all_step_infos()


HOLD_WRITE = textwrap.dedent(
    """
    import sqlite3, sys
    db = sqlite3.connect(sys.argv[1], isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    db.execute("INSERT INTO unnamed VALUES ('Late-1', x'00')")
    print("holding", flush=True)
    sys.stdin.readline()
    db.execute("ROLLBACK" if sys.argv[2] == "rollback" else "COMMIT")
    print("done", flush=True)
    sys.stdin.read()
    """
)


def test_busy_database_keeps_the_last_good_snapshot(tango_ws: Path) -> None:
    db_path = tango_ws / "stepinfo.sqlite"
    table = StepInfoTable(db_path, busy_deadline=0.2)
    assert len(table.refresh().rows) == 13
    _rewrite_row(
        db_path, "AfterFail-3m2MaBpqrCbHQpvPYQrU5pgKXLGdDZK1", lambda b: b
    )  # touch: new signature
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_WRITE, str(db_path), "commit"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        wait_line(proc, "holding")
        snap = table.refresh()
        assert len(snap.rows) == 13  # the last good read, not an empty table
        assert any("busy" in p.message for p in snap.problems)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        wait_line(proc, "done")
        snap = table.refresh()
        assert "Late-1" in snap.changed and not any("busy" in p.message for p in snap.problems)
        assert {p.key for p in snap.problems} == {"Late-1"}  # x'00' is not a pickle
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
        proc.stdout.close()


WRITER = textwrap.dedent(
    """
    import os, pickle, sqlite3, sys, time
    # Tango's sqlitedict: a new connection, 5 s busy timeout, one commit per record.
    worst = 0.0
    for i in range(int(sys.argv[2])):
        t = time.monotonic()
        db = sqlite3.connect(sys.argv[1], timeout=5)
        db.execute("PRAGMA synchronous=OFF")  # same locking, no fsync wait: keeps the test quick
        with db:
            db.execute("INSERT OR REPLACE INTO unnamed VALUES (?, ?)", (f"W-{i % 50}", pickle.dumps({"i": i})))
        db.close()
        worst = max(worst, time.monotonic() - t)
    print(f"{worst:.4f}", flush=True)
    """
)


def test_reader_never_blocks_tangos_writer(tango_ws: Path) -> None:
    db_path = tango_ws / "stepinfo.sqlite"
    table = StepInfoTable(db_path)
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db_path), "200"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    reads = 0
    try:
        while proc.poll() is None:
            table.refresh()
            reads += 1
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err  # "database is locked" would have failed a commit
    worst_commit = float(out.strip())
    # A figure, not an assertion on time: the proof is that no commit failed.
    print(
        f"\n[tango1] {reads} refreshes ({table.reads} real reads) during 200 commits; "
        f"slowest writer commit {worst_commit * 1000:.1f} ms"
    )
    assert table.reads > 1
    snap = table.refresh()
    assert {f"W-{i}" for i in range(50)} <= set(snap.rows)
    assert snap.rows["W-49"] == {"i": 199}


KILL_MID_WRITE = textwrap.dedent(
    """
    import os, sqlite3, sys
    db = sqlite3.connect(sys.argv[1], isolation_level=None)
    db.execute("PRAGMA cache_size=1")  # spill pages so the journal holds the originals
    db.execute("BEGIN IMMEDIATE")
    for i in range(200):
        db.execute("INSERT OR REPLACE INTO unnamed VALUES (?, ?)", (f"Hot-{i}", os.urandom(2000)))
    os.kill(os.getpid(), 9)
    """
)


def test_hot_journal_is_reported_not_fixed(tango_ws: Path) -> None:
    db_path = tango_ws / "stepinfo.sqlite"
    table = StepInfoTable(db_path)
    assert len(table.refresh().rows) == 13
    subprocess.run([sys.executable, "-c", KILL_MID_WRITE, str(db_path)], check=False)
    journal = Path(f"{db_path}-journal")
    assert journal.stat().st_size > 0
    digests = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (db_path, journal)}
    snap = table.refresh()
    assert len(snap.rows) == 13  # the last good snapshot stays
    assert any("hot journal" in p.message for p in snap.problems)
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (db_path, journal)} == digests
    # A reader that never saw the database says so too, and does not invent rows.
    fresh = TangoWorkspace(tango_ws)
    assert fresh.all_step_infos() == {}
    assert any("hot journal" in p.message for p in fresh.problems)


def test_changes_seen_by_other_reads_still_reach_refresh(tango_ws: Path) -> None:
    ws = TangoWorkspace(tango_ws)
    assert len(ws.refresh()) == 13
    key = "AfterFail-3m2MaBpqrCbHQpvPYQrU5pgKXLGdDZK1"
    _rewrite_row(
        tango_ws / "stepinfo.sqlite", key, lambda b: b.replace(b"after_broken", b"after_brokeY")
    )
    assert ws.step_info(key).step_name == "after_brokeY"  # this read already saw the change...
    assert ws.refresh() == {key}  # ...and the poller still hears of it
    assert ws.refresh() == set()
    assert ws.runs_using({key}) == {"helped-clam", "killed-run", "api-run", "simple-poodle"}
    assert ws.runs_using({"SlowStep-4dGt3C98daQizyjcwmKWX7aNkTGjcMp4"}) == {"killed-run"}


def test_reads_from_several_threads(tango_ws: Path) -> None:
    import threading

    ws = TangoWorkspace(tango_ws)
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                ws.registered_runs()
                ws.all_step_infos()
                ws.refresh()
                list(ws.problems)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(30):  # rows appear and change while the readers read
            db = sqlite3.connect(tango_ws / "stepinfo.sqlite")
            with db:
                (blob,) = db.execute(
                    "SELECT value FROM unnamed WHERE key LIKE 'AfterFail%'"
                ).fetchone()
                db.execute("INSERT OR REPLACE INTO unnamed VALUES (?, ?)", (f"AfterFail-{i}", blob))
            db.close()
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert not errors
    assert len(ws.all_step_infos()) == 13 + 30


def test_rows_of_every_sqlite_type_are_problems_not_a_crash(tango_ws: Path) -> None:
    """sqlite keeps each value's own type: a number where a pickle belongs names the row."""
    db = sqlite3.connect(tango_ws / "stepinfo.sqlite")
    with db:
        rows = [("Int-1", 5), ("Real-1", 2.5), ("Text-1", "text"), ("Null-1", None), (7, b"x")]
        db.executemany("INSERT INTO unnamed VALUES (?, ?)", rows)
    db.close()
    ws = TangoWorkspace(tango_ws)
    assert len(ws.all_step_infos()) == 13  # every real record still reads
    problems = {p.key: p.message for p in ws.problems}
    assert set(problems) == {"Int-1", "Real-1", "Text-1", "Null-1", "7"}
    assert "sqlite holds a number (5)" in problems["Int-1"]
    assert "sqlite holds a number (2.5)" in problems["Real-1"]
    assert all(str(tango_ws / "stepinfo.sqlite") == p.path for p in ws.problems)
    # A number changed to another is noticed (its repr is what the change check hashes).
    db = sqlite3.connect(tango_ws / "stepinfo.sqlite")
    with db:
        db.execute("UPDATE unnamed SET value = 6 WHERE key = 'Int-1'")
    db.close()
    assert ws.refresh() >= {"Int-1"}
    assert "sqlite holds a number (6)" in {p.key: p.message for p in ws.problems}["Int-1"]
