"""Read side: stories, one story, rejections, run summaries, and read-only ad-hoc SQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb

from storage.store import StoreError, is_damage, open_store, store_errors

# statement types an ad-hoc query may have (DESCRIBE/SHOW/SUMMARIZE parse as SELECT)
_READ_STATEMENTS = {"SELECT", "EXPLAIN"}


class QueryRefused(StoreError):
    """An ad-hoc query would write (or is not a single read statement)."""


class QueryFailed(StoreError):
    """An ad-hoc read query failed on its own terms (unknown table or column, bad cast...)."""


# the shortest story-id prefix `story` accepts (ids are 16 hex characters)
MIN_STORY_PREFIX = 6


def _dicts(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def _decoded_json(rows: list[tuple], types: list[str]) -> list[tuple]:
    """Rows with the text of JSON (and JSON[]) columns parsed into Python values."""
    def value(text: str | None) -> Any:
        return None if text is None else json.loads(text)

    def values(texts: list | None) -> list | None:
        return None if texts is None else [value(t) for t in texts]

    decoders = {i: value if t == "JSON" else values for i, t in enumerate(types) if t in ("JSON", "JSON[]")}
    if not decoders:
        return rows
    return [tuple(decoders[i](v) if i in decoders else v for i, v in enumerate(row)) for row in rows]


def run_readonly_sql(path: str | Path, query: str, decode_json: bool = False) -> tuple[list[str], list[tuple]]:
    """Run one read-only query against the store file and return its result.

    The file is opened ``read_only`` and with external file access disabled (no COPY TO,
    ATTACH or reading other files), and only SELECT-like statements are accepted, so nothing
    can be written.

    Args:
        path: the store file.
        query: exactly one SELECT / WITH / FROM / DESCRIBE / SHOW / SUMMARIZE / EXPLAIN statement.
        decode_json: give the values of ``JSON`` and ``JSON[]`` columns (e.g.
            ``dedup_config.settings``) as Python objects instead of the JSON text DuckDB returns,
            so that JSON output nests them rather than quoting them as strings.

    Returns:
        ``(column_names, rows)``.

    Raises:
        QueryRefused: the query writes, or is not exactly one statement; the message says why.
        QueryFailed: the query itself fails (unknown table or column, bad cast...).
        StoreError: the store cannot be opened (missing, busy, not a store) or is damaged.
    """
    con = open_store(path, read_only=True, private=True)  # the lock-down below stays in its own instance
    try:
        con.execute("SET enable_external_access = false").fetchall()
        con.execute("SET lock_configuration = true").fetchall()
        try:
            statements = con.extract_statements(query)
        except duckdb.ParserException as exc:
            raise QueryRefused(f"cannot parse the query: {exc}") from exc
        if len(statements) != 1:
            raise QueryRefused(f"give exactly one statement (got {len(statements)}).")
        kind = statements[0].type.name
        if kind not in _READ_STATEMENTS:
            raise QueryRefused(
                f"refused: {kind} statements are not allowed; the sql command is read-only "
                "(SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN)."
            )
        try:
            cursor = con.execute(query)
            columns = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
            if decode_json:
                rows = _decoded_json(rows, [str(d[1]) for d in cursor.description])
            return columns, rows
        except duckdb.Error as exc:
            if is_damage(exc):  # the file is the problem, not the query
                with store_errors(path):
                    raise
            raise QueryFailed(f"query failed: {exc}") from exc
    finally:
        con.close()


def top_stories(con: duckdb.DuckDBPyConnection, limit: int = 20) -> list[dict[str, Any]]:
    """Return the largest story clusters (size, then number of sources, then first seen).

    Args:
        con: open connection.
        limit: maximum rows.

    Returns:
        Rows of the ``stories`` view as dicts.
    """
    return _dicts(
        con.execute(
            "SELECT * FROM stories ORDER BY size DESC, n_sources DESC, first_seen, cluster_id LIMIT ?",
            [int(limit)],
        )
    )


def story(con: duckdb.DuckDBPyConnection, cluster_id: str) -> dict[str, Any]:
    """Return one story cluster with its articles.

    Args:
        con: open connection.
        cluster_id: the cluster (its founder's article_id), or the id of any article in it, or
            a unique prefix of either (at least ``MIN_STORY_PREFIX`` characters).

    Returns:
        The ``stories`` row as a dict plus ``articles``: one dict per article (ordered by seq)
        with article_id, seq, source, source_uri, title, body, published_at, is_canonical,
        duplicate_of, link_kind, similarity (NULL for the founder / unlinked) and
        removed_lines (count).

    Raises:
        KeyError: no such cluster, or a prefix that several story ids start with; its message
            says which, for the user.
    """
    asked = cluster_id
    cluster_id = cluster_id.strip().lower()  # ids are lower-case hex; a copied id may not be
    summary = _dicts(con.execute("SELECT * FROM stories WHERE cluster_id = ?", [cluster_id]))
    if not summary:
        # an article id names the story it belongs to
        row = con.execute("SELECT cluster_id FROM articles WHERE article_id = ?", [cluster_id]).fetchall()
        if row:
            cluster_id = row[0][0]
            summary = _dicts(con.execute("SELECT * FROM stories WHERE cluster_id = ?", [cluster_id]))
    if not summary and len(cluster_id) >= MIN_STORY_PREFIX:
        # a unique prefix of a story id is enough
        found = con.execute(
            "SELECT DISTINCT cluster_id FROM articles WHERE starts_with(cluster_id, ?) LIMIT 2", [cluster_id]
        ).fetchall()
        what = "story ids"
        if not found:  # or of an article id (`story` prints article ids too): its story
            what = "article ids in different stories"
            found = con.execute(
                "SELECT DISTINCT cluster_id FROM articles WHERE starts_with(article_id, ?) LIMIT 2", [cluster_id]
            ).fetchall()
        if len(found) == 1:
            cluster_id = found[0][0]
            summary = _dicts(con.execute("SELECT * FROM stories WHERE cluster_id = ?", [cluster_id]))
        elif found:
            raise KeyError(f"{asked!r} is the start of several {what}; give more of its characters")
    if not summary:
        short = f" (a prefix needs at least {MIN_STORY_PREFIX} of the id's 16 characters)" if len(cluster_id) < MIN_STORY_PREFIX else ""
        raise KeyError(f"no story or article with id {asked!r}{short}")
    articles = _dicts(
        con.execute(
            """
            SELECT a.article_id, a.seq, a.source, a.source_uri, a.title, a.body, a.published_at, a.is_canonical,
                   l.duplicate_of, l.kind AS link_kind, l.similarity,
                   (SELECT count(*) FROM removed_lines AS r WHERE r.article_id = a.article_id) AS removed_lines
            FROM articles AS a
            LEFT JOIN duplicate_links AS l ON l.article_id = a.article_id
            WHERE a.cluster_id = ?
            ORDER BY a.seq
            """,
            [cluster_id],
        )
    )
    return {**summary[0], "articles": articles}


def rejected(con: duckdb.DuckDBPyConnection, run_id: str | None = None) -> list[dict[str, Any]]:
    """Return rejected inputs, optionally only those of one run.

    Args:
        con: open connection.
        run_id: restrict to this run.

    Returns:
        ``rejected_inputs`` rows as dicts, oldest first.
    """
    return _dicts(
        con.execute(
            """
            SELECT * FROM rejected_inputs
            WHERE ? IS NULL OR run_id = ?
            ORDER BY rejected_at, source, source_uri, reason
            """,
            [run_id, run_id],
        )
    )


def run_summary(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any]:
    """Return one ``ingest_runs`` row plus rejection counts by reason.

    Args:
        con: open connection.
        run_id: the run.

    Returns:
        The run row as a dict plus ``rejected_by_reason: {reason: count}``.

    Raises:
        KeyError: no such run.
    """
    rows = _dicts(con.execute("SELECT * FROM ingest_runs WHERE run_id = ?", [run_id]))
    if not rows:
        raise KeyError(f"no ingest run {run_id!r}")
    reasons = con.execute(
        "SELECT reason, count(*) FROM rejected_inputs WHERE run_id = ? GROUP BY reason ORDER BY reason", [run_id]
    ).fetchall()
    return {**rows[0], "rejected_by_reason": dict(reasons)}
