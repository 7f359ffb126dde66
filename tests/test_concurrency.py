"""Writers take turns, readers never wait: the file lock, the published snapshot, real processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from storage.locking import WriterBusy, lock_path, writer_lock
from storage.snapshot import snapshot_path

ROOT = Path(__file__).resolve().parent.parent
NEWSDEDUP = str(Path(sys.executable).with_name("newsdedup"))


def _hold(script: str) -> subprocess.Popen:
    """Run `script` in a child that prints READY once it holds what it takes, then waits for stdin."""
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], cwd=str(ROOT),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "READY"
    return proc


def _release(proc: subprocess.Popen) -> None:
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0


def test_second_writer_waits_for_the_lock_then_times_out_naming_the_holder(tmp_path: Path):
    db = tmp_path / "news.duckdb"
    holder = _hold(f"""
        import sys
        from storage.locking import writer_lock
        with writer_lock({str(db)!r}, what="test holder"):
            print("READY", flush=True)
            sys.stdin.read()
    """)
    try:
        started = time.monotonic()
        with pytest.raises(WriterBusy, match="test holder") as caught:
            with writer_lock(db, timeout=0.5):
                pass
        assert 0.5 <= time.monotonic() - started < 5
        assert str(lock_path(db)) in str(caught.value)
    finally:
        _release(holder)
    with writer_lock(db, timeout=0):  # released with its holder
        pass


def test_lock_is_released_when_its_holder_is_killed(tmp_path: Path):
    db = tmp_path / "news.duckdb"
    holder = _hold(f"""
        import sys
        from storage.locking import writer_lock
        with writer_lock({str(db)!r}):
            print("READY", flush=True)
            sys.stdin.read()
    """)
    holder.kill()
    holder.wait(timeout=30)
    with writer_lock(db, timeout=5):
        pass


def test_sql_answers_from_the_snapshot_while_a_writer_holds_the_store(dump_dir: Path, tmp_path: Path):
    db = tmp_path / "news.duckdb"
    assert subprocess.run([NEWSDEDUP, "ingest", str(dump_dir), "--db", str(db), "-q"], capture_output=True).returncode == 3
    assert snapshot_path(db).exists()
    # a writer (a run in progress) holds the main file read-write
    writer = _hold(f"""
        import sys
        from storage.store import open_store
        con = open_store({str(db)!r})
        print("READY", flush=True)
        sys.stdin.read()
    """)
    try:
        started = time.monotonic()
        result = subprocess.run([NEWSDEDUP, "sql", "SELECT count(*) AS n FROM articles", "--db", str(db), "-f", "csv"],
                                capture_output=True, text=True, timeout=60)
        waited = time.monotonic() - started
    finally:
        _release(writer)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["n", "4"]
    assert waited < 5


def test_a_reader_holding_the_snapshot_open_does_not_block_ingest(dump_dir: Path, tmp_path: Path, seed_bytes: bytes):
    db = tmp_path / "news.duckdb"
    assert subprocess.run([NEWSDEDUP, "ingest", str(dump_dir), "--db", str(db), "-q"], capture_output=True).returncode == 3
    # an analyst's session left open on the snapshot (what the README tells them to open)
    analyst = duckdb.connect(str(snapshot_path(db)), read_only=True)
    try:
        assert analyst.execute("SELECT count(*) FROM articles").fetchone()[0] == 4
        more = tmp_path / "more" / "later"
        more.mkdir(parents=True)
        (more / "new.txt").write_bytes(b"Harbour strike ends\n\n" + b"Dockers voted to return to work on Monday. " * 40)
        result = subprocess.run([NEWSDEDUP, "ingest", str(more.parent), "--db", str(db), "-q"], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        # the open session keeps its consistent view; a new one sees the new publish
        assert analyst.execute("SELECT count(*) FROM articles").fetchone()[0] == 4
    finally:
        analyst.close()
    fresh = duckdb.connect(str(snapshot_path(db)), read_only=True)
    try:
        assert fresh.execute("SELECT count(*) FROM articles").fetchone()[0] == 5
    finally:
        fresh.close()


def test_a_copy_left_by_a_writer_killed_mid_publish_is_cleaned_up(dump_dir: Path, tmp_path: Path):
    from flows.pipeline import IngestSettings, ingest

    db = tmp_path / "news.duckdb"
    snap = snapshot_path(db)
    stale = snap.with_name(f".{snap.name}.999999.tmp")  # what SIGKILL before os.replace leaves
    stale.write_bytes(b"half a copy")
    ingest([str(dump_dir)], IngestSettings(db_path=db, workers=0))
    assert snap.exists() and not stale.exists()
    assert not list(tmp_path.glob(".*.tmp"))
