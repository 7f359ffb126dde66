"""Learned per-source boilerplate: how many stories of a source carry each short line."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pyarrow as pa

from storage.arrow_tables import registered


def learned_lines(con: duckdb.DuckDBPyConnection, source: str, line_keys: Sequence[int]) -> dict[int, int]:
    """Return the story counts of the given lines of one source.

    Args:
        con: open connection.
        source: source name.
        line_keys: hashes of folded lines (``parsers.learned.learnable_lines``).

    Returns:
        ``{line_key: n_stories}`` for the keys already counted for ``source``.
    """
    wanted = sorted({int(k) for k in line_keys})
    if not wanted:
        return {}
    rows = con.execute(
        "SELECT line_key, n_stories FROM source_boilerplate WHERE source = ? AND line_key = ANY(?)",
        [source, wanted],
    ).fetchall()
    return {int(k): int(n) for k, n in rows}


def add_boilerplate_counts(
    con: duckdb.DuckDBPyConnection, counts: Sequence[tuple[str, int, str, int]], run_id: str
) -> int:
    """Upsert ``n_stories += k`` for each (source, line_key, line, k); new lines start at k.

    Increments for the same (source, line_key) inside ``counts`` are summed first.

    Args:
        con: connection, normally inside the batch transaction.
        counts: ``(source, line_key, line, n_new_stories)`` tuples.
        run_id: recorded as ``first_run_id`` for lines seen for the first time.

    Returns:
        Number of distinct (source, line_key) rows touched.
    """
    if not counts:
        return 0
    table = pa.table(
        {
            "source": pa.array([c[0] for c in counts], pa.string()),
            "line_key": pa.array([int(c[1]) for c in counts], pa.int64()),
            "line": pa.array([c[2] for c in counts], pa.string()),
            "n_new": pa.array([int(c[3]) for c in counts], pa.int32()),
        }
    )
    with registered(con, table, "boilerplate") as view:
        rows = con.execute(
            f"""
            INSERT INTO source_boilerplate (source, line_key, line, n_stories, first_run_id)
            SELECT source, line_key, first(line), sum(n_new)::INTEGER, ?
            FROM {view}
            GROUP BY source, line_key
            ON CONFLICT (source, line_key) DO UPDATE SET n_stories = n_stories + excluded.n_stories
            """,
            [run_id],
        ).fetchall()
    return int(rows[0][0]) if rows else 0


def learned_boilerplate(con: duckdb.DuckDBPyConnection, min_stories: int) -> dict[str, dict[int, int]]:
    """Every line already learned as boilerplate: carried by at least `min_stories` stories of its source.

    The set is small (a few lines per source), so workers receive it whole and strip learned
    lines before signing.

    Returns:
        ``{source: {line_key: n_stories}}``.
    """
    rows = con.execute(
        "SELECT source, line_key, n_stories FROM source_boilerplate WHERE n_stories >= ? ORDER BY source, line_key",
        [int(min_stories)],
    ).fetchall()
    learned: dict[str, dict[int, int]] = {}
    for source, key, n in rows:
        learned.setdefault(source, {})[int(key)] = int(n)
    return learned


def stored_carriers(con: duckdb.DuckDBPyConnection, source: str, line_keys: Sequence[int]) -> list[tuple[str, str, list[int]]]:
    """Stored articles of `source` that carry any of `line_keys` (from ``article_lines``).

    Returns:
        ``(article_id, body, [keys carried])`` for each such article, in ingestion order.
    """
    wanted = sorted({int(k) for k in line_keys})
    if not wanted:
        return []
    rows = con.execute(
        """
        SELECT l.article_id, list(DISTINCT l.line_key ORDER BY l.line_key)
        FROM article_lines AS l
        WHERE l.source = ? AND l.line_key = ANY(?)
        GROUP BY l.article_id
        """,
        [source, wanted],
    ).fetchall()
    if not rows:
        return []
    keys_of = {aid: [int(k) for k in keys] for aid, keys in rows}
    bodies = {}
    ids = sorted(keys_of)
    for start in range(0, len(ids), 50):  # small IN lists use the primary-key index
        chunk = ids[start : start + 50]
        for aid, seq, body in con.execute(
            "SELECT article_id, seq, body FROM articles WHERE article_id = ANY(?)", [chunk]
        ).fetchall():
            bodies[aid] = (seq, body)
    return [(aid, bodies[aid][1], keys_of[aid]) for aid in sorted(bodies, key=lambda a: bodies[a][0])]
