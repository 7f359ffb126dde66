"""Back up and move the record: every table of the store to Parquet, and back into a new file.

``export_store`` writes one Parquet file per table (whatever the store's schema version has:
articles, removed lines, links, runs, rejections, signatures and LSH band keys, learned
boilerplate, the raw archive, ``dedup_config``, ``schema_migrations``...) plus
``manifest.json``: the format, the schema version, the newsdedup version, the dedup config,
and per table its columns, row count and the SHA-256 of its file. It holds the writer lock
(no ingest writes meanwhile) and reads every table in one read-only transaction, so the
export is one consistent state; read-only readers of the store may stay open. The files are
written to a hidden folder beside the target and renamed into place, so a failed export
leaves nothing that looks complete.

``import_store`` checks the manifest and every checksum, builds the schema at the export's
version with the real migrations, loads every table in one transaction, checks the row
counts, then applies the newer migrations (an old export is upgraded like an old store) and
renames the finished file into place. A manifest from a newer schema is refused.

The schema itself (constraints, ``COMMENT ON``, the ``stories`` view) comes from the
migrations, not from the export, so a restored store is the store the same migrations build.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

from storage.locking import open_store_when_free, writer_lock
from storage.migrations import ARTICLES_UNKEYED_VERSION, apply_migrations, latest_version, schema_version
from storage.snapshot import remove_snapshot
from storage.store import StoreError, inspect_store_file, memory_limit, store_errors
from storage.transaction import transaction

FORMAT = "newsdedup-export"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"


class BackupRefused(StoreError):
    """The request itself is wrong (target exists, folder not empty, not an export); nothing was written."""


def _sql_path(path: Path) -> str:
    """A file path as an SQL string literal (COPY and read_parquet take no parameters for it)."""
    return "'" + str(path).replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def store_tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    """The store's tables with their ``(column, type)`` in column order (views excluded).

    Args:
        con: connection to the store.

    Returns:
        ``{table: [(column, data_type), ...]}`` sorted by table name.
    """
    rows = con.execute(
        """SELECT c.table_name, c.column_name, c.data_type
           FROM duckdb_columns() AS c
           JOIN duckdb_tables() AS t USING (database_name, schema_name, table_name)
           WHERE c.database_name = current_database() AND c.schema_name = 'main' AND NOT t.internal
           ORDER BY c.table_name, c.column_index"""
    ).fetchall()
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        tables.setdefault(table, []).append((column, data_type))
    return tables


def _check_empty_folder(out_dir: Path) -> None:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise BackupRefused(f"{out_dir} exists and is not an empty folder; export into a new or empty folder.")


def export_store(db_path: str | Path, out_dir: str | Path, newsdedup_version: str, timeout: float | None = None) -> dict[str, Any]:
    """Write every table of the store to ``out_dir`` as Parquet, with ``manifest.json``.

    Args:
        db_path: the store (only read; it must exist).
        out_dir: a new or empty folder.
        newsdedup_version: recorded in the manifest.
        timeout: seconds to wait for a running ingest to finish (default: the writer timeout).

    Returns:
        The manifest (also written to ``out_dir/manifest.json``).

    Raises:
        BackupRefused: ``out_dir`` is not a new or empty folder.
        StoreError: the store is missing, unusable or busy past the timeout.
    """
    db_path, out_dir = Path(db_path), Path(out_dir)
    inspect_store_file(db_path, must_exist=True)
    _check_empty_folder(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = out_dir.with_name(f".{out_dir.name}.export-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        with writer_lock(db_path, timeout, what="export") as deadline:
            con = open_store_when_free(db_path, deadline, read_only=True, snapshot_fallback=False, older_ok=True)
            try:
                with store_errors(db_path):  # a damaged block shows when COPY reads it
                    manifest = _export_tables(con, db_path, work, newsdedup_version)
            finally:
                con.close()
        for entry in manifest["tables"].values():
            file = work / entry["file"]
            entry["bytes"] = file.stat().st_size
            entry["sha256"] = _sha256(file)
            _fsync(file)
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        _fsync(work / MANIFEST)
        _check_empty_folder(out_dir)  # nobody filled it meanwhile
        if out_dir.exists():
            out_dir.rmdir()
        os.replace(work, out_dir)
        _fsync(out_dir.parent)
    except duckdb.Error as exc:
        raise StoreError(f"export of {db_path} failed: {' '.join(str(exc).split())}; nothing was written to {out_dir}.") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return manifest


def _export_tables(con: duckdb.DuckDBPyConnection, db_path: Path, work: Path, newsdedup_version: str) -> dict[str, Any]:
    """COPY every table to ``work`` in one read transaction; return the manifest without checksums."""
    with transaction(con):  # one snapshot for every table
        version = schema_version(con)
        tables = store_tables(con)
        entries: dict[str, Any] = {}
        for table, columns in tables.items():
            file = work / f"{table}.parquet"
            n_rows = con.execute(f"SELECT count(*) FROM {_ident(table)}").fetchall()[0][0]
            copied = con.execute(
                f"COPY (SELECT * FROM {_ident(table)}) TO {_sql_path(file)} (FORMAT parquet, COMPRESSION zstd)"
            ).fetchall()[0][0]
            if copied != n_rows:
                raise StoreError(f"export of {table}: copied {copied} rows of {n_rows}")
            entries[table] = {"file": file.name, "rows": n_rows, "columns": [list(c) for c in columns]}
        dedup = {}
        if "dedup_config" in tables:
            dedup = {key: json.loads(settings) for key, settings in con.execute("SELECT key, settings::VARCHAR FROM dedup_config").fetchall()}
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "schema_version": version,
        "newsdedup_version": newsdedup_version,
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source": str(db_path),
        "dedup_config": dedup,
        "tables": entries,
    }


def read_manifest(in_dir: str | Path) -> dict[str, Any]:
    """Load and check an export's manifest and files (format, schema version, checksums).

    Args:
        in_dir: a folder written by ``export_store``.

    Returns:
        The manifest.

    Raises:
        BackupRefused: the folder is missing or holds no manifest.
        StoreError: not a newsdedup export, from a newer schema or format, or a file is
            missing or damaged (checksum or size differs).
    """
    in_dir = Path(in_dir)
    path = in_dir / MANIFEST
    if not path.is_file():
        what = "does not exist" if not in_dir.exists() else f"has no {MANIFEST}"
        raise BackupRefused(f"{in_dir} {what}; give the folder written by newsdedup export.")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StoreError(f"cannot read {path}: {exc}; the export is damaged, use another copy.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise StoreError(f"{path} is not a newsdedup export manifest (format {manifest.get('format') if isinstance(manifest, dict) else None!r}).")
    if manifest.get("format_version", 0) > FORMAT_VERSION:
        raise StoreError(
            f"{in_dir} is export format {manifest['format_version']}, newer than this newsdedup reads "
            f"({FORMAT_VERSION}); import it with newsdedup {manifest.get('newsdedup_version')} or later."
        )
    version = manifest.get("schema_version")
    if not isinstance(version, int) or version < 1:
        raise StoreError(f"{path} has no valid schema_version; the export is damaged, use another copy.")
    if version > latest_version():
        raise StoreError(
            f"{in_dir} holds a store at schema version {version}, newer than this newsdedup "
            f"(knows up to {latest_version()}); import it with newsdedup {manifest.get('newsdedup_version')} or later."
        )
    for table, entry in manifest["tables"].items():
        file = in_dir / entry["file"]
        if not file.is_file():
            raise StoreError(f"{in_dir}: {entry['file']} (table {table}) is missing; the export is incomplete, use another copy.")
        if file.stat().st_size != entry["bytes"] or _sha256(file) != entry["sha256"]:
            raise StoreError(f"{in_dir}: {entry['file']} (table {table}) does not match its checksum; the export is damaged, use another copy.")
    return manifest


def import_store(in_dir: str | Path, db_path: str | Path, force: bool = False, timeout: float | None = None) -> dict[str, Any]:
    """Restore an export into a new store file, upgraded to the current schema.

    Args:
        in_dir: a folder written by ``export_store``.
        db_path: the store to create; an existing non-empty file is replaced only with `force`.
        force: replace an existing store (a DuckDB file; atomically, holding its writer lock).
        timeout: seconds to wait for a writer of an existing `db_path` (default: the writer timeout).

    Returns:
        ``{"schema_version_exported", "schema_version", "tables": {table: rows}}``.

    Raises:
        BackupRefused: no export at `in_dir`, or `db_path` exists and `force` is not given.
        StoreError: the export is damaged, from a newer schema, or does not match the schema
            of its version; the row counts differ from the manifest; `db_path` is a folder.
            Nothing is written at `db_path` then.
    """
    in_dir, db_path = Path(in_dir), Path(db_path)
    manifest = read_manifest(in_dir)
    if db_path.is_dir():
        raise StoreError(f"{db_path} is a directory; give the path of the .duckdb file to create.")
    if os.path.lexists(db_path) and (not db_path.is_file() or db_path.stat().st_size > 0):
        if not force:
            raise BackupRefused(f"{db_path} already exists; import into a new file, or pass --force to replace it.")
        inspect_store_file(db_path, must_exist=True)  # --force replaces a store, never some other file
    db_path.parent.mkdir(parents=True, exist_ok=True)
    work = db_path.with_name(f".{db_path.name}.import-{os.getpid()}")
    with writer_lock(db_path, timeout, what="import", check_store=False):
        for leftover in (work, work.with_name(work.name + ".wal")):
            leftover.unlink(missing_ok=True)
        try:
            report = _restore(manifest, in_dir, work)
            _fsync(work)
            # a WAL or snapshot of the replaced store belongs to the old file
            db_path.with_name(db_path.name + ".wal").unlink(missing_ok=True)
            remove_snapshot(db_path)
            os.replace(work, db_path)
            _fsync(db_path.parent)
        except duckdb.Error as exc:
            raise StoreError(f"import of {in_dir} failed: {' '.join(str(exc).split())}; nothing was written to {db_path}.") from exc
        finally:
            work.unlink(missing_ok=True)
            work.with_name(work.name + ".wal").unlink(missing_ok=True)
    return report


def _restore(manifest: dict[str, Any], in_dir: Path, work: Path) -> dict[str, Any]:
    """Build the store at ``work``: schema at the export's version, rows, counts checked, migrations."""
    version = manifest["schema_version"]
    con = duckdb.connect(str(work))
    try:
        con.execute("SET TimeZone = 'UTC'").fetchall()
        articles = int(manifest["tables"].get("articles", {}).get("rows", 0))
        # on the 128 MB base that bulk restores were measured with, plus the room for the key
        # indexes of articles when the export is from before schema v10 (the table is built
        # at the export's version, then migrated)
        keyed = articles if version < ARTICLES_UNKEYED_VERSION else 0
        con.execute(f"SET memory_limit = '{memory_limit(writer=True, keyed_articles=keyed, base_mb=128)}'").fetchall()
        con.execute("SET preserve_insertion_order = false").fetchall()  # lets the bulk inserts stream
        apply_migrations(con, target_version=version)
        expected = store_tables(con)
        exported = {table: [tuple(c) for c in entry["columns"]] for table, entry in manifest["tables"].items()}
        if {t: [c for c, _ in cols] for t, cols in exported.items()} != {t: [c for c, _ in cols] for t, cols in expected.items()}:
            differ = sorted(set(exported) ^ set(expected)) or sorted(t for t in expected if exported.get(t) != expected[t])
            raise StoreError(
                f"{in_dir} does not match the schema of version {version} (tables or columns differ: "
                f"{', '.join(differ)}); it was not written by newsdedup export."
            )
        with transaction(con):
            con.execute("DELETE FROM schema_migrations").fetchall()  # the export's own records replace the fresh ones
            for table, entry in manifest["tables"].items():
                cols = ", ".join(_ident(c) for c, _ in expected[table])
                con.execute(
                    f"INSERT INTO {_ident(table)} ({cols}) SELECT {cols} FROM read_parquet({_sql_path(in_dir / entry['file'])})"
                ).fetchall()
                n_rows = con.execute(f"SELECT count(*) FROM {_ident(table)}").fetchall()[0][0]
                if n_rows != entry["rows"]:
                    raise StoreError(f"{in_dir}: table {table} has {n_rows} rows, the manifest says {entry['rows']}; nothing was imported.")
        apply_migrations(con)  # an older export is upgraded like an old store
        counts = {table: con.execute(f"SELECT count(*) FROM {_ident(table)}").fetchall()[0][0] for table in store_tables(con)}
        con.execute("CHECKPOINT").fetchall()
    finally:
        con.close()
    return {"schema_version_exported": version, "schema_version": latest_version(), "tables": counts}
