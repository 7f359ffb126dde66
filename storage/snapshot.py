"""The read side: a snapshot of the store that writers publish and readers open.

DuckDB 2.0 gives one process the file read-write and fails every other open at once; a
read-only holder blocks writers too. So readers and writers use different files: the writer
owns ``news.duckdb``, and after its first committed batch, then at most every
``$NEWSDEDUP_SNAPSHOT_SECONDS`` (default 30) and at the end of each run, it publishes
``news.snapshot.duckdb``: CHECKPOINT (the main file then holds every committed batch and the
WAL is empty), copy the file to a temporary name beside it, fsync, ``os.replace``. Readers
never touch the main file, so a reader left open for hours blocks nobody; ``os.replace``
swaps the name while an open reader keeps reading the old inode (a consistent, older state)
until it reconnects. The price: readers see the store as of the last publish (seconds to a
run behind), and each publish copies the whole file (about 1 GB/s from the page cache).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

import duckdb

log = logging.getLogger("newsdedup")

DEFAULT_INTERVAL = 30.0


def snapshot_path(db_path: str | Path) -> Path:
    """The published snapshot of a store: ``data/news.duckdb`` -> ``data/news.snapshot.duckdb``."""
    db_path = Path(db_path)
    if db_path.suffix == ".duckdb":
        return db_path.with_name(db_path.stem + ".snapshot.duckdb")
    return db_path.with_name(db_path.name + ".snapshot")


def snapshot_interval() -> float:
    """Seconds between publishes during a run: ``$NEWSDEDUP_SNAPSHOT_SECONDS``, default 30."""
    value = os.environ.get("NEWSDEDUP_SNAPSHOT_SECONDS", "").strip()
    try:
        return float(value) if value else DEFAULT_INTERVAL
    except ValueError:
        raise ValueError(f"NEWSDEDUP_SNAPSHOT_SECONDS={value!r} is not a number of seconds") from None


def publish_snapshot(con: duckdb.DuckDBPyConnection, db_path: str | Path) -> float:
    """Publish the committed state of the store for readers; return the seconds it took.

    Call between transactions, from the process that holds the store read-write (nobody else
    can change the file meanwhile).

    Args:
        con: the writer's connection to `db_path`.
        db_path: the store file.
    """
    started = time.perf_counter()
    db_path = Path(db_path)
    target = snapshot_path(db_path)
    con.execute("CHECKPOINT").fetchall()
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(db_path, tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        # a WAL left by someone who opened the snapshot read-write belongs to the old file
        target.with_name(target.name + ".wal").unlink(missing_ok=True)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    seconds = time.perf_counter() - started
    log.info("snapshot %s published in %.3f s", target, seconds)
    return seconds


class SnapshotPublisher:
    """Publishes after the first committed batch, then at most every `interval` seconds."""

    def __init__(self, db_path: str | Path, interval: float | None = None):
        self.db_path = Path(db_path)
        self.interval = snapshot_interval() if interval is None else interval
        self.last: float | None = None

    def after_batch(self, con: duckdb.DuckDBPyConnection) -> None:
        if self.last is None or time.monotonic() - self.last >= self.interval:
            self.publish(con)

    def publish(self, con: duckdb.DuckDBPyConnection) -> None:
        publish_snapshot(con, self.db_path)
        self.last = time.monotonic()
