"""Main-process side of one batch: link signed articles to story clusters, apply learned
boilerplate, and write the batch in one transaction."""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import numpy as np

from flows.workers import SignedArticle, SignedBatch
from parsers.article import Article, Rejection
from parsers.canonical_url import url_key
from parsers.learned import LEARNED_RULE, line_key, strip_learned
from parsers.normalize import fold_for_matching
from parsers.signature import DedupConfig, band_keys, exact_threshold_met, hashed_jaccard, shingle_hash_sets, sign_many, sign_with_shingles, text_hash
from parsers.story_links import NewArticle, StoredMatch, candidate_pairs, link_to_story
from storage import articles as store_articles
from storage import lsh_index
from storage.batch import write_batch
from storage.boilerplate import learned_lines, stored_carriers
from storage.records import ArticleRewrite, BatchWrite, DuplicateLink, StoredArticle

if TYPE_CHECKING:
    from flows.pipeline import IngestSettings, IngestSummary

log = logging.getLogger("newsdedup")


class RecentShingles:
    """Shingle hash sets of the articles the last few batches stored, by article id.

    Copies of a story arrive close together, so most stored candidates of a batch were stored
    by the batch or two before it (10k synthetic dumps: 67% within two batches). Their sets
    are kept here and those candidates are verified without fetching, decompressing and
    re-shingling their bodies. Bounded (``batches`` batches, ~13 MB each at 2,000 articles),
    so memory stays flat on long runs. An article whose stored body a batch rewrites (learned
    boilerplate) is dropped, so a set here always matches the stored body.
    """

    def __init__(self, batches: int = 2):
        self._batches: deque[dict[str, np.ndarray]] = deque(maxlen=max(0, batches))  # 0: keep nothing

    def get(self, article_id: str) -> np.ndarray | None:
        for sets in reversed(self._batches):
            hashes = sets.get(article_id)
            if hashes is not None:
                return hashes
        return None

    def remember(self, sets: dict[str, np.ndarray], rewritten: Iterable[str]) -> None:
        """Add one stored batch's sets, after dropping the articles whose bodies it rewrote."""
        for aid in rewritten:
            for older in self._batches:
                older.pop(aid, None)
        self._batches.append(sets)


def store_batch(
    con,
    signed: SignedBatch | None,
    rejections: list[Rejection],
    config: DedupConfig,
    settings: IngestSettings,
    summary: IngestSummary,
    recent: RecentShingles | None = None,
) -> BatchWrite:
    """Link one parsed batch to stories and write it in one transaction."""
    recent = recent if recent is not None else RecentShingles(0)
    if signed is not None:
        rejections = rejections + signed.rejections
    batch = BatchWrite(articles=[], links=[], merges=[], rejections=rejections, boilerplate_counts=[])
    if signed is not None and signed.articles:
        _link_batch(con, signed, config, settings, summary, batch, recent)
    written = write_batch(con, batch, summary.run_id)
    if signed is not None:
        recent.remember(
            {s.article_id: s.shingles for s in signed.articles if s.article_id in written.inserted and s.shingles is not None},
            rewritten=[r.article_id for r in batch.rewrites],
        )
    summary.rejected += len(rejections)
    summary.rejected_new += written.rejections_recorded
    summary.rejected_by_reason.update(r.reason for r in rejections)
    log.info(
        "batch stored: %d new, %d exact dups, %d near dups, %d rejected",
        len(batch.articles), sum(l.kind == "exact" for l in batch.links),
        sum(l.kind == "near" for l in batch.links), len(rejections),
    )
    return batch


def _link_batch(con, signed: SignedBatch, config, settings, summary, batch: BatchWrite, recent: RecentShingles) -> None:
    items = signed.articles
    stored = _stored_line_counts(con, items)
    # workers stripped the lines learned when the batch was dispatched, which depends on how far
    # the run had got (and where a killed run stopped); settle every article on the lines
    # learned before this batch, so links, counts and stored rows never depend on it
    signed.signatures = _settle_learned(items, signed.signatures, _learned(stored, settings.learn_min_stories), config)
    memo = _LinkMemo()
    plan, keys = _plan_links(con, items, signed.signatures, config, memo, recent)
    before = [s.text_hash for s in items]
    sigs = _apply_learned_boilerplate(con, signed, stored, plan.links, config, settings, summary, batch)
    if sigs is not signed.signatures:
        # lines that became boilerplate with this batch were stripped here, not in the workers:
        # link again on the final texts, so links never depend on where the batch was cut
        # (only pairs that involve a changed article are verified again)
        memo.forget({i for i, s in enumerate(items) if s.text_hash != before[i]})
        plan, keys = _plan_links(con, items, sigs, config, memo, recent)
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
                url_key=url_key(a.url),
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


class _LinkMemo:
    """What a second linking pass of the same batch can reuse: stored bodies and the
    similarities of pairs whose texts did not change."""

    def __init__(self) -> None:
        self.bodies: dict[str, object] = {}
        self.stored_shingles: dict[str, np.ndarray] = {}
        self.sims: dict[tuple[int, int | str], float | None] = {}

    def forget(self, changed: set[int]) -> None:
        self.sims = {p: s for p, s in self.sims.items() if p[0] not in changed and p[1] not in changed}


def _verify(pairs, items: list[SignedArticle], stored_shingles: dict[str, np.ndarray], config) -> dict:
    """Exact Jaccard of each candidate pair's shingle sets (as 64-bit hashes), None below the threshold."""
    sims: dict[tuple[int, int | str], float | None] = {}
    for i, other in pairs:
        a = items[i].shingles
        b = stored_shingles[other] if isinstance(other, str) else items[other].shingles
        if a is None or b is None or not a.size or not b.size:
            sims[(i, other)] = None
            continue
        inter, union = hashed_jaccard(a, b)
        sims[(i, other)] = inter / union if exact_threshold_met(inter, union, config.threshold) else None
    return sims


def _plan_links(con, items: list[SignedArticle], signatures: np.ndarray, config, memo: _LinkMemo, recent: RecentShingles):
    """Find every candidate (batch and store), verify it, and decide each article's story."""
    keys = band_keys(signatures, config)
    url_keys = [url_key(s.article.url) for s in items]
    new = [NewArticle(s.article_id, s.folded, s.text_hash, signatures[i], keys[i], url_keys[i]) for i, s in enumerate(items)]
    stored_exact = store_articles.exact_matches(con, sorted({s.text_hash for s in items}))
    stored_by_url = store_articles.url_matches(con, [k for k in url_keys if k])
    hits = lsh_index.band_hits(con, keys)
    missing = sorted({aid for _, aid in hits} - memo.bodies.keys())
    held = {aid: h for aid in missing if (h := recent.get(aid)) is not None}
    memo.bodies.update(store_articles.fetch_for_verification(con, missing, without_body=held.keys()))
    memo.stored_shingles.update(held)
    fetched = {aid: memo.bodies[aid] for _, aid in hits if aid in memo.bodies}
    stored = {aid: StoredMatch(m.article_id, m.cluster_id, m.cluster_rank, None, m.seq) for aid, m in fetched.items()}
    pairs = candidate_pairs(new, stored_exact, hits, stored_by_url)
    todo = [p for p in pairs if p not in memo.sims]
    stored_ids = sorted({o for _, o in todo if isinstance(o, str)} - memo.stored_shingles.keys())
    for sid, hashes in zip(stored_ids, shingle_hash_sets([fold_for_matching(fetched[sid].body or "") for sid in stored_ids], config.shingle_size)):
        memo.stored_shingles[sid] = hashes
    memo.sims.update(_verify(todo, items, memo.stored_shingles, config))
    similarities = {p: memo.sims[p] for p in pairs}
    return link_to_story(new, stored_exact, hits, stored, config, similarities, stored_by_url), keys


def _stored_line_counts(con, items: list[SignedArticle]) -> dict[tuple[str, int], int]:
    """Stories counted so far for each (source, short line) of the batch."""
    stored: dict[tuple[str, int], int] = {}
    for source in sorted({s.article.source for s in items}):
        keys = sorted({k for s in items if s.article.source == source for k, _ in s.learnable})
        for k, n in learned_lines(con, source, keys).items():
            stored[(source, k)] = n
    return stored


def _learned(counts: dict[tuple[str, int], int], min_stories: int) -> dict[tuple[str, int], int]:
    return {k: n for k, n in counts.items() if n >= min_stories}


def _as_parsed(article: Article) -> Article:
    """The article before learned boilerplate was stripped: each learned line back at its place.

    A learned line's position is its index among the parsed paragraphs (+1 for the headline),
    as every strip below starts from the parsed paragraphs.
    """
    back = {r.position - 1: r.text for r in article.removed if r.rule == LEARNED_RULE}
    if not back:
        return article
    kept = iter(article.paragraphs)
    paragraphs = [back[i] if i in back else next(kept) for i in range(len(article.paragraphs) + len(back))]
    return replace(article, paragraphs=paragraphs, removed=[r for r in article.removed if r.rule != LEARNED_RULE])


def _settle_one(s: SignedArticle, counts: dict[int, int]) -> bool:
    """Make ``s`` the parsed article minus exactly its short lines in ``counts`` (line key ->
    stories), as one strip of the parsed article would: same positions, ``evidence`` = counts.

    Returns:
        True when the body changed (the article must be signed again).
    """
    article = s.article
    stripped = {r.text for r in article.removed if r.rule == LEARNED_RULE}
    wanted = {line for key, line in s.learnable if key in counts}
    if wanted == stripped:
        key_of = {line: key for key, line in s.learnable}
        if any(r.rule == LEARNED_RULE and r.evidence != counts[key_of[r.text]] for r in article.removed):
            article.removed = [
                replace(r, evidence=counts[key_of[r.text]]) if r.rule == LEARNED_RULE else r for r in article.removed
            ]
        return False
    result = strip_learned(_as_parsed(article), {k: counts[k] for k, _ in s.learnable if k in counts}, keyed=s.learnable)
    changed = result.paragraphs != article.paragraphs
    s.article = result
    if changed:
        s.word_count = result.word_count
        s.folded = fold_for_matching(result.body)
        s.text_hash = text_hash(s.folded)
    return changed


def _settle_learned(items: list[SignedArticle], signatures: np.ndarray, learned: dict[tuple[str, int], int], config) -> np.ndarray:
    """`_settle_one` for every article of the batch (``learned``: (source, key) -> stories);
    articles whose body changed are signed again.

    Returns:
        The signatures (a new array if some articles were re-signed).
    """
    resign = [
        i for i, s in enumerate(items)
        if _settle_one(s, {k: learned[(s.article.source, k)] for k, _ in s.learnable if (s.article.source, k) in learned})
    ]
    if not resign:
        return signatures
    sigs = signatures.copy()
    texts = [items[i].folded for i in resign]
    sigs[resign], hash_sets = sign_with_shingles(texts, config)
    for i, hashes in zip(resign, hash_sets):
        items[i].shingles = hashes
    return sigs


def _apply_learned_boilerplate(con, signed: SignedBatch, stored, links, config, settings, summary, batch: BatchWrite) -> np.ndarray:
    """Count each new story's short lines for its source; strip the lines that are boilerplate.

    A short line carried by ``learn_min_stories`` stories of a source is that source's
    boilerplate. Only articles that founded a story count (copies of a story count once), so a
    syndicated paragraph never becomes boilerplate. The batch's articles carry no line learned
    before it (`_settle_learned`); here lines that reach the threshold with this batch are
    stripped from every article of the batch that carries them, and from the articles stored
    before (they become rewrites in the batch's transaction). So once a run ends, no article
    of a source carries one of its learned lines, however the input was cut into batches.
    Every learned line of the batch records as ``evidence`` its story count after the batch.
    Articles that change are re-signed so stored signatures match stored bodies.

    Args:
        stored: story counts before this batch, (source, line key) -> stories.

    Returns:
        The batch's signatures (a new array if some articles were re-signed).
    """
    items = signed.articles
    min_stories = settings.learn_min_stories
    counts: Counter = Counter()
    line_text: dict[tuple[str, int], str] = {}
    for s, link in zip(items, links):
        if link is None:
            for key, line in s.learnable:
                counts[(s.article.source, key)] += 1
                line_text.setdefault((s.article.source, key), line)
    batch.boilerplate_counts = [(src, key, line_text[(src, key)], n) for (src, key), n in sorted(counts.items())]
    after = dict(stored)
    for k, n in counts.items():
        after[k] = after.get(k, 0) + n
    learned = _learned(after, min_stories)
    sigs = _settle_learned(items, signed.signatures, learned, config)
    summary.learned_lines_removed += sum(r.rule == LEARNED_RULE for s in items for r in s.article.removed)

    newly = {k: n for k, n in learned.items() if stored.get(k, 0) < min_stories}
    batch.rewrites = _strip_stored(con, newly, config, summary)
    return sigs


def _strip_stored(con, newly: dict[tuple[str, int], int], config, summary) -> list[ArticleRewrite]:
    """Rewrites for stored articles that carry lines learned with this batch."""
    changed: list[tuple[str, Article, str]] = []
    for source in sorted({src for src, _ in newly}):
        keys = {k: n for (src, k), n in newly.items() if src == source}
        for article_id, body, carried in stored_carriers(con, source, sorted(keys)):
            paragraphs = body.split("\n\n")
            keyed = [(line_key(p), p) for p in paragraphs]
            article = Article(source=source, source_uri="", content_hash="", title="", paragraphs=paragraphs)
            stripped = strip_learned(article, {k: keys[k] for k in carried if k in keys}, keyed=keyed)
            if stripped.paragraphs != paragraphs:
                changed.append((article_id, stripped, fold_for_matching(stripped.body)))
    signatures = sign_many([folded for _, _, folded in changed], config)  # one call: per-call cost is high
    keys_all = band_keys(signatures, config) if changed else []
    rewrites: list[ArticleRewrite] = []
    for (article_id, stripped, folded), signature, keys in zip(changed, signatures, keys_all):
        rewrites.append(
            ArticleRewrite(
                article_id=article_id,
                body=stripped.body,
                word_count=stripped.word_count,
                text_hash=text_hash(folded),
                signature=signature,
                band_keys=keys,
                removed=stripped.removed,
            )
        )
        summary.learned_lines_removed += len(stripped.removed)
    return rewrites
