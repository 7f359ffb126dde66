"""Opening the newsdedup DuckDB store: path, locking, corruption and transaction handling.

DuckDB allows one read-write process per database file (many read-only processes may share
it when nobody writes). ``open_store`` turns DuckDB's low-level IO errors into a
``StoreError`` that names the file and says what to do.

A file that is not a newsdedup store is refused before DuckDB opens it read-write, and never
replaced by a new empty database: ``inspect_store_file`` reads its first bytes (a directory,
an empty, text, SQLite or Parquet file, or a DuckDB header cut short), ``open_store`` then
checks that the file is as long as its header says (a truncated copy), that it holds the
newsdedup schema (not another application's tables) and that its schema is not newer than
this code. (DuckDB itself would take an SQLite file for an attachment and try to download its
SQLite extension: the first-bytes check keeps such files away from it.)
"""

from __future__ import annotations


import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from storage.migrations import apply_migrations, latest_version, schema_version
from storage.snapshot import snapshot_path

DEFAULT_DB_PATH = Path("data") / "news.duckdb"


class StoreError(RuntimeError):
    """The store cannot be opened or used: busy, not a DuckDB file, corrupted, or too new."""


class OpenInThisProcess(StoreError):
    """This process already has the file open with other settings (DuckDB shares one instance per file)."""


# a DuckDB file: 8 bytes of checksum, then the magic; then two database headers (4 KiB each
# after the 4 KiB main header) before the first block
_DUCKDB_MAGIC = b"DUCK"
# Rows per row group for writers. DuckDB re-compresses the whole tail row group of a table at
# each checkpoint; at its default (122,880 rows) that group of ``articles`` holds ~400 MB of
# bodies, so a long ingest's peak RSS grew with the store until the group filled. Measured on
# 100k synthetic articles: checkpoint peaks +430 MB at the default, see bench/ingest.py. At
# 4,096 rows a group fills within the first three batches, so a short run already pays the
# steady-state checkpoint and a long one no more (16,384: 10k 463 -> 100k 569 MB; 4,096 with
# the 80 MB budget: 455 -> 518 MB, and -5% wall at 10k, paired runs).
ROW_GROUP_SIZE = 4_096
# The writer's DuckDB budget, before its key-index room. Its pool caches the columns each
# batch's lookups scan, and fills with the store until it reaches this cap, so a smaller cap
# is reached sooner and peak RSS grows less with N (100k synthetic dumps: 80 MB 553 MB peak,
# 40 MB 513 MB; 10k: ~455 at either). 32 MB fails at 100k (a lookup cannot pin its blocks).
# Inserts take their own room per batch on top (storage/batch.py), so the cap only has to hold
# the lookups; one that still does not fit raises it (storage/lookup_memory.py).
WRITER_MEMORY_MB = 48
# ... plus, while ``articles`` still has its key indexes (a store before schema v10, until its
# migration runs, or a restore of an older export), room per article for them: they are loaded
# to check inserts and measured 36-47 MB at 1M stored (duckdb_memory() ART_INDEX, 2026-12-03),
# so 64 B is ~1.4x that. Since v10 no table has an index that grows with the store and the
# writer's budget is the flat 48 MB (docs/DESIGN.md, "Memory of a long run").
KEYED_ARTICLE_BYTES = 64
READER_MEMORY = "1GB"
_DUCKDB_HEADERS = 3 * 4096
_BUDGET_VARIABLE = "newsdedup_memory_budget_bytes"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def inspect_store_file(path: str | Path, must_exist: bool) -> bool:
    """Check, from its first bytes and without opening it in DuckDB, that `path` can be a store.

    Args:
        path: the store file.
        must_exist: True for commands that only read (a missing file is an error, never
            created); False for writers, which create the store when nothing is at `path`.

    Returns:
        True if a file is there, False if nothing is (and `must_exist` is False).

    Raises:
        StoreError: one line naming the file, what it is instead and what to do: a
            directory or other non-file, unreadable, empty, SQLite, Parquet, text, an unknown
            format, or a DuckDB file shorter than its own headers; missing when `must_exist`.
    """
    path = Path(path)
    if not os.path.lexists(path):
        if must_exist:
            raise StoreError(f"no store at {path}: run an ingest first to create it, or pass --db with the right path.")
        return False
    if path.is_dir():
        raise StoreError(f"{path} is a directory; give the path of a .duckdb file (e.g. {path / 'news.duckdb'}).")
    if not path.is_file():
        raise StoreError(f"{path} is not a regular file (a device, pipe, socket or broken link); give the path of a .duckdb file.")
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}; check its permissions, or pass --db with another path.") from None
    what = _not_duckdb(head)
    if what:
        raise StoreError(
            f"{path} is {what}, not a DuckDB database; refusing to touch it. Pass --db (or NEWSDEDUP_DB) "
            "with the path of your store, or move the file aside to start a new one there."
        )
    if path.stat().st_size < _DUCKDB_HEADERS:
        raise StoreError(_truncated(path))
    return True


def _not_duckdb(head: bytes) -> str | None:
    """What the file whose first bytes are `head` is, when it is not a DuckDB database."""
    if head[8:12] == _DUCKDB_MAGIC:
        return None
    if not head:
        return "an empty file (0 bytes)"
    if head.startswith(b"SQLite format 3\x00"):
        return "an SQLite database"
    if head.startswith(b"PAR1"):
        return "a Parquet file"
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
            return "a text file"
        except UnicodeDecodeError as exc:
            if exc.start > len(head) - 4:  # a character cut by the 4 KiB read
                return "a text file"
    return "in an unknown format (or its DuckDB header is damaged)"


def _truncated(path: Path) -> str:
    return (
        f"store {path} is truncated (shorter than its own header says): an interrupted copy or a "
        "full disk. Restore it from a backup (newsdedup import) or move it aside; it was not modified."
    )


def memory_limit(writer: bool = False, keyed_articles: int = 0, base_mb: int | None = None) -> str:
    """DuckDB's memory limit: $NEWSDEDUP_DUCKDB_MEMORY (e.g. ``4GB``) if set; else for a writer
    48 MB, plus 64 bytes per article of an ``articles`` table that still has its key indexes
    (``keyed_articles``: a store before schema v10 until migrated; 110 MB for 1M);
    else 1 GB for readers. ``base_mb`` replaces the writer's 48 MB (a bulk restore uses its own)."""
    value = user_memory_budget()
    if not value:
        if not writer:
            return READER_MEMORY
        base = WRITER_MEMORY_MB if base_mb is None else base_mb
        return f"{base + -(-keyed_articles * KEYED_ARTICLE_BYTES // 2**20)}MB"
    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", value, re.IGNORECASE):
        raise StoreError(f"NEWSDEDUP_DUCKDB_MEMORY={value!r} is not a size like 512MB or 4GB")
    return value


def is_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` is Ctrl-C / SIGINT: Python's KeyboardInterrupt, or DuckDB's way of
    reporting that signal when it arrives during a query (the query stops and DuckDB raises
    InterruptException, or RuntimeError "Query interrupted" from a COMMIT)."""
    if isinstance(exc, (KeyboardInterrupt, duckdb.InterruptException)):
        return True
    return isinstance(exc, RuntimeError) and str(exc).strip() == "Query interrupted"


def user_memory_budget() -> str:
    """The budget the user fixed with $NEWSDEDUP_DUCKDB_MEMORY ('' when unset): never raised."""
    return os.environ.get("NEWSDEDUP_DUCKDB_MEMORY", "").strip()


def set_memory_limit(con: duckdb.DuckDBPyConnection, value: str) -> None:
    """Set DuckDB's memory limit (a size as ``memory_limit`` gives it) and remember it exactly
    in a session variable: DuckDB reports the limit rounded ('45.7 MiB'), and setting back
    what it reports lowered the limit by 0.1 of its unit each time."""
    con.execute(f"SET memory_limit = '{value}'").fetchall()
    con.execute(f"SET VARIABLE {_BUDGET_VARIABLE} = {size_in_bytes(value)}").fetchall()


def memory_budget_bytes(con: duckdb.DuckDBPyConnection) -> int:
    """The connection's budget as last set by ``set_memory_limit`` (else as DuckDB reports it)."""
    exact = con.execute(f"SELECT getvariable('{_BUDGET_VARIABLE}')").fetchall()[0][0]
    if exact is not None:
        return int(exact)
    return size_in_bytes(con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])


def size_in_bytes(size: str) -> int:
    """Bytes of a size as we write it ('60MB', '4GB', '12345B') or DuckDB reports it
    ('45.7 MiB', '512 bytes'): KB/MB/... are powers of 1000, KiB/MiB/... of 1024."""
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(bytes|B|[KMGT]i?B)", size.strip(), re.IGNORECASE).groups()
    if unit.lower() in ("b", "bytes"):
        return int(float(number))
    power = "KMGT".index(unit[0].upper()) + 1
    return int(float(number) * ((1024 if "i" in unit.lower() else 1000) ** power))


def _keyed_articles(con: duckdb.DuckDBPyConnection) -> int:
    """Rows in ``articles`` (by DuckDB's table metadata) while that table still has a PRIMARY KEY
    or UNIQUE constraint, whose ART index DuckDB loads into memory; 0 from schema v10 on."""
    rows = con.execute(
        """
        SELECT t.estimated_size FROM duckdb_tables() AS t
        WHERE t.database_name = current_database() AND t.table_name = 'articles'
          AND EXISTS (SELECT 1 FROM duckdb_constraints() AS c
                      WHERE c.database_name = t.database_name AND c.table_name = 'articles'
                        AND c.constraint_type IN ('PRIMARY KEY', 'UNIQUE'))
        """
    ).fetchall()
    return int(rows[0][0]) if rows else 0


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
    if is_out_of_memory(exc):
        return StoreError(out_of_memory_message(path, exc))
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
    if "Could not read enough bytes" in message:
        return StoreError(_truncated(path))
    if "different configuration than existing connections" in message or "Unique file handle conflict" in message:
        return OpenInThisProcess(
            f"store {path} is already open in this process with other settings (read-only vs "
            "read-write, or a plain duckdb.connect); close that connection first, or use it."
        )
    if "newer version of DuckDB" in message or "older version of DuckDB" in message or "storage version" in message:
        return StoreError(
            f"cannot open store {path}: it was written by another DuckDB version ({_one_line(message)}). "
            "Open it with the newsdedup that wrote it and move it with newsdedup export / import."
        )
    return StoreError(
        f"cannot open store {path}: the file looks damaged or unreadable ({_one_line(message)}). "
        "Restore it from a backup (newsdedup import) or move it aside; it was not modified."
    )


def is_damage(exc: duckdb.Error) -> bool:
    """True if a DuckDB error says the file itself is damaged (a block fails its checksum or is missing).

    DuckDB checks a block when a query first reads it, so a store damaged past its header
    opens fine and fails in the query that reaches the block.
    """
    message = str(exc)
    return "Corrupt database file" in message or "Could not read enough bytes" in message or isinstance(exc, duckdb.IOException)


@contextmanager
def store_errors(path: str | Path, only_damage: bool = False) -> Iterator[None]:
    """Turn a DuckDB error raised by a query on the store at `path` into a one-line StoreError.

    Args:
        path: the store, for the message.
        only_damage: translate only errors that say the file is damaged; others propagate
            unchanged (a writer's own bug keeps its traceback).

    Raises:
        StoreError: naming the file; for a damaged file, saying to restore it from a backup.
    """
    try:
        yield
    except duckdb.Error as exc:
        if is_out_of_memory(exc):
            raise StoreError(out_of_memory_message(path, exc)) from exc
        if only_damage and not is_damage(exc):
            raise
        if is_damage(exc):
            raise StoreError(
                f"store {path} is damaged ({_one_line(str(exc))}). Restore it from a backup "
                "(newsdedup import) or move it aside; it was not modified."
            ) from exc
        raise StoreError(f"query on store {path} failed: {_one_line(str(exc))}") from exc


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether DuckDB failed for want of memory in its budget: an OutOfMemoryException, or a
    COMMIT that could not allocate a block (DuckDB reports that as a TransactionContext error)."""
    message = str(exc)
    return isinstance(exc, duckdb.OutOfMemoryException) or (
        isinstance(exc, duckdb.Error) and ("Out of Memory Error" in message or "could not allocate block" in message)
    )


def out_of_memory_detail(exc: BaseException) -> str:
    """The first line of DuckDB's out-of-memory error ("Out of Memory Error: failed to allocate
    ... (x/y used)"), without the screen of generic advice that follows it."""
    return str(exc).split("\n", 1)[0].strip()


def out_of_memory_message(path: str | Path, exc: BaseException) -> str:
    """What to do when DuckDB ran out of its memory budget on the store at `path`."""
    what = out_of_memory_detail(exc)
    fixed = user_memory_budget()
    if fixed:
        advice = f"within NEWSDEDUP_DUCKDB_MEMORY={fixed}: raise it, or unset it for newsdedup's own budget, which a look-up that does not fit raises"
    else:
        advice = (
            f"beyond the budget newsdedup gives DuckDB (a writer: {WRITER_MEMORY_MB} MB; "
            f"a reader: {READER_MEMORY}): "
            "set NEWSDEDUP_DUCKDB_MEMORY to a larger size, e.g. 2GB"
        )
    return (
        f"DuckDB ran out of memory on store {path} ({what}), {advice}. An ingest keeps every "
        "batch it committed before: run it again to go on."
    )


def open_store(
    path: str | Path, read_only: bool = False, *, snapshot_fallback: bool = True, older_ok: bool = False,
    private: bool = False,
) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the newsdedup store and bring its schema up to date.

    Read-write: creates the parent directory, applies pending migrations. Read-only: never
    creates or migrates; many read-only processes may open the file while no process writes,
    and while one writes they get the snapshot it published (``storage/snapshot.py``), so a
    query never waits for a run.
    Sessions use UTC for ``TIMESTAMPTZ`` values.

    Args:
        path: the DuckDB file.
        read_only: open without write access (for queries and the ``sql`` command).
        snapshot_fallback: read-only only: when a writer holds the file, open its published
            snapshot instead (False: fail as busy; ``export`` wants the file itself).
        older_ok: read-only only: accept a store at an older schema version as it is
            (``export`` copies it unchanged; queries need the current schema).
        private: read-only only: a DuckDB instance of its own, so settings made on it (the
            ``sql`` command's lock-down) do not reach other connections of this process.

    Returns:
        An open DuckDB connection; the caller closes it.

    Raises:
        StoreError: the file is locked by another writer, is not a DuckDB database, is
            corrupted, is a DuckDB file that is not a newsdedup store, is at a schema version
            newer than this code, or (read-only) does not exist / needs migrating.
    """
    path = Path(path)
    exists = inspect_store_file(path, must_exist=read_only)
    if read_only:
        return _connect_checked(path, True, snapshot_fallback, older_ok, private)
    if exists:
        # every check on a read-only connection first: a refused file is never opened for writing
        try:
            _connect_checked(path, True, snapshot_fallback=False, older_ok=True).close()
        except OpenInThisProcess:
            pass  # open read-write here already, so checked already; DuckDB shares that instance
    else:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder of {path}: {exc.strerror or exc}; pass --db with another path.") from None
    con = _connect_checked(path, False, snapshot_fallback=False, older_ok=True)
    try:
        if apply_migrations(con):  # a rebuilt articles table no longer needs its index room
            set_memory_limit(con, memory_limit(writer=True, keyed_articles=_keyed_articles(con)))
    except duckdb.Error as exc:
        con.close()
        if is_out_of_memory(exc):
            raise StoreError(out_of_memory_message(path, exc)) from exc
        raise StoreError(
            f"cannot migrate store {path} to schema version {latest_version()}: {_one_line(str(exc))}. "
            "The failed migration was rolled back and the store is still readable at its old version; report this."
        ) from exc
    except BaseException:
        con.close()
        raise
    return con


def _connect_checked(
    path: Path, read_only: bool, snapshot_fallback: bool, older_ok: bool, private: bool = False
) -> duckdb.DuckDBPyConnection:
    """Connect to the store (or, read-only and busy, its snapshot), set the session, run the checks."""
    opened = path
    try:
        con = _connect_reader(path, private) if read_only else _attach_for_writing(path)
    except duckdb.Error as exc:
        error = _store_error_from(path, exc, read_only)
        snapshot = snapshot_path(path)
        if not (read_only and snapshot_fallback and "is busy" in str(error)):
            raise error from exc
        if not snapshot.exists():  # the usual case: a store's first ingest, before its first publish
            raise StoreError(
                f"{error} Readers use the snapshot {snapshot.name} that a writer publishes after its "
                "first committed batch; this store has none yet, so retry in a moment (unless that "
                "writer runs with NEWSDEDUP_SNAPSHOT=off)."
            ) from exc
        # a writer holds the file: answer from the snapshot it publishes (storage/snapshot.py)
        try:
            con = _connect_reader(snapshot, private)
        except duckdb.Error:
            raise error from exc
        opened = snapshot
    try:
        con.execute("SET TimeZone = 'UTC'").fetchall()
        # DuckDB would cache up to 80% of RAM; a fixed pool keeps a long ingest's memory flat
        set_memory_limit(con, memory_limit(not read_only, _keyed_articles(con)))
        # results are ordered explicitly where order matters; this lets bulk inserts stream
        con.execute("SET preserve_insertion_order = false").fetchall()
        con.execute("SET enable_progress_bar = false").fetchall()  # it would write into our output
        if read_only:  # a read-write instance of this process may have blocks not yet on disk
            _check_complete(con, opened)
        _check_is_newsdedup_store(con, path)
        current = schema_version(con)
        if current > latest_version():
            raise StoreError(
                f"store {path} is at schema version {current}, newer than this newsdedup "
                f"(knows up to {latest_version()}); upgrade newsdedup, or open it with the version that wrote it."
            )
        if current < latest_version() and not older_ok:
            raise StoreError(
                f"store {path} is at schema version {current} and needs migrating to "
                f"{latest_version()}: run `newsdedup upgrade --db {path}` (or any ingest into it) once."
            )
    except duckdb.Error as exc:
        con.close()
        raise _store_error_from(path, exc, read_only) from exc
    except BaseException:
        con.close()
        raise
    return con


# read-write instances this process holds, by resolved path: DuckDB refuses to attach one file
# twice in a process, so a second writer in the same process gets a connection to the first
_writers: dict[str, duckdb.DuckDBPyConnection] = {}


def _connect_reader(path: Path, private: bool) -> duckdb.DuckDBPyConnection:
    """A read-only connection: normally DuckDB's shared instance of the file; ``private`` gives
    an instance of its own (file attached READ_ONLY), whose settings (e.g. no external access,
    locked configuration) then cannot leak into other connections of this process."""
    if not private:
        return duckdb.connect(str(path), read_only=True)
    con = duckdb.connect()
    try:
        con.execute("ATTACH ? AS store (READ_ONLY)", [str(path)]).fetchall()
        con.execute("USE store").fetchall()
    except BaseException:
        con.close()
        raise
    return con


def _attach_for_writing(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-write connection whose default catalog is the store, attached with our row-group size.

    The row-group size is an ATTACH option (not kept in the file), so every writer opens this way.
    """
    key = str(path.resolve())
    owner = _writers.get(key)
    if owner is not None:
        try:
            con = owner.cursor()
            con.execute("USE store").fetchall()
            return con
        except duckdb.Error:  # closed since: attach afresh
            del _writers[key]
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH ? AS store (ROW_GROUP_SIZE {ROW_GROUP_SIZE})", [str(path)]).fetchall()
        con.execute("USE store").fetchall()
    except BaseException:
        con.close()
        raise
    _writers[key] = con
    return con


def _check_complete(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Refuse a file too short to hold the blocks its header says are in use (DuckDB reads blocks
    lazily, so a truncated copy would open and fail, or silently lack rows, only when a query
    reaches them). Free blocks do not count: DuckDB itself cuts free blocks off the file's end."""
    row = con.execute(
        "SELECT total_blocks, free_blocks, block_size FROM pragma_database_size() WHERE database_name = current_database()"
    ).fetchall()
    if row and row[0][0] is not None and row[0][2]:
        total_blocks, free_blocks, block_size = row[0]
        used = total_blocks - (free_blocks or 0)
        if path.exists() and path.stat().st_size < _DUCKDB_HEADERS + used * block_size:
            raise StoreError(_truncated(path))


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
