"""Lookups on stored articles that the dedup engine runs per batch.

``articles`` has no key index since schema v10 (an ART index is held in memory and grew the
writer with the store). Cost model on a 1M store (DuckDB 2.0.1, measured 2026-12-04): a
lookup by ``article_id`` is a hash join built on the wanted ids and probed by a scan of the
narrow ``article_id`` column, ~35 ms for 600 ids; bodies are fetched by ``seq``, which
increases with the stored order, so the join's runtime filter prunes row groups by their
zone maps and ``body`` is read only where candidates are (600 bodies 0.16-0.22 s, 2,000
0.34 s; through the old key index, 50 bodies took ~3 ms, at the cost of that index's memory).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

import duckdb
import pyarrow as pa

from storage.arrow_tables import registered
from storage.lookup_memory import with_lookup_headroom
from storage.records import StoredMatch

# Bodies fetched per query: bounds what one fetch holds (about 3 KB per body) while keeping
# the per-query scan of the seq column rare (2,000 seqs took 0.34 s on a 1M store)
BODY_FETCH_CHUNK = 2000


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
    return stored_ids(con, article_ids)


def stored_ids(con: duckdb.DuckDBPyConnection, article_ids: Sequence[str]) -> set[str]:
    """``existing_article_ids`` without the out-of-memory retry, for use inside the batch's
    write transaction (where an error aborts the transaction)."""
    return {row[0] for row in _id_lookup(con, "article_id", article_ids)}


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
    con: duckdb.DuckDBPyConnection, article_ids: Sequence[str], without_body: Collection[str] = ()
) -> dict[str, StoredMatch]:
    """Fetch body, cluster and ranks of candidate articles, to verify near-duplicate links.

    Three look-ups whatever the number of ids: their seq and cluster (a scan of the narrow
    ``article_id`` column), their clusters' founders (another), then the bodies by ``seq``
    (2,000 a query), whose zone maps skip every row group without a candidate, so the wide
    ``body`` column is read only where candidates are.

    Args:
        con: open connection.
        article_ids: stored article ids (unknown ids are ignored).
        without_body: ids among ``article_ids`` whose bodies are not read (nor decompressed):
            candidates whose shingles the caller still holds.

    Returns:
        ``{article_id: StoredMatch}``, with ``body`` set unless the id is in ``without_body``.
    """
    rows = _id_lookup(con, "article_id, cluster_id, seq", article_ids)
    founders = {aid: seq for aid, _, seq in rows}
    founders.update(_founder_seqs(con, {cid for _, cid, _ in rows} - founders.keys()))
    skip = set(without_body)
    bodies = _bodies_by_seq(con, [seq for aid, _, seq in rows if aid not in skip])
    return {
        aid: StoredMatch(article_id=aid, cluster_id=cid, cluster_rank=founders.get(cid, seq), seq=seq, body=bodies.get(seq))
        for aid, cid, seq in rows
    }


def stored_bodies(con: duckdb.DuckDBPyConnection, article_ids: Sequence[str]) -> dict[str, tuple[int, str]]:
    """``{article_id: (seq, body)}`` of the stored articles among ``article_ids``.

    Args:
        con: open connection.
        article_ids: article ids (unknown ids are ignored).

    Returns:
        Their seq and body.
    """
    rows = _id_lookup(con, "article_id, seq", article_ids)
    bodies = _bodies_by_seq(con, [seq for _, seq in rows])
    return {aid: (seq, bodies[seq]) for aid, seq in rows}


def _id_lookup(con: duckdb.DuckDBPyConnection, columns: str, article_ids: Iterable[str]) -> list[tuple]:
    """``columns`` of the stored articles among ``article_ids``: one hash join whose build side
    is the ids, probed by a scan of the narrow ``article_id`` column."""
    wanted = sorted(set(article_ids))
    if not wanted:
        return []
    with registered(con, pa.table({"article_id": pa.array(wanted, pa.string())}), "wanted_ids") as view:
        return con.execute(
            f"SELECT {columns} FROM articles SEMI JOIN {view} AS w ON articles.article_id = w.article_id"
        ).fetchall()


def _bodies_by_seq(con: duckdb.DuckDBPyConnection, seqs: Sequence[int]) -> dict[int, str]:
    """``{seq: body}``; the join's runtime filter on ``seq`` prunes row groups by their zone
    maps (seq increases with the stored order), so the cost follows the number of seqs."""
    bodies: dict[int, str] = {}
    ordered = sorted(set(seqs))
    if not ordered:
        return bodies
    threads = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
    # one scanning thread (a setting of the DuckDB instance, set back below): each thread pins
    # the body blocks of the vectors it reads, and with two a fetch on a store of ~8k mostly
    # uncheckpointed articles failed in the writer's 48 MB in 3 runs of 3
    con.execute("SET threads = 1").fetchall()
    try:
        for start in range(0, len(ordered), BODY_FETCH_CHUNK):
            chunk = ordered[start : start + BODY_FETCH_CHUNK]
            bodies.update(con.execute("SELECT seq, body FROM articles WHERE seq = ANY(?)", [chunk]).fetchall())
    finally:
        con.execute(f"SET threads = {int(threads)}").fetchall()
    return bodies


def _founder_seqs(con: duckdb.DuckDBPyConnection, cluster_ids: set[str]) -> dict[str, int]:
    """``{cluster_id: seq of the article whose id is cluster_id}``."""
    return dict(_id_lookup(con, "article_id, seq", cluster_ids))
