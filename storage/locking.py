"""Writers take turns: an exclusive file lock beside the store, with a timeout.

DuckDB 2.0 lets one process hold a database file read-write, and any other open of that file
(read-write or read-only) fails at once with ``Could not set lock on file``; a read-only
holder also blocks writers. So writers must queue instead of failing: ``writer_lock`` takes
a POSIX record lock (``lockf``) on ``<store>.lock``, waiting with backoff up to a timeout.
A record lock belongs to the process: the kernel drops it when the process dies, and the
parse workers it forks do not inherit it (an ``flock`` would be shared with them, and a
SIGKILLed run's orphaned workers would hold it). Threads of one process share record locks,
so a per-path ``threading.Lock`` is taken first. Every writer goes through
it: the CLI, the Prefect flows (under a Prefect global concurrency limit that queues them
first, see ``flows/ingest.py``) and scripts outside Prefect.

``open_store_when_free`` then opens the store, retrying while some other process holds the
DuckDB file itself (a reader that opened the main file instead of the published snapshot, see
``storage/snapshot.py``), until the same deadline.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from storage.store import StoreError, inspect_store_file, open_store

log = logging.getLogger("newsdedup")

DEFAULT_WRITER_TIMEOUT = 3600.0

_THREAD_LOCKS: dict[str, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


class WriterBusy(StoreError):
    """Another writer kept the store past the timeout; the message names the holder."""


def writer_timeout() -> float:
    """Seconds a writer waits for its turn: ``$NEWSDEDUP_WRITER_TIMEOUT``, default one hour."""
    value = os.environ.get("NEWSDEDUP_WRITER_TIMEOUT", "").strip()
    if not value:
        return DEFAULT_WRITER_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        raise StoreError(f"NEWSDEDUP_WRITER_TIMEOUT={value!r} is not a number of seconds") from None
    if seconds < 0:
        raise StoreError(f"NEWSDEDUP_WRITER_TIMEOUT={value!r} must be >= 0")
    return seconds


def lock_path(db_path: str | Path) -> Path:
    """The lock file of a store: ``data/news.duckdb`` -> ``data/news.duckdb.lock``."""
    db_path = Path(db_path)
    return db_path.with_name(db_path.name + ".lock")


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return "unknown holder"
    return f"pid {info.get('pid')} on {info.get('host')} since {info.get('since')} ({info.get('what')})"


def _backoff(attempt: int) -> float:
    return min(1.0, 0.02 * (2**attempt))


@contextmanager
def writer_lock(
    db_path: str | Path, timeout: float | None = None, what: str = "ingest", check_store: bool = True
) -> Iterator[float]:
    """Hold the store's writer lock for the block, waiting for it up to `timeout` seconds.

    Args:
        db_path: the store file (the lock is ``<db_path>.lock`` beside it).
        timeout: seconds to wait (default `writer_timeout()`); 0 tries once.
        what: a word for the lock file saying who holds it (shown to the next writer).
        check_store: first refuse a `db_path` that cannot be a store (a directory, a text,
            SQLite or Parquet file...: `inspect_store_file`), before creating the lock file
            beside it; a missing `db_path` is fine (the writer creates it).

    Yields:
        The deadline (``time.monotonic()``) this writer had; later waits may use what is left.

    Raises:
        WriterBusy: another writer still held the lock after `timeout` seconds.
        StoreError: `check_store` and `db_path` is not a store.
    """
    if check_store:
        inspect_store_file(db_path, must_exist=False)
    timeout = writer_timeout() if timeout is None else timeout
    path = lock_path(db_path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the folder of {db_path}: {exc.strerror or exc}; pass --db with another path.") from None
    started = time.monotonic()
    deadline = started + timeout
    with _THREAD_LOCKS_GUARD:
        in_process = _THREAD_LOCKS.setdefault(str(path.resolve()), threading.Lock())
    if not in_process.acquire(timeout=max(0.0, timeout)):
        raise WriterBusy(
            f"store {db_path} is busy: another writer in this process held it for more than {timeout:.0f} s."
        )
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        in_process.release()
        raise StoreError(
            f"cannot create the writer lock {path} for store {db_path}: {exc.strerror or exc}; "
            "writers need a writable folder beside the store."
        ) from None
    try:
        attempt = 0
        while True:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EACCES, errno.EAGAIN):
                    raise
                if attempt == 0:
                    log.info("store %s: waiting for the writer lock held by %s", db_path, _holder(path))
                if time.monotonic() >= deadline:
                    raise WriterBusy(
                        f"store {db_path} is busy: another writer ({_holder(path)}) held {path} for "
                        f"more than {timeout:.0f} s. Let that run finish, or raise NEWSDEDUP_WRITER_TIMEOUT."
                    ) from None
                time.sleep(min(_backoff(attempt), max(0.0, deadline - time.monotonic())))
                attempt += 1
        waited = time.monotonic() - started
        if waited > 0.5:
            log.info("store %s: writer lock acquired after %.1f s", db_path, waited)
        info = {"pid": os.getpid(), "host": socket.gethostname(), "what": what,
                "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        try:
            yield deadline
        finally:
            os.ftruncate(fd, 0)
            fcntl.lockf(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
        in_process.release()


def open_store_when_free(db_path: str | Path, deadline: float, **open_options) -> duckdb.DuckDBPyConnection:
    """Open the store (read-write unless `open_options` say otherwise), retrying with backoff
    while another process holds the file.

    `open_options` go to `open_store` (``export`` opens ``read_only=True, snapshot_fallback=False``).
    Call it holding `writer_lock`: then only a process outside the protocol (someone's own
    duckdb session on the main file) can hold the file, and we wait for it until `deadline`.

    Raises:
        StoreError: still busy at the deadline (the message says who to ask), or any other
            reason `open_store` gives.
    """
    attempt = 0
    while True:
        try:
            return open_store(db_path, **open_options)
        except StoreError as exc:
            if "is busy" not in str(exc) or time.monotonic() >= deadline:
                raise
            if attempt == 0:
                log.warning("store %s is open in another process (not a newsdedup writer); retrying", db_path)
            time.sleep(min(_backoff(attempt), max(0.0, deadline - time.monotonic())))
            attempt += 1
