"""Writing one engine batch: every table touched by a batch, in ONE transaction.

``write_batch`` is all-or-nothing (BEGIN ... COMMIT, ROLLBACK and re-raise on any error) and
idempotent: articles whose id is already stored are skipped together with their removed
lines, signature and band keys, so re-running a committed batch adds nothing. A batch whose
articles are *all* already stored is a replay: its links, merges and boilerplate increments
were applied by the first attempt and are skipped too (``n_stories += k`` would otherwise
count the same stories twice).

Every insert is a bulk ``INSERT ... SELECT`` from an Arrow table; per-batch SQL is O(batch)
plus narrow column scans (article_id, cluster_id), never a scan of ``body``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from parsers.article import Rejection
from storage.arrow_tables import (
    articles_table,
    as_utc,
    links_table,
    registered,
    rejections_table,
    removed_lines_table,
    signatures_table,
    bands_table,
)
from storage.articles import stored_ids
from storage.boilerplate import add_boilerplate_counts
from storage.crashpoints import crashpoint
from storage.lsh_index import insert_bands
from storage.records import ArticleRewrite, BatchWrite, BatchWritten, StoredArticle
from storage.store import memory_budget_bytes
from storage.transaction import transaction

# Body characters per INSERT statement. DuckDB pins a statement's appended rows (several times
# their text) until it ends; rows of earlier statements of the transaction can be unpinned and
# spilled. Without this, 20 articles of 4 MB in one batch failed in an 80 MB writer budget.
INSERT_TEXT_BYTES = 4 << 20

# Extra DuckDB budget per character of a batch's text while the batch is written: the INSERT
# and the checkpoint at its COMMIT hold the text, and a checkpoint that cannot pin its blocks
# invalidates the database. Typical batches need some too: without it, 2 of 6 runs failed
# in the INSERT with the 48 MB budget; a batch of multi-megabyte articles needs all of it.
ROOM_PER_TEXT_BYTE = 6

# Bodies longer than this may exceed DuckDB's 256 KiB block (characters take up to 4 bytes):
# such a string gets a block of its own size, which a checkpoint pins whole.
OVERFLOW_BODY_CHARS = 64 * 1024


@contextmanager
def _room_for(con: duckdb.DuckDBPyConnection, text_bytes: int) -> Iterator[None]:
    """Raise the connection's memory limit by ``ROOM_PER_TEXT_BYTE`` per text byte for the
    block, then set it back exactly (which also evicts what the larger pool cached)."""
    budget = memory_budget_bytes(con)
    con.execute(f"SET memory_limit = '{budget + ROOM_PER_TEXT_BYTE * text_bytes}B'").fetchall()
    try:
        yield
    finally:
        con.execute(f"SET memory_limit = '{budget}B'").fetchall()


_ARTICLE_COLUMNS = (
    "article_id, seq, source, source_uri, url, title, dateline, byline, published_at, body, "
    "word_count, content_hash, text_hash, cluster_id, is_canonical, ingested_at, run_id, url_key"
)


def write_batch(con: duckdb.DuckDBPyConnection, batch: BatchWrite, run_id: str) -> BatchWritten:
    """Store one batch atomically: articles (+ removed lines, signatures, band keys), links,
    rejections, boilerplate increments, cluster merges, then canonical flags.

    After the merges, ``is_canonical`` is recomputed for every cluster the batch touched
    (clusters of its new articles and merge targets): exactly one canonical per cluster,
    the earliest ``published_at`` (NULLs last), then the lowest ``seq``.

    Args:
        con: read-write connection with no transaction in progress.
        batch: what to write.
        run_id: the run writing it (stored on every row).

    Returns:
        The ids of the articles this call inserted (those already stored are skipped) and how
        many of the batch's rejections were recorded for the first time.

    Raises:
        duckdb.Error: any failure; the whole batch was rolled back.
    """
    now = datetime.now(UTC)
    text = sum(len(a.body) for a in batch.articles) + sum(len(r.body) for r in batch.rewrites)
    with _room_for(con, text):
        with transaction(con):
            written = _write_batch(con, batch, run_id, now)
            crashpoint("batch_write.before_commit")
        crashpoint("batch_write.after_commit")
        # DuckDB checkpoints at a COMMIT only every other batch or so (when its log passed
        # 16 MB); a batch left in the log is checkpointed by whatever commits next (the run's
        # finish), outside this room, and a checkpoint that runs out of memory invalidates the
        # database. A body longer than a block gets a block of its own that the checkpoint pins
        # whole ("failed to pin block of size 4.2 MiB"), so a batch carrying one is
        # checkpointed here, inside its room. Other batches leave it to DuckDB: at 1M stored
        # articles a checkpoint per batch cost 0.28 s each.
        if any(len(a.body) > OVERFLOW_BODY_CHARS for a in (*batch.articles, *batch.rewrites)):
            con.execute("CHECKPOINT").fetchall()
    return written


def record_rejections(con: duckdb.DuckDBPyConnection, rejections: Sequence[Rejection], run_id: str) -> int:
    """Record rejected inputs outside a batch (e.g. an unreadable archive). Idempotent.

    Args:
        con: read-write connection.
        rejections: what was rejected and why.
        run_id: the run that rejected them.

    Returns:
        Rows newly recorded (a (source, source_uri, content_hash, reason) seen before is skipped).
    """
    return _insert_rejections(con, rejections, run_id, datetime.now(UTC))


def _write_batch(con: duckdb.DuckDBPyConnection, batch: BatchWrite, run_id: str, now: datetime) -> BatchWritten:
    unique: dict[str, StoredArticle] = {}
    for article in batch.articles:
        unique.setdefault(article.article_id, article)
    candidates = list(unique.values())
    _mark_batch_only_canonicals(candidates)
    inserted = _insert_articles(con, candidates, run_id, now)
    new = [a for a in candidates if a.article_id in inserted]
    existing = set(unique) - inserted
    crashpoint("batch_write.after_articles")
    replay = bool(batch.articles) and not new
    if new:
        _insert_article_details(con, new)
    recorded = _insert_rejections(con, batch.rejections, run_id, now)
    crashpoint("batch_write.after_details")
    if replay:
        return BatchWritten(frozenset(inserted), recorded)
    links = [link for link in batch.links if link.article_id not in existing]
    if links:
        with registered(con, links_table(links, run_id), "links") as view:
            con.execute(
                f"""
                INSERT INTO duplicate_links (article_id, duplicate_of, kind, similarity, run_id)
                SELECT DISTINCT ON (l.article_id) l.article_id, l.duplicate_of, l.kind, l.similarity, l.run_id
                FROM {view} AS l
                """
            ).fetchall()
    crashpoint("batch_write.after_links")
    add_boilerplate_counts(con, batch.boilerplate_counts, run_id)
    _apply_rewrites(con, batch.rewrites)
    final = _apply_merges(con, batch.merges, run_id, now)
    new_ids = {a.article_id for a in new}
    # clusters made only of this batch's articles were settled before the insert; the SQL
    # recompute (a scan of the cluster_id column) is only needed where stored articles take part
    touched = {
        final.get(a.cluster_id, a.cluster_id)
        for a in new
        if existing or a.cluster_id not in new_ids or a.cluster_id in final
    }
    recompute_canonical(con, touched | set(final.values()))
    return BatchWritten(frozenset(inserted), recorded)


def _mark_batch_only_canonicals(new: list[StoredArticle]) -> None:
    """Set is_canonical for clusters founded in this batch (founder id among the new articles)."""
    new_ids = {a.article_id for a in new}
    best: dict[str, StoredArticle] = {}
    for a in new:
        if a.cluster_id not in new_ids:
            continue
        current = best.get(a.cluster_id)
        if current is None or _canonical_key(a) < _canonical_key(current):
            best[a.cluster_id] = a
    for a in new:
        if a.cluster_id in new_ids:
            a.is_canonical = best[a.cluster_id] is a


def _canonical_key(a: StoredArticle) -> tuple:
    """Earliest published_at (NULLs last), then lowest seq."""
    published = as_utc(a.published_at)
    return (published is None, published or datetime.min.replace(tzinfo=UTC), a.seq)


def _insert_articles(con: duckdb.DuckDBPyConnection, articles: list[StoredArticle], run_id: str, now: datetime) -> set[str]:
    """Insert the articles whose id is not stored yet (ids unique within ``articles``); return
    the ids inserted. ``articles`` has no key: the ids stored are looked up in this transaction,
    and the single writer (storage.locking) means none can appear before the commit."""
    stored = stored_ids(con, [a.article_id for a in articles])
    new = [a for a in articles if a.article_id not in stored]
    for part in _by_text_bytes(new, INSERT_TEXT_BYTES):
        with registered(con, articles_table(part, run_id, now), "articles") as view:
            con.execute(f"INSERT INTO articles ({_ARTICLE_COLUMNS}) SELECT {_ARTICLE_COLUMNS} FROM {view}").fetchall()
    return {a.article_id for a in new}


def _by_text_bytes(articles: Sequence[StoredArticle], limit: int) -> Iterator[Sequence[StoredArticle]]:
    """Consecutive runs of articles whose bodies add up to at most `limit` characters (at least
    one article each)."""
    start, size = 0, 0
    for i, a in enumerate(articles):
        if i > start and size + len(a.body) > limit:
            yield articles[start:i]
            start, size = i, 0
        size += len(a.body)
    if start < len(articles):
        yield articles[start:]


def _insert_text_details(con: duckdb.DuckDBPyConnection, rows: Sequence[StoredArticle | ArticleRewrite]) -> None:
    """Removed lines, signature and band keys of articles (new ones, or rewritten ones whose old
    signature and band keys were deleted)."""
    removed = removed_lines_table(rows)
    if removed.num_rows:
        with registered(con, removed, "removed") as view:
            con.execute(
                f"INSERT INTO removed_lines (article_id, position, line, rule, evidence, kind) "
                f"SELECT article_id, position, line, rule, evidence, kind FROM {view}"
            ).fetchall()
    with registered(con, signatures_table(rows), "signatures") as view:
        con.execute(f"INSERT INTO minhash_signatures (article_id, signature) SELECT article_id, signature FROM {view}").fetchall()
    insert_bands(con, bands_table(rows))


def _insert_article_details(con: duckdb.DuckDBPyConnection, new: list[StoredArticle]) -> None:
    """Removed lines, signatures, band keys and short-line keys of newly inserted articles."""
    _insert_text_details(con, new)
    lines = [(a.source, int(k), a.article_id) for a in new for k in a.line_keys]
    if lines:
        table = pa.table(
            {
                "source": pa.array([r[0] for r in lines], pa.string()),
                "line_key": pa.array([r[1] for r in lines], pa.int64()),
                "article_id": pa.array([r[2] for r in lines], pa.string()),
            }
        )
        with registered(con, table, "lines") as view:
            con.execute(f"INSERT INTO article_lines SELECT source, line_key, article_id FROM {view}").fetchall()


def _apply_rewrites(con: duckdb.DuckDBPyConnection, rewrites: Sequence[ArticleRewrite]) -> None:
    """Store new bodies (and their hashes, signatures, band keys, removed lines) of stored articles."""
    if not rewrites:
        return
    table = pa.table(
        {
            "article_id": pa.array([r.article_id for r in rewrites], pa.string()),
            "body": pa.array([r.body for r in rewrites], pa.string()),
            "word_count": pa.array([r.word_count for r in rewrites], pa.int32()),
            "text_hash": pa.array([r.text_hash for r in rewrites], pa.string()),
        }
    )
    with registered(con, table, "rewrites") as view:
        # Replace the rows rather than UPDATE them: DuckDB checkpoints an updated string column
        # by rewriting that column of the whole row group, so one changed body cost a rewrite
        # of ~100k bodies (peak RSS +300 MB at 100k stored, growing with the store); a deleted
        # row costs a deletion mark and the new version lands in the tail row group.
        replaced = con.sql(
            f"SELECT a.* REPLACE (r.body AS body, r.word_count AS word_count, r.text_hash AS text_hash) "
            f"FROM articles AS a JOIN {view} AS r ON a.article_id = r.article_id"
        ).to_arrow_table()
        con.execute(f"DELETE FROM articles WHERE article_id IN (SELECT article_id FROM {view})").fetchall()
        with registered(con, replaced, "replaced") as rows:
            con.execute(f"INSERT INTO articles BY NAME SELECT * FROM {rows}").fetchall()
        con.execute(f"DELETE FROM lsh_bands WHERE article_id IN (SELECT article_id FROM {view})").fetchall()
        crashpoint("learned_rewrite.after_bodies")
        con.execute(f"DELETE FROM minhash_signatures WHERE article_id IN (SELECT article_id FROM {view})").fetchall()
    _insert_text_details(con, rewrites)


def _insert_rejections(con: duckdb.DuckDBPyConnection, rejections: Sequence[Rejection], run_id: str, now: datetime) -> int:
    if not rejections:
        return 0
    with registered(con, rejections_table(rejections, run_id, now), "rejections") as view:
        rows = con.execute(
            f"""
            INSERT INTO rejected_inputs (source, source_uri, content_hash, reason, detail, run_id, rejected_at)
            SELECT DISTINCT ON (r.source, r.source_uri, r.content_hash, r.reason)
                   r.source, r.source_uri, r.content_hash, r.reason, r.detail, r.run_id, r.rejected_at
            FROM {view} AS r
            ANTI JOIN rejected_inputs AS s
                ON s.source = r.source AND s.source_uri = r.source_uri AND s.reason = r.reason
               AND s.content_hash IS NOT DISTINCT FROM r.content_hash
            """
        ).fetchall()
    return int(rows[0][0]) if rows else 0


def _resolve_merges(merges: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Map each absorbed cluster to its final cluster, following chains (a->b, b->c gives a->c)."""
    final: dict[str, str] = {}
    for absorbed, into in merges:
        if absorbed == into:
            continue
        final[absorbed] = into
    for absorbed in list(final):
        seen = {absorbed}
        target = final[absorbed]
        while target in final and target not in seen:
            seen.add(target)
            target = final[target]
        final[absorbed] = target
    return final


def _apply_merges(
    con: duckdb.DuckDBPyConnection, merges: Sequence[tuple[str, str]], run_id: str, now: datetime
) -> dict[str, str]:
    """Move articles of absorbed clusters into their final cluster; record each merge once."""
    final = _resolve_merges(merges)
    if not final:
        return {}
    mapping = pa.table(
        {
            "absorbed": pa.array(list(final), pa.string()),
            "into_id": pa.array(list(final.values()), pa.string()),
        }
    )
    with registered(con, mapping, "merge_map") as view:
        con.execute(
            f"UPDATE articles SET cluster_id = m.into_id FROM {view} AS m WHERE articles.cluster_id = m.absorbed"
        ).fetchall()
    crashpoint("cluster_merge.after_move")
    recorded = pa.table(
        {
            "absorbed_cluster_id": pa.array([a for a, i in merges if a != i], pa.string()),
            "into_cluster_id": pa.array([i for a, i in merges if a != i], pa.string()),
        }
    )
    with registered(con, recorded, "merges") as view:
        con.execute(
            f"""
            INSERT INTO cluster_merges (absorbed_cluster_id, into_cluster_id, run_id, merged_at)
            SELECT DISTINCT m.absorbed_cluster_id, m.into_cluster_id, ?, ?
            FROM {view} AS m
            ANTI JOIN cluster_merges AS c
                ON c.absorbed_cluster_id = m.absorbed_cluster_id AND c.into_cluster_id = m.into_cluster_id
            """,
            [run_id, now],
        ).fetchall()
    return final


def recompute_canonical(con: duckdb.DuckDBPyConnection, cluster_ids: set[str] | Sequence[str]) -> int:
    """Set ``is_canonical`` so each given cluster has exactly one canonical article.

    The canonical article is the earliest ``published_at`` (NULLs last), then the lowest
    ``seq``. Only rows whose flag changes are updated.

    Args:
        con: read-write connection (normally inside the batch transaction).
        cluster_ids: clusters to recompute.

    Returns:
        Number of article rows whose flag changed.
    """
    wanted = sorted(set(cluster_ids))
    if not wanted:
        return 0
    rows = con.execute(
        """
        UPDATE articles
        SET is_canonical = (articles.article_id = c.canonical_id)
        FROM (
            SELECT cluster_id, arg_min(article_id, (published_at IS NULL, published_at, seq)) AS canonical_id
            FROM articles
            WHERE cluster_id = ANY(?)
            GROUP BY cluster_id
        ) AS c
        WHERE articles.cluster_id = c.cluster_id
          AND articles.is_canonical <> (articles.article_id = c.canonical_id)
        """,
        [wanted],
    ).fetchall()
    return int(rows[0][0]) if rows else 0
