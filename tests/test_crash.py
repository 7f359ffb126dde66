"""A run killed with SIGKILL mid-ingest, then re-run, gives the same database as one clean run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parent.parent
NEWSDEDUP = str(Path(sys.executable).with_name("newsdedup"))

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dumps(tmp_path_factory) -> Path:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from synthetic import generate
    finally:
        sys.path.pop(0)
    out = tmp_path_factory.mktemp("dumps") / "drop"
    generate(out, 1500, seed=7)
    (out / "truth.jsonl").unlink()
    return out


def ingest(dumps: Path, db: Path) -> subprocess.Popen:
    return subprocess.Popen([NEWSDEDUP, "ingest", str(dumps), "--db", str(db), "--batch-size", "150", "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _processes_using(db: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(db).encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def snapshot(db: Path):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            "articles": con.execute("SELECT article_id, seq, cluster_id, is_canonical, text_hash, body FROM articles ORDER BY seq").fetchall(),
            "links": con.execute("SELECT article_id, duplicate_of, kind, similarity FROM duplicate_links ORDER BY 1").fetchall(),
            "removed": con.execute("SELECT article_id, position, line, rule, evidence FROM removed_lines ORDER BY 1, 2").fetchall(),
            "bands": con.execute("SELECT count(*), sum(hash(band_key, article_id)) FROM lsh_bands").fetchall(),
            "boilerplate": con.execute("SELECT source, line_key, n_stories FROM source_boilerplate ORDER BY 1, 2").fetchall(),
        }
    finally:
        con.close()


def test_kill_then_rerun_equals_clean_run(dumps: Path, tmp_path: Path):
    clean_db, killed_db = tmp_path / "clean.duckdb", tmp_path / "killed.duckdb"
    assert ingest(dumps, clean_db).wait(timeout=300) == 0

    proc = ingest(dumps, killed_db)
    wal = killed_db.with_name(killed_db.name + ".wal")
    deadline = time.monotonic() + 120
    # kill once at least one batch is committed (the WAL has grown) but the run is not done
    while time.monotonic() < deadline and proc.poll() is None:
        if wal.exists() and wal.stat().st_size > 1_000_000:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed; make the input bigger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    # its worker processes die with it instead of waiting for work forever
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _processes_using(killed_db):
        time.sleep(0.05)
    assert not _processes_using(killed_db), "worker processes outlived the killed run"

    con = duckdb.connect(str(killed_db), read_only=True)
    partial = con.execute("SELECT count(*) FROM articles").fetchone()[0]
    con.close()
    assert 0 < partial < 1500
    assert partial % 150 == 0, "a killed run left part of a batch behind"
    assert ingest(dumps, killed_db).wait(timeout=300) == 0
    assert snapshot(killed_db) == snapshot(clean_db)


# 20 kills: 14 at named crash points (one through the Prefect flow) and 6 at random times;
# the input is small (400 dumps + fixtures, batches of 50) to keep the test in budget.
# `bench/crash_harness.py --n 3000` runs the full-size version.
TEST_POINTS = (
    "run.after_start",
    "batch_write.after_articles:2",
    "batch_write.after_details:4",
    "batch_write.after_links:3",
    "batch_write.before_commit:5",
    "batch_write.after_commit:3",
    "learned_rewrite.after_bodies:1",
    "cluster_merge.after_move:1",
    "cluster_merge.after_move:2",
    "snapshot.before_replace:1",
    "run.before_finish",
    "migration.v4.before_statement:2",
    "migration.v6.before_statement:2",
    "flow/batch_write.before_commit:4",
    "random",
    "random",
    "random",
    "random",
    "random",
    "random",
)


def test_twenty_kills_each_rerun_equals_an_uninterrupted_run(tmp_path: Path):
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import crash_harness
    finally:
        sys.path.pop(0)
    points = [crash_harness.parse_point(p) for p in TEST_POINTS]
    assert sum(p.name is not None for p in points) >= 10 and any(p.flow for p in points)
    harness = crash_harness.Harness(tmp_path / "crash", n=400, seed=11, batch_size=50, old_version=3,
                                    log=lambda message: print(message, flush=True), flow_reference=False)
    outcomes = harness.run(points)
    print(crash_harness.table(outcomes))
    # every kill happened where it was meant to, and every re-run wrote the uninterrupted run's store
    assert [o.point for o in outcomes if not o.identical] == [], crash_harness.table(outcomes)
    assert all("not reached" not in o.killed_where for o in outcomes)
