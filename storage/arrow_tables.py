"""Arrow tables built from batch records, and a scoped way to let SQL read them (bulk, never row by row)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

import duckdb
import numpy as np
import pyarrow as pa

from parsers.article import Rejection
from storage.records import DuplicateLink, StoredArticle

_TS = pa.timestamp("us", tz="UTC")
_names = itertools.count()


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, table: pa.Table, prefix: str = "batch") -> Iterator[str]:
    """Expose ``table`` to SQL under a fresh name for the ``with`` body, then drop the name.

    Args:
        con: connection.
        table: the Arrow table (zero-copy scan by DuckDB).
        prefix: readable part of the view name.

    Yields:
        The view name to use in SQL (an identifier this module made, never user input).
    """
    name = f"_{prefix}_{next(_names)}"
    con.register(name, table)
    try:
        yield name
    except BaseException:
        # a failed statement: inside a transaction DuckDB now refuses every command but
        # ROLLBACK, and that ROLLBACK drops the view registered in it; outside one, drop it here
        if not _transaction_aborted(con):
            con.unregister(name)
        raise
    con.unregister(name)


def _transaction_aborted(con: duckdb.DuckDBPyConnection) -> bool:
    """True when ``con`` is inside a transaction that an error has aborted."""
    try:
        con.execute("SELECT 1").fetchall()
    except duckdb.TransactionException:
        return True
    return False


def as_utc(value: datetime | None) -> datetime | None:
    """Naive datetimes are taken as UTC; aware ones are converted to UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def articles_table(articles: Sequence[StoredArticle], run_id: str, now: datetime) -> pa.Table:
    """Arrow table with the ``articles`` columns, in table order."""
    return pa.table(
        {
            "article_id": pa.array([a.article_id for a in articles], pa.string()),
            "seq": pa.array([a.seq for a in articles], pa.int64()),
            "source": pa.array([a.source for a in articles], pa.string()),
            "source_uri": pa.array([a.source_uri for a in articles], pa.string()),
            "url": pa.array([a.url for a in articles], pa.string()),
            "title": pa.array([a.title for a in articles], pa.string()),
            "dateline": pa.array([a.dateline for a in articles], pa.string()),
            "byline": pa.array([a.byline for a in articles], pa.string()),
            "published_at": pa.array([as_utc(a.published_at) for a in articles], _TS),
            "body": pa.array([a.body for a in articles], pa.string()),
            "word_count": pa.array([a.word_count for a in articles], pa.int32()),
            "content_hash": pa.array([a.content_hash for a in articles], pa.string()),
            "text_hash": pa.array([a.text_hash for a in articles], pa.string()),
            "cluster_id": pa.array([a.cluster_id for a in articles], pa.string()),
            "is_canonical": pa.array([bool(a.is_canonical) for a in articles], pa.bool_()),
            "ingested_at": pa.array([as_utc(a.ingested_at) or now for a in articles], _TS),
            "run_id": pa.array([a.run_id or run_id for a in articles], pa.string()),
            "url_key": pa.array([a.url_key for a in articles], pa.string()),
        }
    )


def removed_lines_table(articles: Sequence[StoredArticle]) -> pa.Table:
    """Arrow table with the ``removed_lines`` rows of these articles."""
    rows = [(a.article_id, r) for a in articles for r in a.removed]
    return pa.table(
        {
            "article_id": pa.array([aid for aid, _ in rows], pa.string()),
            "position": pa.array([r.position for _, r in rows], pa.int32()),
            "line": pa.array([r.text for _, r in rows], pa.string()),
            "rule": pa.array([r.rule for _, r in rows], pa.string()),
            "evidence": pa.array([r.evidence for _, r in rows], pa.int32()),
            "kind": pa.array([r.kind or None for _, r in rows], pa.string()),
        }
    )


def signatures_table(articles: Sequence[StoredArticle]) -> pa.Table:
    """Arrow table (article_id, signature) with signatures as little-endian uint32 bytes."""
    return pa.table(
        {
            "article_id": pa.array([a.article_id for a in articles], pa.string()),
            "signature": pa.array(
                [np.ascontiguousarray(a.signature, dtype="<u4").tobytes() for a in articles], pa.binary()
            ),
        }
    )


def bands_table(articles: Sequence[StoredArticle]) -> pa.Table:
    """Arrow table (band_key, article_id): one row per article per band key it carries."""
    keys = [np.asarray(a.band_keys).reshape(-1) for a in articles]
    counts = np.array([len(k) for k in keys], dtype=np.int64)
    ids = pa.array([a.article_id for a in articles], pa.string())
    flat = np.concatenate(keys).astype(np.int64, copy=False) if keys else np.empty(0, np.int64)
    # uint64 keys are reinterpreted bit for bit (DuckDB BIGINT is signed)
    if flat.dtype != np.int64:
        flat = flat.view(np.int64)
    return pa.table({"band_key": pa.array(flat, pa.int64()), "article_id": ids.take(np.repeat(np.arange(len(keys)), counts))})


def links_table(links: Sequence[DuplicateLink], run_id: str) -> pa.Table:
    """Arrow table with the ``duplicate_links`` columns."""
    return pa.table(
        {
            "article_id": pa.array([l.article_id for l in links], pa.string()),
            "duplicate_of": pa.array([l.duplicate_of for l in links], pa.string()),
            "kind": pa.array([l.kind for l in links], pa.string()),
            "similarity": pa.array([l.similarity for l in links], pa.float64()),
            "run_id": pa.array([run_id] * len(links), pa.string()),
        }
    )


def rejections_table(rejections: Sequence[Rejection], run_id: str, now: datetime) -> pa.Table:
    """Arrow table with the ``rejected_inputs`` columns."""
    return pa.table(
        {
            "source": pa.array([r.source for r in rejections], pa.string()),
            "source_uri": pa.array([r.source_uri for r in rejections], pa.string()),
            "content_hash": pa.array([r.content_hash for r in rejections], pa.string()),
            "reason": pa.array([r.reason for r in rejections], pa.string()),
            "detail": pa.array([r.detail for r in rejections], pa.string()),
            "run_id": pa.array([run_id] * len(rejections), pa.string()),
            "rejected_at": pa.array([now] * len(rejections), _TS),
        }
    )
