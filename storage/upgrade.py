"""Bringing an existing store to this code's schema without running an ingest.

A writer applies pending migrations whenever it opens a store, and read-only commands refuse
a store at an older schema (they cannot migrate it). ``upgrade_store`` is the writer's open on
its own: it takes the writer lock like any writer, applies the migrations, and publishes a
fresh snapshot, so readers served from the snapshot during the next run see the new schema.
"""

from __future__ import annotations

from pathlib import Path

from storage.locking import open_store_when_free, writer_lock
from storage.migrations import schema_version
from storage.snapshot import publish_snapshot, snapshots_enabled
from storage.store import inspect_store_file


def upgrade_store(db_path: str | Path, timeout: float | None = None) -> tuple[int, int]:
    """Apply every pending migration to the store at ``db_path``.

    Args:
        db_path: an existing store file.
        timeout: seconds to wait for a running writer (default: ``writer_timeout()``).

    Returns:
        The schema version before and after (equal when it was up to date).

    Raises:
        StoreError: no store there, another writer kept it past the timeout, or a migration
            failed (rolled back; the store stays at its old version).
    """
    inspect_store_file(db_path, must_exist=True)
    with writer_lock(db_path, timeout, what="upgrade") as deadline:
        con = open_store_when_free(db_path, deadline, read_only=True, snapshot_fallback=False, older_ok=True)
        try:
            before = schema_version(con)
        finally:
            con.close()
        con = open_store_when_free(db_path, deadline)  # a writer's open migrates
        try:
            after = schema_version(con)
            if after != before and snapshots_enabled():
                publish_snapshot(con, db_path)
        finally:
            con.close()
    return before, after
