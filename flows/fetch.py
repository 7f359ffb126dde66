"""Fetch feeds, sitemaps and URL lists, archive every body, ingest the pages: engine and Prefect flow.

One run, step by step (``fetch_sources``):

1. read the sources file (``docs/SOURCES.md``); a bad file stops the run before the store
   is touched;
2. archived pages that never became an article or a rejection (a run stopped between
   archiving and storing) are ingested first, from the archive;
3. each source document is fetched conditionally (the ETag / Last-Modified stored in
   ``feed_state``); a 304 means nothing new; a 200 is archived and parsed into entry URLs;
4. entry URLs already fetched or stored (``raw_archive``, ``articles.url``/``source_uri``)
   are skipped, then at most ``max_items`` new ones per source are fetched on the worker
   threads (per-host limits in ``flows.fetcher``), in a fixed order;
5. batch by batch: the pages' bodies are archived (one transaction), then the pages go
   through the ingestion engine (``flows.pipeline.IngestRun``) as ``RawArticle(kind="html")``
   exactly like dumps: parsed, cleaned, signed, linked to stories, one transaction per batch;
   every fetch failure is a row in ``rejected_inputs``;
6. a source document's validators are stored last, and only when none of its entries failed
   for a transient reason, so a timeout is retried by the next run instead of hidden by a 304.

The Prefect flow ``fetch`` wraps the engine and publishes the per-host counts (fetched,
304, retried, failed, robots-blocked) as the table artifact ``fetch-hosts``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from prefect import flow, get_run_logger

from flows.fetcher import DOCUMENT_TYPES, FetchConfig, Fetcher, FetchResult, PAGE_TYPES
from flows.pipeline import IngestRun, IngestSettings, IngestSummary, batches, parse_and_sign
from parsers.article import RawArticle, Rejected, Rejection, content_hash
from parsers.feeds import FeedEntry, FeedSource, load_sources, parse_source_document
from storage import raw_archive
from storage.raw_archive import ArchivedBody

log = logging.getLogger("newsdedup.fetch")

# fetch failures worth another try on the next run (the feed's validators are then not stored)
TRANSIENT_REASONS = frozenset({"timeout", "connection_error", "http_error", "dns_error"})
MAX_CHILD_SITEMAPS = 50


@dataclass(frozen=True)
class FetchSettings:
    """One fetch run: the sources file, how to fetch, and how to ingest (``IngestSettings``)."""

    sources_path: Path
    ingest: IngestSettings
    fetch: FetchConfig = field(default_factory=FetchConfig)


@dataclass
class SourceCounts:
    """What one source gave in a run."""

    document: str = ""  # 200, 304 or the rejection reason of its document
    entries: int = 0
    known: int = 0
    over_max_items: int = 0
    pages_fetched: int = 0
    pages_failed: int = 0


@dataclass
class FetchSummary:
    """Counts of one fetch run: the ingestion summary, per host and per source."""

    ingest: IngestSummary
    hosts: list[dict[str, object]] = field(default_factory=list)
    sources: dict[str, SourceCounts] = field(default_factory=dict)
    archived: int = 0
    recovered: int = 0


@dataclass
class _Work:
    """Pages to fetch for one source and what must happen once they are done."""

    source: FeedSource
    entries: list[FeedEntry]
    validators: list[tuple[str, FetchResult]]  # documents whose feed_state to record at the end


def _page_raw(source: str, body: ArchivedBody, published=None) -> RawArticle:
    fields = {"url": body.url, "final_url": body.final_url}
    if published is not None:
        fields["published"] = published.isoformat()
    return RawArticle(source=source, uri=body.final_url, payload=body.body, kind="html", fields=fields)


def _archived(result: FetchResult, source: str, kind: str) -> ArchivedBody:
    return ArchivedBody(result.url, result.final_url, source, kind, result.status, result.headers,
                        result.fetched_at, content_hash(result.body), result.body)


def fetch_sources(
    settings: FetchSettings,
    on_progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    run_id: str | None = None,
) -> FetchSummary:
    """Fetch every source in the sources file and ingest the new pages into the store.

    Args:
        settings: see :class:`FetchSettings`.
        on_progress: called with 1 after each page (fetched or failed).
        on_total: called once with the number of pages the run will try.
        run_id: id of the run (a new time-ordered id if None).

    Returns:
        The run's counts (``ingest`` is the same summary an ingest run prints).

    Raises:
        FileNotFoundError: the sources file does not exist (nothing written).
        ValueError: the sources file or ``allow_private_hosts`` is invalid (nothing written).
        storage.store.StoreError: the database cannot be opened or is in use.
    """
    sources = load_sources(settings.sources_path)
    run = IngestRun(settings.ingest, [s.url for s in sources], run_id)
    with Fetcher(settings.fetch) as fetcher, run:
        summary = FetchSummary(run.summary)
        con = run.con
        recovered = raw_archive.unprocessed_pages(con)
        summary.recovered = len(recovered)
        rejections: list[Rejection] = []
        work = [_read_source(fetcher, con, s, summary, rejections, run.summary.run_id) for s in sources]
        _claim_entries(con, work, summary)
        if on_total:
            on_total(sum(len(w.entries) for w in work))
        if recovered or rejections:
            _ingest_chunk(run, [_page_raw(b.source, b) for b in recovered] + rejections)
        failed_transient: Counter = Counter()
        to_archive: list[ArchivedBody] = []

        def pages() -> Iterator[RawArticle | Rejection]:
            requests = [
                (e.url, w.source.name, w.source.delay, e.published) for w in work for e in w.entries
            ]
            done = fetcher.fetch_many(((url, src, delay) for url, src, delay, _ in requests), fn=_fetch_page(fetcher))
            for (url, src, _, published), result in zip(requests, done):
                counts = summary.sources[src]
                if on_progress:
                    on_progress(1)
                if isinstance(result, Rejection):
                    counts.pages_failed += 1
                    if result.reason in TRANSIENT_REASONS:
                        failed_transient[src] += 1
                    yield result
                    continue
                counts.pages_fetched += 1
                body = _archived(result, src, "page")
                to_archive.append(body)
                yield _page_raw(src, body, published)

        for chunk in batches(pages(), settings.ingest.batch_size):
            # bodies first: a crash after this commit leaves pages that step 2 of the next run ingests
            summary.archived += raw_archive.store_bodies(con, to_archive, run.summary.run_id)
            to_archive.clear()
            _ingest_chunk(run, chunk)
        for w in work:
            if failed_transient[w.source.name]:
                log.info("%s: %d pages failed transiently; its validators are not stored, so the next run reads it in full",
                         w.source.name, failed_transient[w.source.name])
                continue
            for url, result in w.validators:
                raw_archive.record_feed_fetch(
                    con, url, w.source.name, result.status, result.fetched_at,
                    result.headers.get("etag"), result.headers.get("last-modified"),
                )
        summary.hosts = fetcher.host_rows()
    return summary


def _fetch_page(fetcher: Fetcher):
    def fetch(url: str, source: str, delay: float | None):
        return fetcher.fetch(url, source, accept=PAGE_TYPES, delay=delay)

    return fetch


def _ingest_chunk(run: IngestRun, chunk: list[RawArticle | Rejection]) -> None:
    """One batch through the engine: skip stored ids, parse and sign here, link and write."""
    fresh, rejections = run.prepare(chunk)
    signed = parse_and_sign(fresh, run.rules, run.config, run.learned()) if fresh else None
    run.store(signed, rejections)


def _read_source(fetcher: Fetcher, con, source: FeedSource, summary: FetchSummary,
                 rejections: list[Rejection], run_id: str) -> _Work:
    """Fetch a source's document (and a sitemap index's children) conditionally; list its entries."""
    counts = summary.sources.setdefault(source.name, SourceCounts())
    work = _Work(source, [], [])
    queue = [(source.url, source.kind)]
    children = 0
    while queue:
        url, kind = queue.pop(0)
        etag, last_modified = raw_archive.feed_validators(con, url)
        result = fetcher.fetch(url, source.name, etag=etag, last_modified=last_modified,
                               accept=DOCUMENT_TYPES, delay=source.delay)
        if isinstance(result, Rejection):
            counts.document = counts.document or result.reason
            rejections.append(result)
            continue
        counts.document = counts.document or str(result.status)
        work.validators.append((url, result))
        if result.not_modified:
            continue
        body = _archived(result, source.name, kind)
        summary.archived += raw_archive.store_bodies(con, [body], run_id)
        try:
            doc = parse_source_document(kind, result.body, result.final_url)
        except Rejected as why:
            rejections.append(Rejection(source.name, url, why.reason, why.detail, body.content_hash))
            work.validators.pop()  # a broken document is read again next time
            continue
        work.entries.extend(doc.entries)
        for child in doc.sitemaps:
            if children < MAX_CHILD_SITEMAPS:
                children += 1
                queue.append((child, "sitemap"))
    counts.entries = len(work.entries)
    return work


def _claim_entries(con, work: list[_Work], summary: FetchSummary) -> None:
    """Drop entries already fetched or stored (and repeats across sources); apply max_items."""
    known = raw_archive.known_urls(con, [e.url for w in work for e in w.entries])
    claimed: set[str] = set()
    for w in work:
        counts = summary.sources[w.source.name]
        fresh = []
        for e in w.entries:
            if e.url in known or e.url in claimed:
                counts.known += 1
                continue
            claimed.add(e.url)
            fresh.append(e)
        if w.source.max_items is not None and len(fresh) > w.source.max_items:
            counts.over_max_items = len(fresh) - w.source.max_items
            for e in fresh[w.source.max_items:]:
                claimed.discard(e.url)
            fresh = fresh[: w.source.max_items]
        w.entries = fresh


@dataclass
class ReprocessReport:
    """What re-parsing the raw archive changed, compared with the store it came from."""

    ingest: IngestSummary
    into: Path
    pages: int = 0
    body_changed: list[tuple[str, str]] = field(default_factory=list)
    merged: list[tuple[str, list[str]]] = field(default_factory=list)
    split: list[tuple[str, list[str]]] = field(default_factory=list)
    only_new: list[str] = field(default_factory=list)
    only_old: list[str] = field(default_factory=list)


def reprocess_archive(
    from_db: Path, settings: IngestSettings, on_progress: Callable[[int], None] | None = None, run_id: str | None = None
) -> ReprocessReport:
    """Re-parse every archived page of ``from_db`` into ``settings.db_path`` with the current rules (no network).

    The pages' raw rows are copied too, so the new store can itself be reprocessed later.
    Then the two stores are compared article by article (``storage.raw_archive.compare_with``).

    Args:
        from_db: the store whose raw archive is read (opened read-only: nothing changes in it).
        settings: where to write and how to ingest (threshold, rules, batch size).
        on_progress: called with the number of pages after each batch.
        run_id: id of the run (a new time-ordered id if None).

    Raises:
        ValueError: ``settings.db_path`` is ``from_db`` (re-parsing in place would mix old and new).
        storage.store.StoreError: a store cannot be opened, or ``from_db`` is damaged.
    """
    from storage.store import open_store, store_errors

    if Path(from_db).resolve() == Path(settings.db_path).resolve():
        raise ValueError(f"reprocess writes a new store; give another path than {from_db}")
    with store_errors(from_db, only_damage=True):  # a damaged block of from_db shows when it is read
        return _reprocess(from_db, settings, on_progress, run_id)


def _reprocess(from_db: Path, settings: IngestSettings, on_progress: Callable[[int], None] | None, run_id: str | None) -> ReprocessReport:
    from storage.store import open_store

    source_con = open_store(from_db, read_only=True)
    run = IngestRun(settings, [f"raw_archive:{from_db}"], run_id)
    try:
        with run:
            report = ReprocessReport(run.summary, Path(settings.db_path))
            bodies: list[ArchivedBody] = []

            def pages() -> Iterator[RawArticle]:
                for body in raw_archive.iter_pages(source_con):
                    bodies.append(body)
                    yield _page_raw(body.source, body)

            for chunk in batches(pages(), settings.batch_size):
                raw_archive.store_bodies(run.con, bodies, run.summary.run_id)
                bodies.clear()
                _ingest_chunk(run, chunk)
                report.pages += len(chunk)
                if on_progress:
                    on_progress(len(chunk))
    finally:
        source_con.close()
    con = open_store(settings.db_path, read_only=True)
    try:
        diff = raw_archive.compare_with(con, str(from_db))
    finally:
        con.close()
    report.body_changed, report.merged, report.split = diff["body_changed"], diff["merged"], diff["split"]
    report.only_new, report.only_old = diff["only_new"], diff["only_old"]
    return report


def ingest_archived_day(
    settings: IngestSettings, day: date, reprocess: bool = False, run_id: str | None = None
) -> IngestSummary:
    """Ingest the pages archived on one UTC fetch day from the store's own raw archive (no network).

    Each page goes through the engine exactly as a fetched one does. Without ``reprocess``
    only pages that became neither an article nor a rejection are read (a fetch stopped
    between archiving and storing). With it, every page of the day is parsed again with the
    current parsers and rules: a page rejected before may become an article now; a page
    already stored keeps its article (same bytes, same id: nothing is added twice; to see
    how stored articles would parse now, ``newsdedup reprocess --into`` writes a new store).

    Args:
        settings: the store (``db_path``, also the archive read) and how to ingest.
        day: the fetch day (UTC).
        reprocess: read every page of the day, not only unprocessed ones.
        run_id: id of the run (a new time-ordered id if None).

    Raises:
        storage.store.StoreError: the store cannot be opened or stays busy.
    """
    run = IngestRun(settings, [f"raw_archive:{day.isoformat()}"], run_id)
    with run:
        pages = raw_archive.iter_pages(run.con, chunk=settings.batch_size, fetched_on=day, unprocessed_only=not reprocess)
        for chunk in batches((_page_raw(b.source, b) for b in pages), settings.batch_size):
            _ingest_chunk(run, chunk)
    return run.summary


@flow(name="reprocess", log_prints=False)
def reprocess(from_db: str, into_db: str, threshold: float = 0.8, batch_size: int = 2000,
              rules: str | None = None) -> dict[str, object]:
    """Re-parse the raw archive of ``from_db`` into ``into_db`` with the current rules; report what changed.

    Returns:
        Counts (pages, articles whose body changed, clusters merged/split); also the
        ``reprocess-report`` table artifact.
    """
    from prefect.artifacts import create_table_artifact

    settings = IngestSettings(db_path=Path(into_db), threshold=threshold, batch_size=batch_size, workers=0,
                              rules_path=Path(rules) if rules else None)
    report = reprocess_archive(Path(from_db), settings)
    rows = reprocess_rows(report)
    get_run_logger().info("reprocess %s -> %s: %s", from_db, into_db, rows)
    create_table_artifact(table=rows, key="reprocess-report", description=f"reprocess {from_db} -> {into_db}")
    return {r["metric"]: r["value"] for r in rows}


def reprocess_rows(report: ReprocessReport) -> list[dict[str, object]]:
    """The report's counts as metric/value rows."""
    return [{"metric": k, "value": v} for k, v in [
        ("pages re-parsed", report.pages),
        ("articles", report.ingest.new),
        ("already in the new store (an earlier reprocess into it)", report.ingest.already_stored),
        ("rejected", report.ingest.rejected),
        ("bodies changed", len(report.body_changed)),
        ("clusters merged", len(report.merged)),
        ("clusters split", len(report.split)),
        ("articles only in the new store", len(report.only_new)),
        ("articles only in the old store", len(report.only_old)),
    ]]


def host_table(summary: FetchSummary) -> list[dict[str, object]]:
    """Per-host counts as rows (the ``fetch-hosts`` artifact and the CLI table)."""
    return [dict(row) for row in summary.hosts]


# ---------------------------------------------------------------------------------------
# Prefect

@flow(name="fetch", log_prints=False)
def fetch(
    sources: str,
    db_path: str | None = None,
    threshold: float = 0.8,
    batch_size: int = 2000,
    allow_private_hosts: list[str] | None = None,
    delay: float = 1.0,
    timeout: float = 10.0,
    respect_robots: bool = True,
) -> dict[str, object]:
    """Fetch the sources file's feeds, sitemaps and URL lists and ingest the new pages.

    Args:
        sources: path of the sources file (TOML, see docs/SOURCES.md).
        db_path: the DuckDB file (default: $NEWSDEDUP_DB or ./data/news.duckdb).
        threshold: Jaccard similarity at which two articles are one story.
        batch_size: pages per transaction.
        allow_private_hosts: addresses/networks that may be fetched although private.
        delay: minimum seconds between requests to one host.
        timeout: seconds per connect/read.
        respect_robots: honour robots.txt.

    Returns:
        Run counts; the per-host counts are also published as the ``fetch-hosts`` table artifact.
    """
    from prefect.artifacts import create_table_artifact

    from storage.store import default_db_path

    logger = get_run_logger()
    settings = FetchSettings(
        Path(sources),
        IngestSettings(db_path=Path(db_path) if db_path else default_db_path(), threshold=threshold,
                       batch_size=batch_size, workers=0),
        FetchConfig(allow_private_hosts=tuple(allow_private_hosts or ()), delay=delay, timeout=timeout,
                    respect_robots=respect_robots),
    )
    summary = fetch_sources(settings)
    s = summary.ingest
    logger.info("fetch run %s %s: new %d, rejected %d, archived %d bodies", s.run_id, s.status, s.new, s.rejected, summary.archived)
    create_table_artifact(table=host_table(summary), key="fetch-hosts",
                          description=f"newsdedup fetch run {s.run_id}: per-host counts")
    return {"run_id": s.run_id, "status": s.status, "new articles": s.new, "rejected": s.rejected,
            "rejected by reason": dict(s.rejected_by_reason), "archived": summary.archived, "hosts": host_table(summary)}

