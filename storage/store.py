"""Opening the newsdedup DuckDB store: path, locking, corruption and transaction handling.

DuckDB allows one read-write process per database file (many read-only processes may share
it when nobody writes). ``open_store`` turns DuckDB's low-level IO errors into a
``StoreError`` that names the file and says what to do.
"""

from __future__ import annotations


import os
import re
from pathlib import Path

import duckdb

from storage.migrations import apply_migrations, latest_version, schema_version
from storage.snapshot import snapshot_path

DEFAULT_DB_PATH = Path("data") / "news.duckdb"


class StoreError(RuntimeError):
    """The store cannot be opened or used: busy, not a DuckDB file, corrupted, or too new."""


def _memory_limit() -> str:
    """DuckDB's memory limit: $NEWSDEDUP_DUCKDB_MEMORY (e.g. ``4GB``), default ``1GB``."""
    value = os.environ.get("NEWSDEDUP_DUCKDB_MEMORY", "1GB").strip()
    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", value, re.IGNORECASE):
        raise StoreError(f"NEWSDEDUP_DUCKDB_MEMORY={value!r} is not a size like 512MB or 4GB")
    return value


def default_db_path() -> Path:
    """Return the store path: ``$NEWSDEDUP_DB`` if set, else ``./data/news.duckdb``.

    Returns:
        The path (not checked for existence).
    """
    env = os.environ.get("NEWSDEDUP_DB")
    return Path(env) if env else DEFAULT_DB_PATH


def _store_error_from(path: Path, exc: duckdb.Error, read_only: bool) -> StoreError:
    """Translate a DuckDB connect error into a StoreError with advice."""
    message = str(exc)
    if "Could not set lock" in message or "Conflicting lock" in message:
        holder = message.split("Conflicting lock is held in", 1)[-1].split(". See also")[0].strip()
        detail = f" (held by {holder})" if "Conflicting lock" in message else ""
        return StoreError(
            f"store {path} is busy: another process has it open for writing{detail}. "
            "Wait for that ingest to finish (or stop it), then retry; DuckDB allows one writer "
            "per file, and read-only queries only while no process writes."
        )
    if "not a valid DuckDB database file" in message:
        return StoreError(
            f"{path} exists but is not a DuckDB database. Refusing to touch it; point "
            "NEWSDEDUP_DB (or --db) at another path, or move the file aside."
        )
    if "database does not exist" in message and read_only:
        return StoreError(f"no store at {path}: run an ingest first to create it.")
    return StoreError(
        f"cannot open store {path}: the file looks damaged or unreadable ({message}). "
        "Restore it from a backup or move it aside; it was not modified."
    )


def open_store(path: str | Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the newsdedup store and bring its schema up to date.

    Read-write: creates the parent directory, applies pending migrations. Read-only: never
    creates or migrates; many read-only processes may open the file while no process writes,
    and while one writes they get the snapshot it published (``storage/snapshot.py``), so a
    query never waits for a run.
    Sessions use UTC for ``TIMESTAMPTZ`` values.

    Args:
        path: the DuckDB file.
        read_only: open without write access (for queries and the ``sql`` command).

    Returns:
        An open DuckDB connection; the caller closes it.

    Raises:
        StoreError: the file is locked by another writer, is not a DuckDB database, is
            corrupted, is a DuckDB file that is not a newsdedup store, is at a schema version
            newer than this code, or (read-only) does not exist / needs migrating.
    """
    path = Path(path)
    if path.is_dir():
        raise StoreError(f"{path} is a directory; give the path of a .duckdb file.")
    if read_only and not path.exists():
        raise StoreError(f"no store at {path}: run an ingest first to create it.")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        error = _store_error_from(path, exc, read_only)
        snapshot = snapshot_path(path)
        if not (read_only and "is busy" in str(error) and snapshot.exists()):
            raise error from exc
        # a writer holds the file: answer from the snapshot it publishes (storage/snapshot.py)
        try:
            con = duckdb.connect(str(snapshot), read_only=True)
        except duckdb.Error:
            raise error from exc
    try:
        con.execute("SET TimeZone = 'UTC'").fetchall()
        # DuckDB would cache up to 80% of RAM; a bounded pool keeps a long ingest's memory flat
        con.execute(f"SET memory_limit = '{_memory_limit()}'").fetchall()
        # results are ordered explicitly where order matters; this lets bulk inserts stream
        con.execute("SET preserve_insertion_order = false").fetchall()
        _check_is_newsdedup_store(con, path)
        current = schema_version(con)
        if current > latest_version():
            raise StoreError(
                f"store {path} is at schema version {current}, newer than this newsdedup "
                f"(knows up to {latest_version()}); upgrade newsdedup."
            )
        if read_only:
            if current < latest_version():
                raise StoreError(
                    f"store {path} is at schema version {current} and needs migrating to "
                    f"{latest_version()}; open it once read-write (e.g. run an ingest)."
                )
        else:
            apply_migrations(con)
    except duckdb.Error as exc:
        con.close()
        raise _store_error_from(path, exc, read_only) from exc
    except BaseException:
        con.close()
        raise
    return con


def _check_is_newsdedup_store(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Refuse a DuckDB file that holds someone else's tables (no ``schema_migrations``)."""
    names = {
        row[0]
        for row in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT internal AND database_name = current_database()"
        ).fetchall()
    }
    if names and "schema_migrations" not in names:
        raise StoreError(
            f"{path} is a DuckDB database but not a newsdedup store (tables: "
            f"{', '.join(sorted(names)[:5])}); refusing to add tables to it."
        )
