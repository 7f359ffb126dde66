"""The raw archive: every fetched body, compressed, and the conditional-GET state of feeds.

Tables ``raw_archive`` and ``feed_state`` (migration 5). Bodies are stored as zlib bytes in a
BLOB (news HTML compresses 4-8x); one row per (url, content_hash), so fetching the same
bytes again stores nothing and a changed page is a new row. ``newsdedup reprocess`` reads
pages back from here without the network.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import duckdb
import pyarrow as pa

from storage.transaction import transaction

COMPRESSION = "zlib"
_ZLIB_LEVEL = 6


@dataclass(frozen=True, slots=True)
class ArchivedBody:
    """One fetched body as stored (``body`` uncompressed here; compressed on write)."""

    url: str
    final_url: str
    source: str
    kind: str  # page | feed | sitemap | urls
    status: int
    headers: dict[str, str]
    fetched_at: datetime
    content_hash: str
    body: bytes


def store_bodies(con: duckdb.DuckDBPyConnection, bodies: Sequence[ArchivedBody], run_id: str | None) -> int:
    """Store fetched bodies in one transaction; a (url, content_hash) already stored is skipped.

    Args:
        con: read-write connection, no transaction in progress.
        bodies: what was fetched.
        run_id: the run storing them.

    Returns:
        Rows inserted.
    """
    if not bodies:
        return 0
    table = pa.table(
        {
            "url": [b.url for b in bodies],
            "content_hash": [b.content_hash for b in bodies],
            "final_url": [b.final_url for b in bodies],
            "source": [b.source for b in bodies],
            "kind": [b.kind for b in bodies],
            "status": pa.array([b.status for b in bodies], pa.int32()),
            "headers": [json.dumps(b.headers, ensure_ascii=False, sort_keys=True) for b in bodies],
            "fetched_at": pa.array([b.fetched_at for b in bodies], pa.timestamp("us", tz="UTC")),
            "body": pa.array([zlib.compress(b.body, _ZLIB_LEVEL) for b in bodies], pa.binary()),
            "n_bytes": pa.array([len(b.body) for b in bodies], pa.int64()),
        }
    )
    con.register("_raw_bodies", table)
    try:
        with transaction(con):
            rows = con.execute(
                """
                INSERT INTO raw_archive (url, content_hash, final_url, source, kind, status, headers,
                                         fetched_at, body, compression, n_bytes, run_id)
                SELECT DISTINCT ON (url, content_hash)
                       url, content_hash, final_url, source, kind, status, headers::JSON,
                       fetched_at, body, ?, n_bytes, ?
                FROM _raw_bodies
                ON CONFLICT DO NOTHING
                """,
                [COMPRESSION, run_id],
            ).fetchall()
    finally:
        con.unregister("_raw_bodies")
    return int(rows[0][0]) if rows else 0


def known_urls(con: duckdb.DuckDBPyConnection, urls: Sequence[str]) -> set[str]:
    """The subset of ``urls`` already fetched as pages or stored as articles.

    A URL is known when it is in ``raw_archive`` (asked for, or reached by redirect) or in
    ``articles`` (``url`` -- e.g. a page's canonical URL -- or ``source_uri``).
    """
    wanted = sorted(set(urls))
    if not wanted:
        return set()
    rows = con.execute(
        """
        SELECT u FROM unnest(?::VARCHAR[]) AS t(u)
        WHERE u IN (SELECT url FROM raw_archive WHERE kind = 'page')
           OR u IN (SELECT final_url FROM raw_archive WHERE kind = 'page')
           OR u IN (SELECT url FROM articles WHERE url IS NOT NULL)
           OR u IN (SELECT source_uri FROM articles)
        """,
        [wanted],
    ).fetchall()
    return {r[0] for r in rows}


def feed_validators(con: duckdb.DuckDBPyConnection, url: str) -> tuple[str | None, str | None]:
    """(etag, last_modified) stored for a source document URL, (None, None) if never fetched."""
    rows = con.execute("SELECT etag, last_modified FROM feed_state WHERE url = ?", [url]).fetchall()
    return (rows[0][0], rows[0][1]) if rows else (None, None)


def record_feed_fetch(
    con: duckdb.DuckDBPyConnection,
    url: str,
    source: str,
    status: int,
    fetched_at: datetime,
    etag: str | None = None,
    last_modified: str | None = None,
) -> None:
    """Record a source document fetch: a 200 replaces the validators, a 304 keeps them.

    Call it only once the document's entries have been fetched and archived: validators
    stored earlier would make a crashed run's next attempt get a 304 and skip those entries.
    """
    if status == 304:
        con.execute(
            """
            UPDATE feed_state SET last_status = 304, last_fetched = ?, n_not_modified = n_not_modified + 1
            WHERE url = ?
            """,
            [fetched_at, url],
        ).fetchall()
        return
    con.execute(
        """
        INSERT INTO feed_state (url, source, etag, last_modified, last_status, last_fetched)
        VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (url) DO UPDATE SET source = excluded.source, etag = excluded.etag,
            last_modified = excluded.last_modified, last_status = excluded.last_status,
            last_fetched = excluded.last_fetched
        """,
        [url, source, etag, last_modified, status, fetched_at],
    ).fetchall()


def _decoded(rows: list[tuple]) -> Iterator[ArchivedBody]:
    for url, final_url, source, kind, status, headers, fetched_at, content_hash, body, compression in rows:
        if compression != COMPRESSION:
            raise ValueError(f"raw_archive row {url} uses compression {compression!r}; this code reads {COMPRESSION!r}")
        yield ArchivedBody(
            url, final_url, source, kind, status, json.loads(headers) if headers else {},
            fetched_at, content_hash, zlib.decompress(body),
        )


_COLUMNS = "r.url, r.final_url, r.source, r.kind, r.status, r.headers, r.fetched_at, r.content_hash, r.body, r.compression"


_UNPROCESSED = """
    NOT EXISTS (SELECT 1 FROM articles a WHERE a.source = r.source AND a.source_uri = r.final_url
                AND a.content_hash = r.content_hash)
    AND NOT EXISTS (SELECT 1 FROM rejected_inputs j WHERE j.source = r.source AND j.source_uri = r.final_url
                    AND j.content_hash = r.content_hash)
"""


def _fetch_day(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a UTC calendar day, the unit of a backfill over the archive."""
    start = datetime.combine(day, time.min, tzinfo=timezone.utc)
    return start, start + timedelta(days=1)


def iter_pages(
    con: duckdb.DuckDBPyConnection, chunk: int = 500, fetched_on: date | None = None, unprocessed_only: bool = False
) -> Iterator[ArchivedBody]:
    """Archived pages, oldest fetch first (then url), decompressed, read ``chunk`` rows at a time.

    Args:
        con: a connection to the store; the caller may write through it between chunks.
        chunk: rows per query.
        fetched_on: only pages fetched on this UTC day.
        unprocessed_only: only pages that became neither an article nor a rejection.
    """
    last: tuple | None = None
    day_where, day_params = "", []
    if fetched_on is not None:
        day_where, day_params = "AND r.fetched_at >= ? AND r.fetched_at < ?", list(_fetch_day(fetched_on))
    todo_where = f"AND {_UNPROCESSED}" if unprocessed_only else ""
    while True:
        where, params = ("", []) if last is None else ("AND (r.fetched_at, r.url, r.content_hash) > (?, ?, ?)", list(last))
        rows = con.execute(
            f"""
            SELECT {_COLUMNS} FROM raw_archive AS r
            WHERE r.kind = 'page' {day_where} {todo_where} {where}
            ORDER BY r.fetched_at, r.url, r.content_hash LIMIT ?
            """,
            [*day_params, *params, chunk],
        ).fetchall()
        if not rows:
            return
        yield from _decoded(rows)
        last = (rows[-1][6], rows[-1][0], rows[-1][7])


def pages_fetched_on(con: duckdb.DuckDBPyConnection, day: date) -> tuple[int, int]:
    """(pages archived, of which neither an article nor a rejection yet) for one UTC fetch day."""
    rows = con.execute(
        f"""
        SELECT count(*), count(*) FILTER (WHERE {_UNPROCESSED}) FROM raw_archive AS r
        WHERE r.kind = 'page' AND r.fetched_at >= ? AND r.fetched_at < ?
        """,
        list(_fetch_day(day)),
    ).fetchall()
    return int(rows[0][0]), int(rows[0][1])


def unprocessed_pages(con: duckdb.DuckDBPyConnection) -> list[ArchivedBody]:
    """Archived pages that became neither an article nor a rejection (a run stopped in between).

    Matched on (source, final_url = source_uri, content_hash), the identity of a page's article.
    """
    rows = con.execute(
        f"""
        SELECT {_COLUMNS} FROM raw_archive AS r
        WHERE r.kind = 'page' AND {_UNPROCESSED}
        ORDER BY r.fetched_at, r.url
        """
    ).fetchall()
    return list(_decoded(rows))


def archive_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows per kind in the raw archive (for summaries and tests)."""
    return dict(con.execute("SELECT kind, count(*) FROM raw_archive GROUP BY kind ORDER BY kind").fetchall())


def compare_with(con: duckdb.DuckDBPyConnection, other_path: str) -> dict[str, list]:
    """How the articles in this store differ from the same articles in another store.

    Articles are matched on ``article_id`` (same source, place and bytes). Used by
    ``newsdedup reprocess``: this store holds the re-parsed pages, the other the current one.

    Args:
        con: connection to the new store (read-write or read-only).
        other_path: the store to compare with (attached read-only, detached after).

    Returns:
        ``body_changed``: (article_id, source_uri) whose cleaned body differs;
        ``merged``: (new cluster_id, the old cluster_ids it joins) for new clusters spanning
        several old ones; ``split``: (old cluster_id, the new cluster_ids) for old clusters
        now spread over several; ``only_new`` / ``only_old``: article ids present on one side
        (a page rejected before and parsed now, or the reverse), restricted to pages.
    """
    con.execute("ATTACH ? AS prev (READ_ONLY)", [str(other_path)]).fetchall()
    try:
        changed = con.execute(
            """
            SELECT n.article_id, n.source_uri FROM articles n JOIN prev.articles o USING (article_id)
            WHERE n.body <> o.body ORDER BY n.seq
            """
        ).fetchall()
        merged = con.execute(
            """
            SELECT n.cluster_id, list_sort(list(DISTINCT o.cluster_id))
            FROM articles n JOIN prev.articles o USING (article_id)
            GROUP BY n.cluster_id HAVING count(DISTINCT o.cluster_id) > 1 ORDER BY 1
            """
        ).fetchall()
        split = con.execute(
            """
            SELECT o.cluster_id, list_sort(list(DISTINCT n.cluster_id))
            FROM articles n JOIN prev.articles o USING (article_id)
            GROUP BY o.cluster_id HAVING count(DISTINCT n.cluster_id) > 1 ORDER BY 1
            """
        ).fetchall()
        only_new = con.execute(
            "SELECT article_id FROM articles ANTI JOIN prev.articles USING (article_id) ORDER BY 1"
        ).fetchall()
        only_old = con.execute(
            """
            SELECT o.article_id FROM prev.articles o
            JOIN prev.raw_archive r ON r.kind = 'page' AND r.source = o.source AND r.final_url = o.source_uri
                                   AND r.content_hash = o.content_hash
            ANTI JOIN articles n ON n.article_id = o.article_id ORDER BY 1
            """
        ).fetchall()
    finally:
        con.execute("DETACH prev").fetchall()
    return {
        "body_changed": changed,
        "merged": merged,
        "split": split,
        "only_new": [r[0] for r in only_new],
        "only_old": [r[0] for r in only_old],
    }
