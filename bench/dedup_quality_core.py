"""In-memory quality check of the dedup core (sign -> band -> link_to_story), no DB.

    .venv/bin/python bench/dedup_quality_core.py [--batch 500] [--copies 200] [--out-dir DIR]

1. BBC set (../shared/bench/dedup/bbc/docs, 2,225 articles): each file decoded as UTF-8
   with errors="replace" and folded with the benchmark's shingles.py normalisation
   (checked equal to parsers.normalize.fold_for_matching when that module exists); the
   articles go through ``sign_articles`` -> an in-memory LSH index of band keys ->
   ``link_to_story`` in batches of --batch, so both the within-batch and the stored paths
   run. Writes clusters JSONL ({"id", "cluster"}) and pairs JSONL (every link a pair) and
   scores both with score_dedup.py.
2. Synthetic edited copies: --copies BBC articles, each copied with its last paragraph
   trimmed, words changed and footer lines added until the exact Jaccard falls in a random
   target in [0.8, 0.9]. Recall at 0.8 of: our banding (25 x 5) vs datasketch's default
   for MinHashLSH(0.8, 128) (9 x 13) on the same signatures over 5 permutation seeds,
   the datasketch reference pipeline (reference_dedup.py "minhash"), and our full path
   (originals stored, copies linked as a new batch).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "bench" / "dedup"
sys.path[:0] = [str(ROOT), str(SHARED)]

from shingles import list_docs, normalized_text, read_text  # noqa: E402

from parsers.signature import DedupConfig, band_keys, jaccard, recall_at, shingles, sign_many  # noqa: E402
from parsers.story_links import LinkPlan, NewArticle, StoredMatch, link_to_story, sign_articles  # noqa: E402


class MemoryStore:
    """What storage/ keeps, in dicts: articles, text-hash index, band-key index, clusters."""

    def __init__(self) -> None:
        self.articles: dict[str, StoredMatch] = {}
        self.by_hash: dict[str, StoredMatch] = {}
        self.index: dict[int, list[str]] = defaultdict(list)
        self.members: dict[str, list[str]] = defaultdict(list)
        self.rank: dict[str, int] = {}
        self.seq = 0

    def candidates(self, new: list[NewArticle]) -> tuple[dict, list, dict]:
        hits = []
        for i, a in enumerate(new):
            if a.folded:
                found = {sid for key in a.band_keys.tolist() for sid in self.index.get(key, ())}
                hits.extend((i, sid) for sid in sorted(found))
        exact = {a.text_hash: self.by_hash[a.text_hash] for a in new if a.text_hash in self.by_hash}
        stored = {sid: self.articles[sid] for _, sid in hits}
        return exact, hits, stored

    def apply(self, new: list[NewArticle], plan: LinkPlan) -> None:
        for absorbed, into in plan.merges:
            for aid in self.members.pop(absorbed, []):
                s = self.articles[aid]
                self.articles[aid] = StoredMatch(aid, into, self.rank[into], s.folded)
                self.members[into].append(aid)
        for a, d in zip(new, plan.decisions):
            self.seq += 1
            self.rank.setdefault(d.cluster_id, self.seq)  # a founder comes before its members
            s = StoredMatch(a.article_id, d.cluster_id, self.rank[d.cluster_id], a.folded)
            self.articles[a.article_id] = s
            self.members[d.cluster_id].append(a.article_id)
            if a.folded:
                self.by_hash.setdefault(a.text_hash, s)
                for key in a.band_keys.tolist():
                    self.index[key].append(a.article_id)


def ingest(ids: list[str], folded: list[str], config: DedupConfig, batch: int, store: MemoryStore) -> dict:
    """Run the core over (ids, folded) in batches; returns links and timings."""
    links, t = {}, defaultdict(float)
    for b0 in range(0, len(ids), batch):
        t0 = time.perf_counter()
        new = sign_articles(ids[b0 : b0 + batch], folded[b0 : b0 + batch], config)
        t1 = time.perf_counter()
        exact, hits, stored = store.candidates(new)
        t2 = time.perf_counter()
        plan = link_to_story(new, exact, hits, stored, config)
        t3 = time.perf_counter()
        store.apply(new, plan)
        t["sign"] += t1 - t0
        t["lookup"] += t2 - t1
        t["link"] += t3 - t2
        for d in plan.decisions:
            if d.link:
                links[d.article_id] = d.link
        for k, v in plan.counts.items():
            t[k] += v
    return {"links": links, "stats": t}


def score(pred: Path, threshold: float, *flags: str) -> str:
    out = subprocess.run([sys.executable, str(SHARED / "score_dedup.py"), str(pred), "--threshold", str(threshold),
                          *flags],
                         capture_output=True, text=True, check=True)
    return out.stdout


def bbc(config: DedupConfig, batch: int, out_dir: Path) -> None:
    docs = SHARED / "bbc" / "docs"
    names = list_docs(docs)
    ids = [n[:-4] for n in names]
    raw = [read_text(docs / n) for n in names]
    folded = [normalized_text(t) for t in raw]
    try:
        from parsers.normalize import fold_for_matching
    except ImportError:
        print("parsers.normalize not available; folded with shingles.py only")
    else:
        bad = sum(fold_for_matching(t) != f for t, f in zip(raw, folded))
        print(f"fold_for_matching vs shingles.py normalisation: {len(raw) - bad}/{len(raw)} agree")
    store = MemoryStore()
    t0 = time.perf_counter()
    res = ingest(ids, folded, config, batch, store)
    wall = time.perf_counter() - t0
    st = res["stats"]
    print(f"{len(ids)} articles in batches of {batch}: {wall:.2f} s "
          f"(sign {st['sign']:.2f}, index lookup {st['lookup']:.2f}, link_to_story {st['link']:.2f}); "
          f"{len(ids) / wall:.0f} articles/s on one core")
    print("counts: " + ", ".join(f"{k} {int(st[k])}" for k in
                                 ("exact", "near", "founded", "candidates_batch", "candidates_stored",
                                  "verified", "rejected", "merges")))
    out_dir.mkdir(parents=True, exist_ok=True)
    clusters, pairs = out_dir / "core_clusters.jsonl", out_dir / "core_pairs.jsonl"
    with open(clusters, "w") as fh:
        for aid in ids:
            fh.write(json.dumps({"id": aid, "cluster": store.articles[aid].cluster_id}) + "\n")
    with open(pairs, "w") as fh:
        for aid, link in sorted(res["links"].items()):
            fh.write(json.dumps({"a": aid, "b": link.duplicate_of, "kind": link.kind,
                                 "similarity": round(link.similarity, 4)}) + "\n")
    print(f"\n== clusters ({clusters}) ==\n" + score(clusters, config.threshold, "--clusters", "--show", "5"))
    print(f"== links as pairs ({pairs}) ==\n" + score(pairs, config.threshold, "--show", "5"))


# --- synthetic edited copies ------------------------------------------------------------------

FOOTERS = [
    "Follow us on Twitter for the latest updates",
    "Copyright {n} BBC. All rights reserved.",
    "Share this story: Email  Facebook  Twitter",
    "Related stories: markets rally as oil eases ({n})",
    "Have your say on this story and {n} others",
    "This article was amended on {n} March to correct a figure",
]


def edit_copy(text: str, rng: random.Random, lo: float, hi: float, vocab: list[str]) -> tuple[str, float] | None:
    """Edit text until the exact Jaccard to the original is <= a random target in [lo, hi]."""
    orig = shingles(normalized_text(text))
    target = rng.uniform(lo, hi)
    cur = text
    for _ in range(400):
        op = rng.choice(("trim", "word", "word", "word", "footer"))
        paras = cur.split("\n\n")
        if op == "trim" and len(paras) > 3:
            cand = "\n\n".join(paras[:-1])
        elif op == "footer":
            cand = cur + "\n\n" + rng.choice(FOOTERS).format(n=rng.randrange(1, 2000))
        else:
            words = cur.split(" ")
            i = rng.randrange(len(words))
            words[i] = rng.choice(vocab)
            cand = " ".join(words)
        j = jaccard(orig, shingles(normalized_text(cand)))
        if j < lo:
            continue  # this edit overshoots; try a smaller one
        cur = cand
        if j <= target:
            return cur, j
    return None


def copies(config: DedupConfig, n: int, seed: int = 20050101) -> None:
    docs = SHARED / "bbc" / "docs"
    names = list_docs(docs)
    rng = random.Random(seed)
    raw = {n_[:-4]: read_text(docs / n_) for n_ in names}
    vocab = sorted({w for t in list(raw.values())[:300] for w in t.split() if w.isalpha()})
    pool = [k for k, t in raw.items() if len(t.split()) >= 150]
    pairs = []
    for doc_id in rng.sample(pool, len(pool)):
        made = edit_copy(raw[doc_id], rng, 0.8, 0.9, vocab)
        if made:
            pairs.append((doc_id, made[0], made[1]))
        if len(pairs) == n:
            break
    js = np.array([j for *_, j in pairs])
    print(f"\n== {len(pairs)} synthetic edited copies, exact Jaccard {js.min():.3f}..{js.max():.3f} "
          f"(mean {js.mean():.3f}) ==")
    orig_f = [normalized_text(raw[d]) for d, *_ in pairs]
    copy_f = [normalized_text(c) for _, c, _ in pairs]

    # candidate recall of the two bandings on the same signatures, 5 permutation seeds
    found = defaultdict(list)
    for s in range(1, 6):
        cfg = DedupConfig(seed=s, hash=config.hash, bands=config.bands, rows=config.rows)
        so, sc = sign_many(orig_f, cfg), sign_many(copy_f, cfg)
        found["ours"].extend((band_keys(so, cfg) == band_keys(sc, cfg)).any(axis=1))
        b, r = 9, 13
        eq = (so[:, : b * r].reshape(-1, b, r) == sc[:, : b * r].reshape(-1, b, r)).all(axis=2)
        found["9x13"].extend(eq.any(axis=1))
    print(f"  candidate recall at J >= 0.8, same signatures, seeds 1-5 ({len(found['ours'])} pair-trials):")
    print(f"    ours {config.bands} x {config.rows}: {np.mean(found['ours']):.4f}"
          f"   (expected mean P(cand|J) {np.mean([recall_at(j, config.bands, config.rows) for j in js]):.4f})")
    print(f"    datasketch default 9 x 13: {np.mean(found['9x13']):.4f}"
          f"   (expected {np.mean([recall_at(j, 9, 13) for j in js]):.4f})")

    # datasketch reference pipeline (reference_dedup.py "minhash"): sha1 MinHash, MinHashLSH(0.8), est >= 0.8
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    mo = []
    for i, t in enumerate(orig_f):
        m = MinHash(num_perm=128)
        m.update_batch([x.encode() for x in shingles(t)])
        lsh.insert(i, m)
        mo.append(m)
    cand = kept = 0
    for i, t in enumerate(copy_f):
        m = MinHash(num_perm=128)
        m.update_batch([x.encode() for x in shingles(t)])
        if i in lsh.query(m):
            cand += 1
            kept += m.jaccard(mo[i]) >= 0.8
    print(f"    datasketch reference (MinHashLSH {lsh.b} x {lsh.r}): candidates {cand / len(pairs):.4f}, "
          f"kept with estimated J >= 0.8 {kept / len(pairs):.4f}")

    # full core path: originals stored (one batch), copies linked as the next batch
    store = MemoryStore()
    ids_o = [f"orig{i}" for i in range(len(pairs))]
    ids_c = [f"copy{i}" for i in range(len(pairs))]
    ingest(ids_o, orig_f, config, 10_000, store)
    ingest(ids_c, copy_f, config, 10_000, store)
    ok = sum(store.articles[c].cluster_id == store.articles[o].cluster_id for o, c in zip(ids_o, ids_c))
    print(f"    our full path (stored originals, copies linked by link_to_story): recall {ok / len(pairs):.4f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threshold", type=float, default=0.8, help="Jaccard bar; banding via for_threshold")
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--copies", type=int, default=200)
    ap.add_argument("--out-dir", type=Path, default=Path("/tmp/newsdedup-dedup-core"))
    args = ap.parse_args()
    config = DedupConfig.for_threshold(args.threshold)
    print(f"config: {config.to_dict()}")
    bbc(config, args.batch, args.out_dir)
    if config.threshold == 0.8:
        copies(config, args.copies)


if __name__ == "__main__":
    main()
