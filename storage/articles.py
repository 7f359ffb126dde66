"""Lookups on stored articles that the dedup engine runs per batch.

Cost model (measured in bench/storage_scale.py, DuckDB 2.0.1): ``WHERE article_id = ANY(?)``
and joins against a small Arrow table turn into a primary-key ART *Index Scan* only while the
probe side has at most ``dynamic_or_filter_threshold`` (default 50) keys; with more keys DuckDB
scans the narrow ``article_id`` column (~25 ms per 1M rows) and fetches the other columns only
for matching rows. ``fetch_for_verification`` therefore probes in chunks of 50 so reading
``body`` stays O(ids), whatever the store size.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import duckdb

from storage.lookup_memory import with_lookup_headroom
from storage.records import StoredMatch

# DuckDB turns a hash join / IN list into an ART index lookup up to this many keys
INDEX_PROBE_CHUNK = 50


def _chunks(values: Sequence[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


@with_lookup_headroom
def next_seq(con: duckdb.DuckDBPyConnection) -> int:
    """Return the next free ``seq`` (1 for an empty store).

    Args:
        con: open connection.

    Returns:
        ``max(seq) + 1``.
    """
    return con.execute("SELECT coalesce(max(seq), 0) + 1 FROM articles").fetchall()[0][0]


@with_lookup_headroom
def existing_article_ids(con: duckdb.DuckDBPyConnection, article_ids: Sequence[str]) -> set[str]:
    """Return the subset of ``article_ids`` already stored.

    Args:
        con: open connection.
        article_ids: candidate ids (duplicates allowed).

    Returns:
        The ids present in ``articles``.
    """
    wanted = sorted(set(article_ids))
    if not wanted:
        return set()
    rows = con.execute("SELECT article_id FROM articles WHERE article_id = ANY(?)", [wanted]).fetchall()
    return {row[0] for row in rows}


@with_lookup_headroom
def exact_matches(con: duckdb.DuckDBPyConnection, text_hashes: Sequence[str]) -> dict[str, StoredMatch]:
    """For each text_hash already stored, the lowest-seq article carrying it.

    Args:
        con: open connection.
        text_hashes: exact-duplicate keys of the new articles.

    Returns:
        ``{text_hash: StoredMatch}`` (without body) for the hashes found; ``cluster_rank`` is
        the seq of the matched article's cluster founder.
    """
    return _first_holders(con, "text_hash", text_hashes)


@with_lookup_headroom
def url_matches(con: duckdb.DuckDBPyConnection, url_keys: Sequence[str]) -> dict[str, StoredMatch]:
    """For each canonical-URL key already stored, the lowest-seq article carrying it.

    Returns:
        ``{url_key: StoredMatch}`` (without body), like ``exact_matches``.
    """
    return _first_holders(con, "url_key", url_keys)


def _first_holders(con: duckdb.DuckDBPyConnection, column: str, keys: Sequence[str]) -> dict[str, StoredMatch]:
    """The lowest-seq article per value of an exact-duplicate key column (a narrow scan)."""
    if column not in ("text_hash", "url_key"):
        raise ValueError(f"not an exact-duplicate key column: {column!r}")
    wanted = sorted({k for k in keys if k})
    if not wanted:
        return {}
    rows = con.execute(
        f"""
        SELECT {column}, arg_min(article_id, seq) AS article_id,
               arg_min(cluster_id, seq) AS cluster_id, min(seq) AS seq
        FROM articles
        WHERE {column} = ANY(?)
        GROUP BY {column}
        """,
        [wanted],
    ).fetchall()
    # a holder that founded its cluster is its own rank; others need their founder's seq
    founders = _founder_seqs(con, {cid for _, aid, cid, _ in rows if cid != aid})
    return {
        key: StoredMatch(article_id=aid, cluster_id=cid, cluster_rank=founders.get(cid, seq) if cid != aid else seq, seq=seq)
        for key, aid, cid, seq in rows
    }


@with_lookup_headroom
def fetch_for_verification(
    con: duckdb.DuckDBPyConnection, article_ids: Sequence[str], with_body: bool = True
) -> dict[str, StoredMatch]:
    """Fetch body, cluster and ranks of candidate articles, to verify near-duplicate links.

    Probes the primary key in chunks of ``INDEX_PROBE_CHUNK`` ids so that DuckDB uses the ART
    index (cost O(ids), independent of the store size) instead of scanning ``body``.

    Args:
        con: open connection.
        article_ids: stored article ids (unknown ids are ignored).
        with_body: False skips reading (and decompressing) the bodies, for candidates whose
            shingles the caller still holds.

    Returns:
        ``{article_id: StoredMatch}``, with ``body`` set when ``with_body``.
    """
    found: dict[str, StoredMatch] = {}
    body_column = "a.body" if with_body else "NULL"
    for chunk in _chunks(sorted(set(article_ids)), INDEX_PROBE_CHUNK):
        rows = con.execute(
            f"""
            SELECT a.article_id, a.cluster_id, a.seq, {body_column}
            FROM articles AS a
            WHERE a.article_id = ANY(?)
            """,
            [chunk],
        ).fetchall()
        founders = _founder_seqs(con, {row[1] for row in rows})
        for aid, cid, seq, body in rows:
            found[aid] = StoredMatch(article_id=aid, cluster_id=cid, cluster_rank=founders.get(cid, seq), seq=seq, body=body)
    return found


def _founder_seqs(con: duckdb.DuckDBPyConnection, cluster_ids: set[str]) -> dict[str, int]:
    """``{cluster_id: seq of the article whose id is cluster_id}``, by index probes."""
    founders: dict[str, int] = {}
    for chunk in _chunks(sorted(cluster_ids), INDEX_PROBE_CHUNK):
        rows = con.execute("SELECT article_id, seq FROM articles WHERE article_id = ANY(?)", [chunk]).fetchall()
        founders.update(dict(rows))
    return founders
