"""The read side: a snapshot of the store that writers publish and readers open.

DuckDB 2.0 gives one process the file read-write and fails every other open at once; a
read-only holder blocks writers too. So readers and writers use different files: the writer
owns ``news.duckdb``, and after its first committed batch, then at most every
``$NEWSDEDUP_SNAPSHOT_SECONDS`` (default 30) and at the end of each run, it publishes
``news.snapshot.duckdb``: CHECKPOINT (the main file then holds every committed batch and the
WAL is empty), copy the file to a temporary name beside it, ``os.replace``. Readers
never touch the main file, so a reader left open for hours blocks nobody; ``os.replace``
swaps the name while an open reader keeps reading the old inode (a consistent, older state)
until it reconnects. The price: readers see the store as of the last publish (seconds to a
run behind).

A publish writes what changed, not the whole store. The snapshot it replaces is kept as a
spare (``.news.snapshot.duckdb.spare``); the next publish brings the spare up to date block by
block (every DuckDB block starts with a checksum of its contents, so only blocks whose
checksums differ are copied; ``_sync_blocks``) and swaps it in. A spare that a reader still
holds open (DuckDB readers hold a shared fcntl lock) is left alone, and that publish copies
the whole file instead, as does the first publish of a store (about 1 GB/s from the page
cache). Work in progress lives under a ``.*.tmp`` name that the next writer deletes, so a
spare caught half-updated by a kill is never trusted.

A publish still checkpoints and compares one checksum per block, so mid-run publishes are
amortised: after a batch, a publish happens only when no snapshot exists yet or when at least
``max(interval, 10 x the last publish's duration)`` has passed, so publishing takes at most
about a tenth of a long run. The end-of-run publish always happens. The snapshot is derived
data (the next publish rebuilds it), so it is not fsynced. ``NEWSDEDUP_SNAPSHOT=off`` turns
publishing off (pure ingest; readers then wait for the writer's lock instead).
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import struct
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


def remove_snapshot(db_path: str | Path) -> None:
    """Delete the published snapshot of a store and the spare kept for the next publish."""
    target = snapshot_path(db_path)
    for path in (target, _spare_path(target)):
        path.unlink(missing_ok=True)


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
    spare = _spare_path(target)
    con.execute("CHECKPOINT").fetchall()
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    # copies left by a writer killed mid-publish (we are the only writer: they are stale, and
    # a spare caught half-updated is one of them, so it is never trusted block by block)
    for stale in target.parent.glob(f".{target.name}.*.tmp"):
        stale.unlink(missing_ok=True)
    try:
        written = None
        if spare.exists() and not _held_open(spare):
            os.replace(spare, tmp)
            written = _sync_blocks(db_path, tmp)
        if written is None:
            shutil.copyfile(db_path, tmp)
            written = os.path.getsize(tmp)
        # a WAL left by someone who opened the snapshot read-write belongs to the old file
        target.with_name(target.name + ".wal").unlink(missing_ok=True)
        crashpoint("snapshot.before_replace")
        if target.exists():  # the snapshot being replaced becomes the next publish's spare
            spare.unlink(missing_ok=True)
            os.link(target, spare)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    seconds = time.perf_counter() - started
    log.info("snapshot %s published in %.3f s (%.1f MB written)", target, seconds, written / 1e6)
    return seconds


def _spare_path(target: Path) -> Path:
    """The previous snapshot, kept to be brought up to date block by block at the next publish."""
    return target.with_name(f".{target.name}.spare")


def _held_open(path: Path) -> bool:
    """Is a reader (another process, or this one) holding `path` open? DuckDB readers hold a
    shared fcntl lock on their database file; a file of our own is found among our fds."""
    st = path.stat()
    for fd in Path("/proc/self/fd").iterdir() if Path("/proc/self/fd").exists() else ():
        try:
            other = os.stat(fd)
        except OSError:
            continue
        if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
            return True
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return True
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops the lock test's lock
    return False


_FILE_HEADERS = 3 * 4096  # DuckDB's main header and its two alternating database headers
_BLOCK_CHECKSUM = 8  # every block starts with the checksum of its contents


def _sync_blocks(src: Path, dst: Path) -> int | None:
    """Make `dst` (an older copy of `src`) byte-identical to `src`; return the bytes written.

    Every DuckDB block starts with a checksum of its contents, so a block whose checksum is
    the same in both files is the same block, and only the blocks that differ are copied: a
    publish after a batch writes what the batch changed, not the whole store. Returns None
    (the caller copies the whole file) when `src` is not laid out as this expects.
    """
    size = src.stat().st_size
    with open(src, "rb") as s, open(dst, "r+b") as d:
        headers = s.read(_FILE_HEADERS)
        block = _block_size(headers)
        if block is None or (size - _FILE_HEADERS) % block:
            return None
        d.truncate(size)
        d.seek(0)
        d.write(headers)
        written = _FILE_HEADERS
        sfd, dfd = s.fileno(), d.fileno()
        for offset in range(_FILE_HEADERS, size, block):
            if os.pread(sfd, _BLOCK_CHECKSUM, offset) != os.pread(dfd, _BLOCK_CHECKSUM, offset):
                os.pwrite(dfd, os.pread(sfd, block, offset), offset)
                written += block
    return written


def _block_size(headers: bytes) -> int | None:
    """The block size recorded in the newer of the two database headers, if the file is a
    DuckDB database this understands (magic ``DUCK``, block size a sane power of two)."""
    if len(headers) < _FILE_HEADERS or headers[8:12] != b"DUCK":
        return None
    newest = max((4096, 8192), key=lambda off: struct.unpack_from("<Q", headers, off + 8)[0])
    size = struct.unpack_from("<Q", headers, newest + 40)[0]
    if size < 16384 or size > (1 << 24) or size & (size - 1):
        return None
    return size


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
