"""Learned per-source boilerplate: how many stories of a source carry each short line."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pyarrow as pa

from storage.arrow_tables import registered
from storage.articles import stored_bodies
from storage.lookup_memory import with_lookup_headroom


@with_lookup_headroom
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
    # sum the increments per line, keeping the text of each line's first occurrence
    summed: dict[tuple[str, int], list] = {}
    for source, key, line, n in counts:
        entry = summed.setdefault((source, int(key)), [line, 0])
        entry[1] += int(n)
    keys = list(summed)
    table = pa.table(
        {
            "source": pa.array([k[0] for k in keys], pa.string()),
            "line_key": pa.array([k[1] for k in keys], pa.int64()),
            "line": pa.array([summed[k][0] for k in keys], pa.string()),
            "n_new": pa.array([summed[k][1] for k in keys], pa.int32()),
        }
    )
    # no key index (migration 8): find the stored lines with one join, add to them, insert the rest
    with registered(con, table, "boilerplate") as view:
        stored = {
            (source, int(key))
            for source, key in con.execute(
                f"SELECT b.source, b.line_key FROM source_boilerplate AS b JOIN {view} AS c USING (source, line_key)"
            ).fetchall()
        }
        if stored:
            con.execute(
                f"""
                UPDATE source_boilerplate AS b SET n_stories = b.n_stories + c.n_new
                FROM {view} AS c WHERE b.source = c.source AND b.line_key = c.line_key
                """
            ).fetchall()
    fresh = pa.array([k not in stored for k in keys], pa.bool_())
    if len(stored) < len(keys):
        with registered(con, table.filter(fresh), "new_lines") as view:
            con.execute(
                f"""
                INSERT INTO source_boilerplate (source, line_key, line, n_stories, first_run_id)
                SELECT source, line_key, line, n_new, ? FROM {view}
                """,
                [run_id],
            ).fetchall()
    return len(keys)


@with_lookup_headroom
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


@with_lookup_headroom
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
    bodies = stored_bodies(con, list(keys_of))
    return [(aid, bodies[aid][1], keys_of[aid]) for aid in sorted(bodies, key=lambda a: bodies[a][0])]
