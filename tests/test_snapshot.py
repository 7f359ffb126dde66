"""Read snapshots are published by writing what changed: the spare (the snapshot before) is
brought up to date block by block, and never while a reader still holds it."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb

from storage.snapshot import _spare_path, _sync_blocks, publish_snapshot, snapshot_path
from storage.store import open_store


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _grow(path: Path, rows: int, start: int) -> None:
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE IF NOT EXISTS t (id BIGINT, body VARCHAR)")
    con.execute("INSERT INTO t SELECT i, md5(i::VARCHAR) || repeat('x', 200) FROM range(?, ?) r(i)", [start, start + rows])
    con.execute("CHECKPOINT")
    con.close()


def test_sync_blocks_copies_only_what_changed_and_ends_byte_identical(tmp_path: Path):
    src, dst = tmp_path / "store.duckdb", tmp_path / "older.duckdb"
    _grow(src, 400_000, 0)
    shutil.copyfile(src, dst)
    _grow(src, 4_000, 400_000)  # a batch of 1% on a large store
    written = _sync_blocks(src, dst)
    assert _digest(dst) == _digest(src)
    assert written is not None and written < src.stat().st_size / 10
    # rows changed in place, and a store that shrank back: still byte-identical
    con = duckdb.connect(str(src))
    con.execute("UPDATE t SET body = 'changed' WHERE id % 1000 = 7")
    con.execute("DELETE FROM t WHERE id > 300000")
    con.execute("CHECKPOINT")
    con.close()
    _sync_blocks(src, dst)
    assert _digest(dst) == _digest(src)


def test_sync_blocks_declines_a_file_it_does_not_understand(tmp_path: Path):
    src, dst = tmp_path / "notes.duckdb", tmp_path / "older"
    src.write_bytes(b"not a database" * 1000)
    dst.write_bytes(b"")
    assert _sync_blocks(src, dst) is None


def test_publishes_keep_the_snapshot_identical_to_the_store(tmp_path: Path):
    db = tmp_path / "news.duckdb"
    con = open_store(db)
    try:
        for n in range(3):
            con.execute(
                "INSERT INTO ingest_runs (run_id, started_at, status) VALUES (?, now(), 'ok')", [f"run-{n}"]
            )
            publish_snapshot(con, db)
            assert _digest(snapshot_path(db)) == _digest(db)
        assert _spare_path(snapshot_path(db)).exists()
    finally:
        con.close()
    check = duckdb.connect(str(snapshot_path(db)), read_only=True)
    assert check.execute("SELECT count(*) FROM ingest_runs").fetchone()[0] == 3
    check.close()


def test_a_spare_held_open_by_a_reader_is_not_written_to(tmp_path: Path):
    db = tmp_path / "news.duckdb"
    con = open_store(db)
    con.execute("INSERT INTO ingest_runs (run_id, started_at, status) VALUES ('first', now(), 'ok')")
    publish_snapshot(con, db)
    # an analyst opens the snapshot and keeps it open across the next two publishes, so the
    # file they hold becomes the spare
    reader = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, sys
            c = duckdb.connect({str(snapshot_path(db))!r}, read_only=True)
            for line in sys.stdin:
                print(c.execute("SELECT string_agg(run_id, ',' ORDER BY run_id) FROM ingest_runs").fetchone()[0], flush=True)
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        reader.stdin.write("\n"); reader.stdin.flush()
        assert reader.stdout.readline().strip() == "first"
        held = _digest(snapshot_path(db))
        held_inode = snapshot_path(db).stat().st_ino
        for run in ("second", "third"):
            con.execute("INSERT INTO ingest_runs (run_id, started_at, status) VALUES (?, now(), 'ok')", [run])
            publish_snapshot(con, db)
        reader.stdin.write("\n"); reader.stdin.flush()
        assert reader.stdout.readline().strip() == "first"  # its consistent, older view
        assert _digest(snapshot_path(db)) == _digest(db)
        # the file the reader holds (the spare at the third publish) was not written to
        [held_fd] = [fd for fd in Path(f"/proc/{reader.pid}/fd").iterdir() if fd.stat().st_ino == held_inode]
        assert _digest(held_fd) == held
        assert _spare_path(snapshot_path(db)).stat().st_ino != held_inode
    finally:
        reader.stdin.close()
        reader.wait(timeout=30)
        con.close()
    fresh = duckdb.connect(str(snapshot_path(db)), read_only=True)
    assert fresh.execute("SELECT count(*) FROM ingest_runs").fetchone()[0] == 3
    fresh.close()
