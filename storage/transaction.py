"""One helper: run a block of statements as a single DuckDB transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run the ``with`` body in one transaction: COMMIT on success, ROLLBACK and re-raise on error.

    Args:
        con: an open connection with no transaction in progress.

    Yields:
        The same connection.

    Raises:
        Whatever the body raises (after rolling back); a duckdb error raised by COMMIT
        (DuckDB has then already discarded the transaction).
    """
    con.execute("BEGIN TRANSACTION").fetchall()
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK").fetchall()
        raise
    # a COMMIT that fails (e.g. a constraint) ends the transaction itself; nothing to roll back
    con.execute("COMMIT").fetchall()
