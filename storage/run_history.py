"""What earlier runs covered: lets a backfill skip days that are already ingested."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb


def last_finished_run(con: duckdb.DuckDBPyConnection, paths: Sequence[str]) -> datetime | None:
    """When the latest run over exactly `paths` that finished (ok or partial) started.

    Args:
        con: any connection to the store (the read snapshot is enough).
        paths: the run's inputs, as the run was given them.

    Returns:
        Its ``started_at`` (UTC), or None if no such run finished.
    """
    row = con.execute(
        "SELECT max(started_at) FROM ingest_runs WHERE paths = ?::VARCHAR[] AND status IN ('ok', 'partial')",
        [[str(p) for p in paths]],
    ).fetchone()
    return row[0] if row else None


def largest_stories_of_run(con: duckdb.DuckDBPyConnection, run_id: str, limit: int = 10) -> list[dict]:
    """The largest story clusters that a run added articles to.

    Args:
        con: connection to the store.
        run_id: the run.
        limit: maximum rows.

    Returns:
        Dicts with ``cluster_id``, ``title``, ``size``, ``n_sources`` and ``new_in_run``.
    """
    rows = con.execute(
        """
        WITH touched AS (SELECT cluster_id, count(*) AS new_in_run FROM articles WHERE run_id = ? GROUP BY cluster_id)
        SELECT s.cluster_id, s.title, s.size, s.n_sources, t.new_in_run
        FROM stories s JOIN touched t USING (cluster_id)
        ORDER BY s.size DESC, t.new_in_run DESC, s.cluster_id LIMIT ?
        """,
        [run_id, int(limit)],
    ).fetchall()
    return [dict(zip(("cluster_id", "title", "size", "n_sources", "new_in_run"), r)) for r in rows]
