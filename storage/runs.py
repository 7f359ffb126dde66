"""The ``ingest_runs`` record: one row per run, written at start and completed at finish."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import duckdb

RUN_STATUSES = ("running", "ok", "partial", "failed")
COUNT_COLUMNS = (
    "n_read",
    "n_new",
    "n_already_stored",
    "n_exact_dups",
    "n_near_dups",
    "n_rejected",
    "n_clusters_merged",
    "n_rejected_new",
)


def start_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    source: str | None,
    paths: Sequence[str],
    threshold: float,
    version: str,
) -> None:
    """Record a run as ``running``.

    Args:
        con: read-write connection.
        run_id: unique run id.
        source: source name given to the run (None when taken from the inputs).
        paths: inputs the run will read (stored as VARCHAR[]).
        threshold: near-duplicate Jaccard threshold of the run.
        version: newsdedup version.

    Raises:
        duckdb.ConstraintException: ``run_id`` already exists.
    """
    con.execute(
        """
        INSERT INTO ingest_runs (run_id, started_at, status, source, paths, threshold, version)
        VALUES (?, current_timestamp, 'running', ?, ?, ?, ?)
        """,
        [run_id, source, [str(p) for p in paths], float(threshold), version],
    ).fetchall()


INTERRUPTED = (
    "interrupted: the run stopped without finishing (killed or crashed); its committed batches "
    "are kept, and re-running the same input adds what is missing"
)


def close_interrupted_runs(con: duckdb.DuckDBPyConnection) -> int:
    """Mark every run still ``running`` as ``failed`` (interrupted); return how many.

    Call only while holding the writer lock (``storage.locking``): writers take turns, so a
    run still ``running`` then is one whose process died (SIGKILL, power loss) before its finish.
    ``finished_at`` stays NULL: nobody knows when it stopped.
    """
    rows = con.execute(
        "UPDATE ingest_runs SET status = 'failed', error = ? WHERE status = 'running' RETURNING run_id",
        [INTERRUPTED],
    ).fetchall()
    return len(rows)


def finish_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    counts: Mapping[str, int],
    status: str,
    seconds: float,
    error: str | None = None,
) -> None:
    """Complete a run's row with its counts, status and duration.

    Args:
        con: read-write connection.
        run_id: a run recorded by ``start_run``.
        counts: any of ``COUNT_COLUMNS`` (missing ones are stored as 0).
        status: ``ok``, ``partial`` or ``failed`` (or ``running``).
        seconds: wall-clock duration.
        error: first error message for failed/partial runs.

    Raises:
        ValueError: unknown status or count name.
        KeyError: no such run.
    """
    if status not in RUN_STATUSES:
        raise ValueError(f"status must be one of {RUN_STATUSES}, got {status!r}")
    unknown = set(counts) - set(COUNT_COLUMNS)
    if unknown:
        raise ValueError(f"unknown count names {sorted(unknown)}; expected some of {COUNT_COLUMNS}")
    assignments = ", ".join(f"{name} = ?" for name in COUNT_COLUMNS)
    values = [int(counts.get(name, 0)) for name in COUNT_COLUMNS]
    rows = con.execute(
        f"""
        UPDATE ingest_runs
        SET {assignments}, status = ?, seconds = ?, error = ?, finished_at = current_timestamp
        WHERE run_id = ?
        """,
        [*values, status, float(seconds), error, run_id],
    ).fetchall()
    if not rows or rows[0][0] == 0:
        raise KeyError(f"no ingest run {run_id!r}; call start_run first")
