"""Typed records exchanged between the engine and the store (what one batch writes, what lookups return)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from parsers.article import Rejection, RemovedLine


@dataclass(slots=True)
class StoredArticle:
    """One ``articles`` row plus what is stored beside it (removed lines, signature, band keys).

    Attributes mirror the ``articles`` columns (see docs/SCHEMA.md). ``published_at`` and
    ``ingested_at`` may be naive (taken as UTC) or aware; ``ingested_at=None`` means "now" at
    write time, ``run_id=None`` means the run passed to ``write_batch``.
    ``signature``: uint32 array (num_perm,). ``band_keys``: int64 array (bands,) — may be empty
    for an article that must not enter the LSH index (empty signature).
    """

    article_id: str
    seq: int
    source: str
    source_uri: str
    content_hash: str
    text_hash: str
    cluster_id: str
    title: str | None
    body: str
    signature: np.ndarray
    band_keys: np.ndarray
    url: str | None = None
    dateline: str | None = None
    byline: str | None = None
    published_at: datetime | None = None
    word_count: int | None = None
    is_canonical: bool = False
    ingested_at: datetime | None = None
    run_id: str | None = None
    removed: list[RemovedLine] = field(default_factory=list)
    line_keys: list[int] = field(default_factory=list)  # keys of its short lines (learned-boilerplate candidates)
    url_key: str | None = None  # canonical-URL key, an exact-duplicate key beside text_hash


@dataclass(slots=True)
class ArticleRewrite:
    """A stored article whose body lost lines learned as boilerplate after it was stored.

    Attributes: the new ``body``, ``word_count`` and ``text_hash``, its new ``signature`` and
    ``band_keys`` (same shapes as ``StoredArticle``), and the newly ``removed`` lines.
    """

    article_id: str
    body: str
    word_count: int
    text_hash: str
    signature: np.ndarray
    band_keys: np.ndarray
    removed: list[RemovedLine]


@dataclass(frozen=True, slots=True)
class DuplicateLink:
    """``article_id`` was found to duplicate the stored (or same-batch) ``duplicate_of``.

    ``kind`` is ``"exact"`` (same text_hash) or ``"near"`` (verified Jaccard ``similarity``).
    """

    article_id: str
    duplicate_of: str
    kind: str
    similarity: float


@dataclass(slots=True)
class BatchWrite:
    """Everything one engine batch stores, written by ``write_batch`` in ONE transaction.

    Attributes:
        articles: new articles (ids already stored are skipped).
        links: one per duplicate article.
        merges: ``(absorbed_cluster_id, into_cluster_id)`` in the order decided.
        rejections: inputs of this batch that did not become articles.
        boilerplate_counts: ``(source, line_key, line, n_new_stories)`` increments.
        rewrites: stored articles stripped of lines that became boilerplate with this batch.
    """

    articles: list[StoredArticle] = field(default_factory=list)
    links: list[DuplicateLink] = field(default_factory=list)
    merges: list[tuple[str, str]] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    boilerplate_counts: list[tuple[str, int, str, int]] = field(default_factory=list)
    rewrites: list[ArticleRewrite] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class BatchWritten:
    """What ``write_batch`` stored.

    Attributes:
        inserted: ids of the articles this write inserted (ids already stored were skipped).
        rejections_recorded: rejections recorded for the first time; one seen by an earlier
            run (same source, input, content hash and reason) is not recorded again.
    """

    inserted: frozenset[str]
    rejections_recorded: int


@dataclass(frozen=True, slots=True)
class StoredMatch:
    """A stored article found by a lookup, with what the dedup step needs to decide a link.

    Attributes:
        article_id: the stored article.
        cluster_id: its story cluster.
        cluster_rank: ``seq`` of the cluster's founder (the article whose id is cluster_id);
            the lower rank wins when clusters merge.
        seq: the article's own ingestion order.
        body: stored body text (only from ``fetch_for_verification``).
    """

    article_id: str
    cluster_id: str
    cluster_rank: int
    seq: int
    body: str | None = None
