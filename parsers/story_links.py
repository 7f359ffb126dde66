"""Link new articles to story clusters: the pure decision step of deduplication (no DB).

Stages: sign (``parsers.signature.sign_many``) -> band keys -> **candidates** (band
collisions with earlier articles of the batch, plus band hits from the persistent LSH
index) -> **verify** every candidate by the exact Jaccard of word-shingle sets ->
**link** to the best verified match and merge the clusters it bridges.

Why verify exactly: with the recall-first banding (25 x 5 for J >= 0.8, see
``DedupConfig.for_threshold``) a pair at J = 0.8 becomes a candidate with probability
0.99995, but so does about half of the pairs at J = 0.5. The MinHash estimate has a
standard error of ~0.035 at J = 0.8 with 128 permutations, so thresholding the estimate
would both admit and drop pairs near the bar. The exact check costs one set intersection
per candidate and makes precision 1 by construction: a link means
|A & B| / |A | B| >= threshold on the shingle sets, which is what the benchmark's truth is.

Clusters: a story cluster is identified by its founder's ``article_id`` and ordered by its
founder's rank (``seq``). An article with no verified match founds a cluster. An article
whose verified matches lie in several clusters merges them (union-find); the survivor is
the cluster with the lowest founder rank, so ``cluster_id`` always stays the earliest
founder's id, as DESIGN.md requires.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from parsers.signature import DedupConfig, band_keys, exact_threshold_met, sign_many, text_hash

LinkKind = Literal["exact", "near"]


@dataclass(frozen=True, slots=True)
class NewArticle:
    """An article of the batch being ingested, signed (see ``sign_articles``)."""

    article_id: str
    folded: str
    text_hash: str
    signature: np.ndarray  # (num_perm,) uint32
    band_keys: np.ndarray  # (bands,) int64
    url_key: str | None = None  # canonical-URL key (parsers.canonical_url), an exact-duplicate key


@dataclass(frozen=True, slots=True)
class StoredMatch:
    """An already stored article that may match a new one.

    ``cluster_rank`` is the founder seq of its cluster; ``seq`` (optional) the article's own,
    used to break similarity ties. ``folded`` is required for articles named by band hits
    (the candidate is verified on it); exact matches need no text. Any object with these
    attributes works (e.g. ``storage.records.StoredMatch`` with ``folded`` added).
    """

    article_id: str
    cluster_id: str
    cluster_rank: int
    folded: str | None = None
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class StoryLink:
    """Why an article joined a cluster: the best verified match and its exact Jaccard."""

    duplicate_of: str
    kind: LinkKind
    similarity: float | None


@dataclass(frozen=True, slots=True)
class LinkDecision:
    """Outcome for one new article: its (final) cluster and its link, None if it founded one."""

    article_id: str
    cluster_id: str
    link: StoryLink | None = None


@dataclass
class LinkPlan:
    """Everything the store must write for a batch.

    Attributes:
        decisions: one per new article, in input order; ``cluster_id`` is final (after every
            merge of the batch).
        merges: (absorbed_cluster_id, into_cluster_id), in the order they happened, each
            absorbed id once and ``into`` always a surviving cluster, so the list can be
            applied in any order (``UPDATE ... SET cluster_id = into WHERE cluster_id =
            absorbed``). Clusters founded and absorbed inside this batch appear too (for
            the record; no stored row carries them).
        counts: exact, near, founded, candidates_batch, candidates_stored, verified,
            rejected, merges.
    """

    decisions: list[LinkDecision]
    merges: list[tuple[str, str]]
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def cluster_ids(self) -> list[str]:
        """Final cluster id per new article, in input order."""
        return [d.cluster_id for d in self.decisions]

    @property
    def links(self) -> list[StoryLink | None]:
        """Link per new article (None = founded a cluster), in input order."""
        return [d.link for d in self.decisions]


def sign_articles(article_ids: Sequence[str], folded_texts: Sequence[str], config: DedupConfig) -> list[NewArticle]:
    """Sign a batch: text hash, MinHash signature and band keys for each article.

    Args:
        article_ids: ids in ingestion order.
        folded_texts: ``fold_for_matching`` of each body, same order.
        config: the pinned dedup config.

    Raises:
        ValueError: if the two sequences differ in length.
    """
    if len(article_ids) != len(folded_texts):
        raise ValueError(f"{len(article_ids)} article ids but {len(folded_texts)} texts")
    sigs = sign_many(list(folded_texts), config)
    keys = band_keys(sigs, config)
    return [
        NewArticle(aid, text, text_hash(text), sigs[i], keys[i])
        for i, (aid, text) in enumerate(zip(article_ids, folded_texts))
    ]


def _shingle_tuples(folded: str, k: int) -> set[tuple[str, ...]]:
    """``signature.shingles`` as word tuples: the same sets up to a bijection (words hold no
    spaces), so the same Jaccard, at half the cost (no string joins)."""
    w = folded.split()
    if len(w) < k:
        return {tuple(w)} if w else set()
    return set(zip(*(w[i:] for i in range(k))))


class _Clusters:
    """Union-find over cluster ids; the root is always the lowest-ranked founder."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.rank: dict[str, tuple] = {}
        self.absorbed: list[str] = []

    def add(self, cluster_id: str, rank: tuple) -> None:
        if cluster_id not in self.parent:
            self.parent[cluster_id] = cluster_id
            self.rank[cluster_id] = rank
        elif rank < self.rank[cluster_id]:
            self.rank[cluster_id] = rank

    def find(self, c: str) -> str:
        root = c
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[c] != root:  # path compression
            self.parent[c], c = root, self.parent[c]
        return root

    def union(self, a: str, b: str) -> str:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        keep, drop = (ra, rb) if (self.rank[ra], ra) < (self.rank[rb], rb) else (rb, ra)
        self.parent[drop] = keep
        self.absorbed.append(drop)
        return keep


def link_to_story(
    new: Sequence[NewArticle],
    stored_exact: Mapping[str, StoredMatch],
    stored_band_hits: Sequence[tuple[int, str]],
    stored: Mapping[str, StoredMatch],
    config: DedupConfig,
    similarities: Mapping[tuple[int, int | str], float | None] | None = None,
    stored_by_url: Mapping[str, StoredMatch] | None = None,
) -> LinkPlan:
    """Decide, for each new article, its story cluster and the link that put it there.

    Rules, for article i in ingestion order:
      1. Exact duplicate: its ``text_hash`` equals a stored article's (``stored_exact``) or
         an earlier new article's -> link kind "exact", similarity 1.0, the twin's cluster
         (a stored twin is preferred: it is earlier).
      2. Otherwise candidates = earlier new articles sharing a band key with i, plus the
         stored articles of ``stored_band_hits`` for i. EVERY candidate is verified:
         exact Jaccard of the shingle sets >= ``config.threshold`` (with the scorer's
         1e-12 slack). The link goes to the best verified match (highest similarity; ties
         -> stored before new, then lower cluster rank, lower seq / earlier index, id) with kind
         "near" and that similarity. All clusters of verified matches are merged; the
         survivor is the lowest founder rank.
      3. No verified match: i founds a cluster with id = its article_id, ranked after all
         stored clusters and earlier founders of the batch.
    Articles without words (empty folded text) are never duplicates: they found their own
    cluster and are neither matched nor candidates.

    Args:
        new: the batch in ingestion order (see ``sign_articles``).
        stored_exact: text_hash -> a stored article with that folded text.
        stored_band_hits: (new index, stored article_id) pairs from the LSH index.
        stored: article_id -> stored article, with ``folded`` text, for every band hit
            (the text may be omitted when ``similarities`` is given).
        config: threshold and shingle size (must be the config the band keys were made with).
        similarities: the verified similarity of every pair of ``candidate_pairs`` (see
            ``verify_pairs``), computed elsewhere (e.g. in worker processes); None computes
            them here.
        stored_by_url: url_key -> a stored article with that canonical URL. An article with
            the same canonical URL as a stored or earlier one (and another text) is linked to
            it with kind "exact" and similarity None: one article under two URLs, or a later
            version of it, is one story.

    Returns:
        LinkPlan with final cluster ids, links, merges and counts.

    Raises:
        ValueError: duplicate article ids in ``new``, a band hit with a bad index, or a
            band hit naming an article missing from ``stored`` or without folded text.
    """
    k, threshold = config.shingle_size, config.threshold
    ids = [a.article_id for a in new]
    if len(set(ids)) != len(ids):
        raise ValueError("article ids in a batch must be unique; drop re-ingested articles before linking")
    hits: dict[int, list[str]] = defaultdict(list)
    for i, sid in stored_band_hits:
        if not 0 <= i < len(new):
            raise ValueError(f"stored band hit for new index {i}, but the batch has {len(new)} articles")
        s = stored.get(sid)
        if s is None or (similarities is None and getattr(s, "folded", None) is None):
            raise ValueError(f"stored band hit names {sid!r} but `stored` has no folded text for it; fetch it")
        if sid not in hits[i]:
            hits[i].append(sid)

    new_sh: dict[int, set[tuple[str, ...]]] = {}
    stored_sh: dict[str, set[tuple[str, ...]]] = {}

    def sh_new(j: int) -> set[tuple[str, ...]]:
        if j not in new_sh:
            new_sh[j] = _shingle_tuples(new[j].folded, k)
        return new_sh[j]

    def sh_stored(sid: str) -> set[tuple[str, ...]]:
        if sid not in stored_sh:
            stored_sh[sid] = _shingle_tuples(stored[sid].folded, k)
        return stored_sh[sid]

    def verified_similarity(a: set[str], b: set[str]) -> float | None:
        if not a or not b:
            return None
        inter = len(a & b)
        union = len(a) + len(b) - inter
        return inter / union if exact_threshold_met(inter, union, threshold) else None

    clusters = _Clusters()
    counts = dict.fromkeys(
        ("exact", "near", "founded", "candidates_batch", "candidates_stored", "verified", "rejected"), 0
    )
    first_by_hash: dict[str, int] = {}
    first_by_url: dict[str, int] = {}
    stored_by_url = stored_by_url or {}
    bucket: dict[int, list[int]] = defaultdict(list)
    assigned: list[str] = []
    links: list[StoryLink | None] = []

    for i, art in enumerate(new):
        link, cluster = None, None
        has_words = bool(art.folded.strip())
        if has_words and art.text_hash in stored_exact:
            twin = stored_exact[art.text_hash]
            clusters.add(twin.cluster_id, (0, twin.cluster_rank))
            link, cluster = StoryLink(twin.article_id, "exact", 1.0), twin.cluster_id
            counts["exact"] += 1
        elif has_words and art.text_hash in first_by_hash:
            j = first_by_hash[art.text_hash]
            link, cluster = StoryLink(new[j].article_id, "exact", 1.0), assigned[j]
            counts["exact"] += 1
        elif art.url_key and art.url_key in stored_by_url:
            twin = stored_by_url[art.url_key]
            clusters.add(twin.cluster_id, (0, twin.cluster_rank))
            link, cluster = StoryLink(twin.article_id, "exact", None), twin.cluster_id
            counts["exact"] += 1
        elif art.url_key and art.url_key in first_by_url:
            j = first_by_url[art.url_key]
            link, cluster = StoryLink(new[j].article_id, "exact", None), assigned[j]
            counts["exact"] += 1
        elif has_words:
            batch_cands = sorted({j for key in art.band_keys.tolist() for j in bucket.get(key, ())})
            counts["candidates_batch"] += len(batch_cands)
            counts["candidates_stored"] += len(hits.get(i, ()))
            # (similarity, tie-break order, matched article id, its cluster)
            verified: list[tuple[float, tuple, str, str]] = []
            for sid in hits.get(i, ()):
                if similarities is not None:
                    sim = similarities[(i, sid)]
                else:
                    sim = verified_similarity(sh_new(i), sh_stored(sid))
                if sim is not None:
                    s = stored[sid]
                    clusters.add(s.cluster_id, (0, s.cluster_rank))
                    seq = getattr(s, "seq", None)
                    verified.append((sim, (0, s.cluster_rank, -1 if seq is None else seq, sid), sid, s.cluster_id))
            for j in batch_cands:
                if similarities is not None:
                    sim = similarities[(i, j)]
                else:
                    sim = verified_similarity(sh_new(i), sh_new(j))
                if sim is not None:
                    verified.append((sim, (1, j, j, ""), new[j].article_id, assigned[j]))
            counts["verified"] += len(verified)
            counts["rejected"] += len(batch_cands) + len(hits.get(i, ())) - len(verified)
            if verified:
                sim, _, best_id, best_cluster = min(verified, key=lambda v: (-v[0], v[1]))
                link, cluster = StoryLink(best_id, "near", sim), best_cluster
                for *_, c in verified:
                    cluster = clusters.union(cluster, c)
                counts["near"] += 1
        if link is None:
            cluster = art.article_id
            clusters.add(cluster, (1, i))
            counts["founded"] += 1
        assigned.append(cluster)
        links.append(link)
        if art.url_key:
            first_by_url.setdefault(art.url_key, i)
        if has_words:
            first_by_hash.setdefault(art.text_hash, i)
            for key in art.band_keys.tolist():
                bucket[key].append(i)

    decisions = [LinkDecision(a.article_id, clusters.find(c), link) for a, c, link in zip(new, assigned, links)]
    merges = [(c, clusters.find(c)) for c in clusters.absorbed]
    counts["merges"] = len(merges)
    return LinkPlan(decisions, merges, counts)


plan_links = link_to_story  # the name flows/pipeline.py imports


def candidate_pairs(
    new: Sequence[NewArticle],
    stored_exact: Mapping[str, StoredMatch],
    stored_band_hits: Sequence[tuple[int, str]],
    stored_by_url: Mapping[str, StoredMatch] | None = None,
) -> list[tuple[int, int | str]]:
    """Every pair that ``link_to_story`` verifies, without verifying it.

    Same candidate rules as ``link_to_story``: an exact duplicate (of a stored article or an
    earlier one of the batch) is not verified; any other article with words is paired with
    the earlier articles of the batch sharing a band key (``(i, j)``, j an index) and with its
    stored band hits (``(i, article_id)``). Lets the text work of verification run elsewhere.
    """
    hits: dict[int, list[str]] = defaultdict(list)
    for i, sid in stored_band_hits:
        if sid not in hits[i]:
            hits[i].append(sid)
    pairs: list[tuple[int, int | str]] = []
    seen_hash: set[str] = set()
    seen_url: set[str] = set()
    stored_by_url = stored_by_url or {}
    bucket: dict[int, list[int]] = defaultdict(list)
    for i, art in enumerate(new):
        url_twin = bool(art.url_key) and (art.url_key in stored_by_url or art.url_key in seen_url)
        if art.url_key:
            seen_url.add(art.url_key)
        if not art.folded.strip():
            continue
        if art.text_hash not in stored_exact and art.text_hash not in seen_hash and not url_twin:
            pairs.extend((i, sid) for sid in hits.get(i, ()))
            pairs.extend((i, j) for j in sorted({j for key in art.band_keys.tolist() for j in bucket.get(key, ())}))
        seen_hash.add(art.text_hash)
        for key in art.band_keys.tolist():
            bucket[key].append(i)
    return pairs


def verify_pairs(
    pairs: Sequence[tuple[int, int | str]],
    folded_new: Mapping[int, str],
    folded_stored: Mapping[str, str],
    config: DedupConfig,
) -> dict[tuple[int, int | str], float | None]:
    """Exact Jaccard of each candidate pair's shingle sets, or None below the threshold.

    Args:
        pairs: from ``candidate_pairs``.
        folded_new: folded text of every batch index named in ``pairs``.
        folded_stored: folded text of every stored article id named in ``pairs``.
        config: shingle size and threshold.
    """
    k, threshold = config.shingle_size, config.threshold
    cache: dict[int | str, set[tuple[str, ...]]] = {}

    def sh(key: int | str, text: str) -> set[tuple[str, ...]]:
        if key not in cache:
            cache[key] = _shingle_tuples(text, k)
        return cache[key]

    out: dict[tuple[int, int | str], float | None] = {}
    for i, other in pairs:
        a = sh(i, folded_new[i])
        b = sh(other, folded_stored[other] if isinstance(other, str) else folded_new[other])
        if not a or not b:
            out[(i, other)] = None
            continue
        inter = len(a & b)
        union = len(a) + len(b) - inter
        out[(i, other)] = inter / union if exact_threshold_met(inter, union, threshold) else None
    return out


__all__ = [
    "candidate_pairs",
    "verify_pairs",
    "LinkDecision",
    "LinkKind",
    "LinkPlan",
    "NewArticle",
    "StoredMatch",
    "StoryLink",
    "link_to_story",
    "plan_links",
    "sign_articles",
]
