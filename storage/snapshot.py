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

Because a publish costs in proportion to the store, not to the batch, mid-run publishes are
amortised: after a batch, a publish happens only when no snapshot exists yet or when at least
``max(interval, 10 x the last publish's duration)`` has passed, so publishing takes at most
about a tenth of a long run. The end-of-run publish always happens. The snapshot is derived
data (the next publish rebuilds it), so it is not fsynced. ``NEWSDEDUP_SNAPSHOT=off`` turns
publishing off (pure ingest; readers then wait for the writer's lock instead).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

import duckdb

from storage.crashpoints import crashpoint

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
    # copies left by a writer killed mid-publish (we are the only writer: they are stale)
    for stale in target.parent.glob(f".{target.name}.*.tmp"):
        stale.unlink(missing_ok=True)
    try:
        shutil.copyfile(db_path, tmp)
        # a WAL left by someone who opened the snapshot read-write belongs to the old file
        target.with_name(target.name + ".wal").unlink(missing_ok=True)
        crashpoint("snapshot.before_replace")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    seconds = time.perf_counter() - started
    log.info("snapshot %s published in %.3f s", target, seconds)
    return seconds


def snapshots_enabled() -> bool:
    """False when ``$NEWSDEDUP_SNAPSHOT`` is ``off``/``0``/``false``/``no``."""
    return os.environ.get("NEWSDEDUP_SNAPSHOT", "on").strip().lower() not in ("off", "0", "false", "no")


class SnapshotPublisher:
    """Publishes when there is no snapshot yet, then amortised (see the module docstring)."""

    def __init__(self, db_path: str | Path, interval: float | None = None, enabled: bool | None = None):
        self.db_path = Path(db_path)
        self.interval = snapshot_interval() if interval is None else interval
        self.enabled = snapshots_enabled() if enabled is None else enabled
        self.started = time.monotonic()
        self.last: float | None = None
        self.cost = 0.0

    def after_batch(self, con: duckdb.DuckDBPyConnection) -> None:
        if not self.enabled:
            return
        since = time.monotonic() - (self.last if self.last is not None else self.started)
        if not snapshot_path(self.db_path).exists() or since >= max(self.interval, 10 * self.cost):
            self.publish(con)

    def publish(self, con: duckdb.DuckDBPyConnection) -> None:
        if not self.enabled:
            return
        self.cost = publish_snapshot(con, self.db_path)
        self.last = time.monotonic()
