"""The ingestion engine: raw items -> parsed, cleaned, signed articles -> story clusters -> DuckDB.

One batch at a time (thousands of articles): parsing and MinHash signing run in a process
pool (both cores), while the main process owns the single DuckDB connection and does the
cheap, order-dependent part: look-ups against the store, linking to story clusters, learned
boilerplate, and one transaction per batch. The Prefect flow (`flows/ingest.py`) and the CLI
(`flows/cli.py`) both drive this module, so they write identical databases.
"""

from __future__ import annotations

import gc
import logging
import os
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import chain, islice
from pathlib import Path

import numpy as np

from flows.sources import iter_inputs
from parsers.article import Article, RawArticle, Rejected, Rejection
from parsers.dump import parse_raw
from parsers.learned import learnable_lines, line_key, strip_learned
from parsers.normalize import fold_for_matching
from parsers.rules import RuleSet, load_rules
from parsers.signature import DedupConfig, band_keys, sign_many, text_hash
from parsers.story_links import NewArticle, StoredMatch, candidate_pairs, link_to_story, verify_pairs
from storage import articles as store_articles
from storage import lsh_index, runs
from storage.batch import write_batch
from storage.boilerplate import learned_boilerplate, learned_lines, stored_carriers
from storage.dedup_config import ensure_dedup_config
from storage.records import ArticleRewrite, BatchWrite, DuplicateLink, StoredArticle
from storage.store import open_store

log = logging.getLogger("newsdedup")

VERSION = "0.1.0"


@dataclass(frozen=True)
class IngestSettings:
    """Everything one ingestion run needs besides its inputs.

    Attributes:
        db_path: the DuckDB file (created with its schema if missing).
        source: source name for every item; None derives it from the paths (see `flows.sources`).
        threshold: Jaccard similarity at or above which two articles are one story.
        batch_size: articles per transaction (and per unit of parallel work).
        workers: processes that parse and sign; 0 parses in the main process.
        max_bytes: inputs larger than this are rejected as ``too_large``.
        rules_path: optional TOML file with extra or per-source cleaning rules.
        learn_min_stories: a short line carried by this many stories of one source is
            that source's learned boilerplate.
    """

    db_path: Path
    source: str | None = None
    threshold: float = 0.8
    batch_size: int = 2000
    workers: int = field(default_factory=lambda: min(2, os.cpu_count() or 1))
    max_bytes: int = 10 * 1024 * 1024
    rules_path: Path | None = None
    learn_min_stories: int = 4


@dataclass
class IngestSummary:
    """Counts of one run, as printed by the CLI and published as a Prefect artifact."""

    run_id: str
    read: int = 0
    new: int = 0
    new_stories: int = 0
    already_stored: int = 0
    exact_dups: int = 0
    near_dups: int = 0
    rejected: int = 0
    clusters_merged: int = 0
    learned_lines_removed: int = 0
    seconds: float = 0.0
    rejected_by_reason: Counter = field(default_factory=Counter)
    status: str = "running"

    def as_counts(self) -> dict[str, int]:
        return {
            "n_read": self.read,
            "n_new": self.new,
            "n_already_stored": self.already_stored,
            "n_exact_dups": self.exact_dups,
            "n_near_dups": self.near_dups,
            "n_rejected": self.rejected,
            "n_clusters_merged": self.clusters_merged,
        }


def article_id_for(raw: RawArticle) -> str:
    """Stable id of one version of one input: same bytes at the same place -> same id."""
    import hashlib

    key = f"{raw.source}\x00{raw.uri}\x00{raw.content_hash}".encode()
    return hashlib.sha256(key).hexdigest()[:16]


def new_run_id() -> str:
    """Run ids sort by start time, so `ORDER BY run_id` is chronological."""
    now = datetime.now(timezone.utc)
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


@dataclass(slots=True)
class SignedArticle:
    """A parsed article with everything dedup needs, as returned by a worker.

    ``learnable`` holds the article's short lines (line key, text) before any learned
    boilerplate was stripped: each story counts them once towards its source's evidence.
    """

    article_id: str
    article: Article
    folded: str
    text_hash: str
    learnable: list[tuple[int, str]]
    word_count: int


@dataclass(slots=True)
class SignedBatch:
    articles: list[SignedArticle]
    signatures: np.ndarray  # (n, num_perm) uint32
    rejections: list[Rejection]


Learned = dict[str, dict[int, int]]  # source -> line_key -> number of stories carrying the line


def parse_and_sign(
    raws: list[tuple[str, RawArticle]], rules: RuleSet, config: DedupConfig, learned: Learned | None = None
) -> SignedBatch:
    """Parse, clean and sign a chunk of raw items (runs in a worker process).

    Args:
        raws: (article_id, raw item) pairs.
        rules: the cleaning rules.
        config: the pinned MinHash settings.
        learned: each source's learned boilerplate lines, stripped before signing.

    Returns:
        The signed articles in input order, their signatures as one array, and the
        items that could not become articles, each with its reason.
    """
    done: list[SignedArticle] = []
    rejections: list[Rejection] = []
    learned = learned or {}
    for article_id, raw in raws:
        try:
            article = parse_raw(raw, rules)
        except Rejected as why:
            rejections.append(Rejection(raw.source, raw.uri, why.reason, why.detail, raw.content_hash))
            continue
        except RecursionError:
            rejections.append(Rejection(raw.source, raw.uri, "hostile", "markup nested too deeply to parse", raw.content_hash))
            continue
        except Exception as exc:  # a parser bug must cost one input, not the run: record it for a bug report
            log.exception("parser failed on %s", raw.uri)
            rejections.append(Rejection(raw.source, raw.uri, "parser_error", f"{type(exc).__name__}: {exc}", raw.content_hash))
            continue
        learnable = learnable_lines(article)
        known = learned.get(article.source)
        if known:
            hits = {key: known[key] for key, _ in learnable if key in known}
            if hits:
                article = strip_learned(article, hits, keyed=learnable)
        folded = fold_for_matching(article.body)
        done.append(SignedArticle(article_id, article, folded, text_hash(folded), learnable, article.word_count))
    signatures = sign_many([a.folded for a in done], config)
    return SignedBatch(done, signatures, rejections)


Pairs = list[tuple[int, int | str]]
Similarities = dict[tuple[int, int | str], float | None]
Verifier = Callable[[Pairs, dict[int, str], dict[str, str]], Similarities]


def verify_candidates(pairs: Pairs, folded_new: dict[int, str], stored_bodies: dict[str, str], config: DedupConfig) -> Similarities:
    """Exact Jaccard of candidate pairs (runs in a worker process): stored bodies are folded here."""
    folded_stored = {sid: fold_for_matching(body) for sid, body in stored_bodies.items()}
    return verify_pairs(pairs, folded_new, folded_stored, config)


def relax_gc() -> None:
    """Make the cyclic garbage collector rare during a run.

    Parsing and shingling allocate millions of short-lived strings and tuples but build no
    reference cycles, and CPython's default gen-0 threshold (700) made the collector take
    about a quarter of the run (measured on 10k dumps: 12.9 s -> 9.1 s with it disabled).
    Objects alive at start-up are frozen out of collection; the collector still runs.
    """
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


def _init_worker() -> None:
    # The main process links and writes each batch serially and is the pipeline's
    # bottleneck; parse workers yield the CPU to it and soak up what is left.
    os.nice(5)
    relax_gc()


@contextmanager
def relaxed_gc() -> Iterator[None]:
    """`relax_gc` for the duration of a block, then the caller's settings again."""
    before = gc.get_threshold()
    relax_gc()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


RAMP_UP = (250, 250)


def batches(items: Iterable, size: int) -> Iterator[list]:
    """Cut the item stream into batches: two small ones first, then `size` each.

    Workers strip the learned boilerplate committed before their batch was dispatched, and
    a batch is dispatched while the one before it is still being written, so the first two
    batches only learn, and their lines are stripped in the main process at extra cost.
    Small first batches learn a source's furniture early and cheaply. The schedule is fixed,
    so the same input always gives the same batches (and the same database).
    """
    it = iter(items)
    for n in (*(min(r, size) for r in RAMP_UP), None):
        while chunk := list(islice(it, n or size)):
            yield chunk
            if n is not None:
                break


def _split(chunk: list, parts: int) -> list[list]:
    size = max(1, -(-len(chunk) // max(1, parts)))
    return [chunk[i : i + size] for i in range(0, len(chunk), size)]


class _Parser:
    """Runs `parse_and_sign` in a process pool, keeping a batch in flight ahead of the writer."""

    def __init__(self, workers: int, rules: RuleSet, config: DedupConfig):
        self.rules, self.config, self.workers = rules, config, workers
        self.pool = ProcessPoolExecutor(workers, initializer=_init_worker) if workers > 0 else None

    def submit(self, raws: list[tuple[str, RawArticle]], learned: Learned) -> list[Future] | SignedBatch:
        if self.pool is None:
            return parse_and_sign(raws, self.rules, self.config, learned)
        # several small chunks per worker keep both cores busy to the end of the batch
        return [
            self.pool.submit(parse_and_sign, part, self.rules, self.config, learned)
            for part in _split(raws, self.workers * 2)
        ]

    def verify(self, pairs: Pairs, folded_new: dict[int, str], stored_bodies: dict[str, str]) -> Similarities:
        """Verify candidate pairs, spread over the workers (pairs of one article stay together)."""
        if self.pool is None or len(pairs) < 64:
            return verify_candidates(pairs, folded_new, stored_bodies, self.config)
        parts = _split(pairs, self.workers * 2)
        # keep each article's pairs in one part, so its shingles are built once
        for a, b in zip(parts, parts[1:]):
            while b and a and b[0][0] == a[-1][0]:
                a.append(b.pop(0))
        futures = []
        for part in filter(None, parts):
            new_ids = {i for i, _ in part} | {o for _, o in part if isinstance(o, int)}
            stored_ids = {o for _, o in part if isinstance(o, str)}
            futures.append(
                self.pool.submit(
                    verify_candidates, part, {i: folded_new[i] for i in new_ids},
                    {s: stored_bodies[s] for s in stored_ids}, self.config,
                )
            )
        sims: Similarities = {}
        for f in futures:
            sims.update(f.result())
        return sims

    def collect(self, pending: list[Future] | SignedBatch) -> SignedBatch:
        if isinstance(pending, SignedBatch):
            return pending
        parts = [f.result() for f in pending]
        arrays = [p.signatures for p in parts if len(p.articles)]
        sigs = np.vstack(arrays) if arrays else np.empty((0, self.config.num_perm), dtype=np.uint32)
        return SignedBatch([a for p in parts for a in p.articles], sigs, [r for p in parts for r in p.rejections])

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


class IngestRun:
    """One ingestion run against one open store: the steps both the CLI and the Prefect flow call.

    Use as a context manager; the run row is finished (ok / partial / failed) on exit.
    """

    def __init__(self, settings: IngestSettings, paths: list[str], run_id: str | None = None):
        self.settings = settings
        self.paths = [str(p) for p in paths]
        self.rules = load_rules(settings.rules_path) if settings.rules_path else RuleSet()
        self.config = DedupConfig.for_threshold(settings.threshold)
        self.summary = IngestSummary(run_id=run_id or new_run_id())
        self.started = time.perf_counter()
        # ids of the last batches prepared: they may not be committed yet when the next is
        # prepared; older ones are in the store. Bounded, so memory stays flat on long runs.
        self._recent_ids: deque[set[str]] = deque(maxlen=4)
        self.con = None

    def __enter__(self) -> IngestRun:
        self.con = open_store(self.settings.db_path)
        try:
            ensure_dedup_config(self.con, self.config.to_dict())
            runs.start_run(self.con, self.summary.run_id, self.settings.source, self.paths, self.settings.threshold, VERSION)
        except BaseException:
            self.con.close()
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.summary.status = "failed"
        else:
            self.summary.status = "partial" if self.summary.rejected else "ok"
        self.summary.seconds = time.perf_counter() - self.started
        try:
            runs.finish_run(self.con, self.summary.run_id, self.summary.as_counts(), self.summary.status, self.summary.seconds)
        finally:
            self.con.close()

    def items(self) -> Iterator[RawArticle | Rejection]:
        """The run's input items in a stable order (raises FileNotFoundError for a missing path)."""
        return iter_inputs(self.paths, source=self.settings.source, max_bytes=self.settings.max_bytes)

    def prepare(self, chunk: list[RawArticle | Rejection]) -> tuple[list[tuple[str, RawArticle]], list[Rejection]]:
        """Split a chunk into items still to parse (with their ids) and rejections; skip stored ones."""
        raws, rejections = [], []
        for item in chunk:
            if isinstance(item, Rejection):
                rejections.append(item)
            else:
                raws.append((article_id_for(item), item))
        self.summary.read += len(chunk)
        stored = store_articles.existing_article_ids(self.con, [i for i, _ in raws])
        fresh = []
        batch_ids: set[str] = set()
        for aid, raw in raws:
            if aid in stored or aid in batch_ids or any(aid in ids for ids in self._recent_ids):
                self.summary.already_stored += 1
            else:
                batch_ids.add(aid)
                fresh.append((aid, raw))
        self._recent_ids.append(batch_ids)
        return fresh, rejections

    def learned(self) -> Learned:
        """The learned boilerplate committed so far, for workers to strip before signing."""
        return learned_boilerplate(self.con, self.settings.learn_min_stories)

    def store(self, signed: SignedBatch | None, rejections: list[Rejection], verifier: Verifier | None = None) -> BatchWrite:
        """Link a parsed batch to story clusters and write it in one transaction.

        `verifier` computes candidate similarities (default: in this process).
        """
        verifier = verifier or (lambda pairs, new, stored: verify_candidates(pairs, new, stored, self.config))
        return _store_batch(self.con, signed, rejections, self.config, self.settings, self.summary, verifier)


def ingest(
    paths: list[str],
    settings: IngestSettings,
    on_progress: Callable[[int], None] | None = None,
    run_id: str | None = None,
) -> IngestSummary:
    """Ingest every item under `paths` into the store; return the run's counts.

    Re-running on the same inputs adds nothing. A batch is written in one transaction, so a
    run killed at any point leaves whole batches only; the next run skips what is stored.
    Parsing of the next batch overlaps the writing of the current one.

    Args:
        paths: files, directories, globs, archives or JSONL exports.
        settings: see `IngestSettings`.
        on_progress: called with the number of items finished after each batch.
        run_id: id for the run (a new time-ordered id if None).

    Raises:
        FileNotFoundError: a path does not exist (nothing is written).
        storage.store.StoreError: the database cannot be opened or is in use.
    """
    run = IngestRun(settings, paths, run_id)
    items = run.items()
    first = next(items, None)  # surfaces FileNotFoundError before the store is touched
    stream = items if first is None else chain([first], items)
    parser = None
    with run, relaxed_gc():
        parser = _Parser(settings.workers, run.rules, run.config)
        try:
            in_flight: deque = deque()

            def dispatch(chunk: list) -> None:
                fresh, rejections = run.prepare(chunk)
                in_flight.append((len(chunk), rejections, parser.submit(fresh, run.learned()) if fresh else None))

            chunks = batches(stream, settings.batch_size)
            for chunk in islice(chunks, 2):
                dispatch(chunk)
            while in_flight:
                n_items, rejections, pending = in_flight.popleft()
                signed = parser.collect(pending) if pending is not None else None
                run.store(signed, rejections, parser.verify)
                nxt = next(chunks, None)
                if nxt is not None:
                    dispatch(nxt)
                if on_progress:
                    on_progress(n_items)
        finally:
            parser.close()
    return run.summary


def _store_batch(
    con,
    signed: SignedBatch | None,
    rejections: list[Rejection],
    config: DedupConfig,
    settings: IngestSettings,
    summary: IngestSummary,
    verifier: Verifier,
) -> BatchWrite:
    """Link one parsed batch to stories and write it in one transaction."""
    if signed is not None:
        rejections = rejections + signed.rejections
    batch = BatchWrite(articles=[], links=[], merges=[], rejections=rejections, boilerplate_counts=[])
    if signed is not None and signed.articles:
        _link_batch(con, signed, config, settings, summary, batch, verifier)
    write_batch(con, batch, summary.run_id)
    summary.rejected += len(rejections)
    summary.rejected_by_reason.update(r.reason for r in rejections)
    log.info(
        "batch stored: %d new, %d exact dups, %d near dups, %d rejected",
        len(batch.articles), sum(l.kind == "exact" for l in batch.links),
        sum(l.kind == "near" for l in batch.links), len(rejections),
    )
    return batch


def _link_batch(con, signed: SignedBatch, config, settings, summary, batch: BatchWrite, verifier: Verifier) -> None:
    items = signed.articles
    plan, keys = _plan_links(con, items, signed.signatures, config, verifier)
    sigs = _apply_learned_boilerplate(con, signed, plan.links, config, settings, summary, batch)
    if sigs is not signed.signatures:
        # lines that became boilerplate with this batch were stripped here, not in the workers:
        # link again on the final texts, so links never depend on where the batch was cut
        plan, keys = _plan_links(con, items, sigs, config, verifier)
    links, cluster_ids = plan.links, plan.cluster_ids

    now = datetime.now(timezone.utc)
    first_seq = store_articles.next_seq(con)
    summary.new += len(items)
    for i, s in enumerate(items):
        a = s.article
        batch.articles.append(
            StoredArticle(
                article_id=s.article_id,
                seq=first_seq + i,
                source=a.source,
                source_uri=a.source_uri,
                url=a.url,
                title=a.title,
                dateline=a.dateline,
                byline=a.byline,
                published_at=a.published_at,
                body=a.body,
                word_count=s.word_count,
                content_hash=a.content_hash,
                text_hash=s.text_hash,
                cluster_id=cluster_ids[i],
                is_canonical=False,
                ingested_at=now,
                run_id=summary.run_id,
                removed=a.removed,
                line_keys=[k for k, _ in s.learnable],
                signature=sigs[i],
                band_keys=keys[i],
            )
        )
        link = links[i]
        if link is not None:
            batch.links.append(DuplicateLink(s.article_id, link.duplicate_of, link.kind, link.similarity))
            if link.kind == "exact":
                summary.exact_dups += 1
            else:
                summary.near_dups += 1
        else:
            summary.new_stories += 1
    batch.merges = list(plan.merges)
    summary.clusters_merged += len(plan.merges)


def _plan_links(con, items: list[SignedArticle], signatures: np.ndarray, config, verifier: Verifier):
    """Find every candidate (batch and store), verify it, and decide each article's story."""
    keys = band_keys(signatures, config)
    new = [NewArticle(s.article_id, s.folded, s.text_hash, signatures[i], keys[i]) for i, s in enumerate(items)]
    stored_exact = store_articles.exact_matches(con, sorted({s.text_hash for s in items}))
    hits = lsh_index.band_hits(con, keys)
    fetched = store_articles.fetch_for_verification(con, sorted({aid for _, aid in hits}))
    stored = {aid: StoredMatch(m.article_id, m.cluster_id, m.cluster_rank, None, m.seq) for aid, m in fetched.items()}
    pairs = candidate_pairs(new, stored_exact, hits)
    folded_new = {i: items[i].folded for i in {i for i, _ in pairs} | {o for _, o in pairs if isinstance(o, int)}}
    stored_bodies = {sid: fetched[sid].body or "" for sid in {o for _, o in pairs if isinstance(o, str)}}
    similarities = verifier(pairs, folded_new, stored_bodies)
    return link_to_story(new, stored_exact, hits, stored, config, similarities), keys


def _apply_learned_boilerplate(con, signed: SignedBatch, links, config, settings, summary, batch: BatchWrite) -> np.ndarray:
    """Count each new story's short lines for its source; strip the lines that are boilerplate.

    A short line carried by ``learn_min_stories`` stories of a source is that source's
    boilerplate. Only articles that founded a story count (copies of a story count once), so a
    syndicated paragraph never becomes boilerplate. Workers already stripped lines learned in
    earlier batches; here lines that reach the threshold with this batch are stripped from
    every article of the batch that carries them, and from the articles stored before (they
    become rewrites in the batch's transaction). So once a run ends, no article of a source
    carries one of its learned lines, however the input was cut into batches. Articles that
    change are re-signed so stored signatures match stored bodies.

    Returns:
        The batch's signatures (a new array if some articles were re-signed).
    """
    items = signed.articles
    min_stories = settings.learn_min_stories
    stored: dict[tuple[str, int], int] = {}
    for source in sorted({s.article.source for s in items}):
        keys = sorted({k for s in items if s.article.source == source for k, _ in s.learnable})
        for k, n in learned_lines(con, source, keys).items():
            stored[(source, k)] = n
    counts: Counter = Counter()
    line_text: dict[tuple[str, int], str] = {}
    for s, link in zip(items, links):
        if link is None:
            for key, line in s.learnable:
                counts[(s.article.source, key)] += 1
                line_text.setdefault((s.article.source, key), line)
    batch.boilerplate_counts = [(src, key, line_text[(src, key)], n) for (src, key), n in sorted(counts.items())]
    learned = {k: stored.get(k, 0) + n for k, n in counts.items() if stored.get(k, 0) + n >= min_stories}
    learned.update({k: n for k, n in stored.items() if n >= min_stories and k not in learned})

    resign: list[int] = []
    for i, s in enumerate(items):
        source = s.article.source
        already = {r.text for r in s.article.removed}
        hits = {key: learned[(source, key)] for key, line in s.learnable if (source, key) in learned and line not in already}
        if hits:
            stripped = strip_learned(s.article, hits, keyed=s.learnable)
            if stripped.paragraphs != s.article.paragraphs:
                s.article = stripped
                s.word_count = stripped.word_count
                s.folded = fold_for_matching(stripped.body)
                s.text_hash = text_hash(s.folded)
                resign.append(i)
        summary.learned_lines_removed += sum(r.rule == "learned_boilerplate" for r in s.article.removed)

    newly = {k: n for k, n in learned.items() if stored.get(k, 0) < min_stories}
    batch.rewrites = _strip_stored(con, newly, config, summary)
    if not resign:
        return signed.signatures
    sigs = signed.signatures.copy()
    sigs[resign] = sign_many([items[i].folded for i in resign], config)
    return sigs


def _strip_stored(con, newly: dict[tuple[str, int], int], config, summary) -> list[ArticleRewrite]:
    """Rewrites for stored articles that carry lines learned with this batch."""
    rewrites: list[ArticleRewrite] = []
    for source in sorted({src for src, _ in newly}):
        keys = {k: n for (src, k), n in newly.items() if src == source}
        for article_id, body, carried in stored_carriers(con, source, sorted(keys)):
            paragraphs = body.split("\n\n")
            keyed = [(line_key(p), p) for p in paragraphs]
            article = Article(source=source, source_uri="", content_hash="", title="", paragraphs=paragraphs)
            stripped = strip_learned(article, {k: keys[k] for k in carried if k in keys}, keyed=keyed)
            if stripped.paragraphs == paragraphs:
                continue
            folded = fold_for_matching(stripped.body)
            signature = sign_many([folded], config)
            rewrites.append(
                ArticleRewrite(
                    article_id=article_id,
                    body=stripped.body,
                    word_count=stripped.word_count,
                    text_hash=text_hash(folded),
                    signature=signature[0],
                    band_keys=band_keys(signature, config)[0],
                    removed=stripped.removed,
                )
            )
            summary.learned_lines_removed += len(stripped.removed)
    return rewrites
