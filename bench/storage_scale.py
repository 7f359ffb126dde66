"""Storage scale bench: per-batch storage cost on a store of N articles vs an empty store.

Builds a synthetic store with the storage API itself (write_batch in large batches, 32 band
keys per article, short random bodies), then times what the engine does for one batch of
2,000 new articles: existing_article_ids, exact_matches, band_hits, fetch_for_verification
(~50 ids) and write_batch (with exact/near links and a few merges). The same is timed on a
fresh empty store and the ratio reported. The project bar: at 1M stored articles, ingesting
new articles must cost at most 1.5x ingesting them into an empty store.

Usage:
    .venv/bin/python bench/storage_scale.py --articles 1000000 --db /tmp/scale.duckdb
    .venv/bin/python bench/storage_scale.py --articles 1000000 --db /tmp/scale.duckdb --reuse
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from parsers.article import RemovedLine  # noqa: E402
from storage.articles import exact_matches, existing_article_ids, fetch_for_verification, next_seq  # noqa: E402
from storage.batch import write_batch  # noqa: E402
from storage.lsh_index import band_hits  # noqa: E402
from storage.records import BatchWrite, DuplicateLink, StoredArticle  # noqa: E402
from storage.store import open_store  # noqa: E402

BANDS = 32
NUM_PERM = 128
WORDS = np.array(
    "minister council harbour vote budget river court school energy police market strike union farmers "
    "railway bridge hospital election mayor senate treaty border drought festival museum research vaccine "
    "factory exports tariff pension housing rents storm coast island village province capital airport".split()
)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic_articles(rng: np.random.Generator, first_seq: int, n: int, tag: str,
                       dup_of: list[tuple[str, str, str]] | None = None) -> list[StoredArticle]:
    """n articles with fresh ids; ``dup_of`` (text_hash, cluster_id, article_id) makes some exact duplicates."""
    bodies_words = rng.integers(0, len(WORDS), size=(n, 60))
    keys = rng.integers(-(2**63), 2**63 - 1, size=(n, BANDS), dtype=np.int64)
    sigs = rng.integers(0, 2**32 - 1, size=(n, NUM_PERM), dtype=np.uint32)
    # ids and hashes are random hex like the real sha256 prefixes (no zonemap pruning by prefix)
    hex_ids = [f"{v:016x}" for v in rng.integers(0, 2**63 - 1, size=n, dtype=np.int64)]
    hex_hashes = [f"{v:016x}" for v in rng.integers(0, 2**63 - 1, size=n, dtype=np.int64)]
    out = []
    for i in range(n):
        seq = first_seq + i
        aid = hex_ids[i]
        text_hash, cluster = hex_hashes[i], aid
        if dup_of and i < len(dup_of):
            text_hash, cluster, _ = dup_of[i]
        out.append(
            StoredArticle(
                article_id=aid, seq=seq, source=f"src{seq % 50}", source_uri=f"dump/{seq}.txt",
                content_hash=f"{seq:064x}", text_hash=text_hash, cluster_id=cluster,
                title=f"Story {seq}", body=" ".join(WORDS[bodies_words[i]]), signature=sigs[i], band_keys=keys[i],
                word_count=60, removed=[RemovedLine("Photo: Getty Images", "photo_credit", 1)],
            )
        )
    return out


def build_store(path: Path, n: int, batch_size: int) -> float:
    con = open_store(path)
    rng = np.random.default_rng(7)
    start = time.perf_counter()
    seq = next_seq(con)
    while seq <= n:
        size = min(batch_size, n - seq + 1)
        write_batch(con, BatchWrite(articles=synthetic_articles(rng, seq, size, "b")), "build")
        seq += size
        print(f"  built {seq - 1:>9,} articles  {time.perf_counter() - start:7.1f}s  rss {rss_mb():6.0f} MB", flush=True)
    con.execute("CHECKPOINT").fetchall()
    con.close()
    return time.perf_counter() - start


def engine_batch(con, rng: np.random.Generator, n: int, tag: str) -> dict[str, float]:
    """Time the storage calls of one engine batch of n new articles."""
    seq0 = next_seq(con)
    stored = con.execute(
        "SELECT text_hash, cluster_id, article_id FROM articles USING SAMPLE 100 ROWS"
    ).fetchall() if seq0 > 1 else []
    new = synthetic_articles(rng, seq0, n, tag, dup_of=stored[:50])
    # 10% of the new rows share one band with a stored article
    probe_keys = np.stack([a.band_keys for a in new])
    if stored:
        some = [r[2] for r in stored[50:]]
        stored_keys = dict(con.execute(
            "SELECT article_id, min(band_key) FROM lsh_bands WHERE article_id = ANY(?) GROUP BY 1", [some]).fetchall())
        for i, aid in enumerate(some):
            if aid in stored_keys:
                probe_keys[50 + i, 3] = stored_keys[aid]
                new[50 + i].band_keys = probe_keys[50 + i]
    t: dict[str, float] = {}
    s = time.perf_counter()
    existing_article_ids(con, [a.article_id for a in new])
    t["existing_article_ids"] = time.perf_counter() - s
    s = time.perf_counter()
    matches = exact_matches(con, [a.text_hash for a in new])
    t["exact_matches"] = time.perf_counter() - s
    s = time.perf_counter()
    hits = band_hits(con, probe_keys)
    t["band_hits"] = time.perf_counter() - s
    candidates = sorted({aid for _, aid in hits} | {m.article_id for m in matches.values()})[:50]
    s = time.perf_counter()
    fetch_for_verification(con, candidates)
    t["fetch_for_verification"] = time.perf_counter() - s
    links = [DuplicateLink(new[i].article_id, stored[i][2], "exact", 1.0) for i in range(min(50, len(stored)))]
    links += [DuplicateLink(new[i].article_id, aid, "near", 0.85) for i, aid in hits[:20] if i >= 50]
    merges = [(stored[60 + k][1], stored[70 + k][1]) for k in range(5) if len(stored) > 80 and stored[60 + k][1] != stored[70 + k][1]]
    s = time.perf_counter()
    write_batch(con, BatchWrite(articles=new, links=links, merges=merges,
                                boilerplate_counts=[(f"src{k}", k, "Follow us", 3) for k in range(50)]), f"run-{tag}")
    t["write_batch"] = time.perf_counter() - s
    t["total"] = sum(t.values())
    return t


def measure(path: Path, rounds: int, batch: int) -> dict[str, float]:
    con = open_store(path)
    rng = np.random.default_rng(99)
    engine_batch(con, rng, batch, "w")  # warm-up: loads indexes and caches, as a long ingest would
    runs = [engine_batch(con, rng, batch, f"m{r}") for r in range(rounds)]
    con.close()
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=Path("/tmp/newsdedup_scale.duckdb"))
    parser.add_argument("--build-batch", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="reuse an already built --db")
    args = parser.parse_args()

    if not args.reuse:
        for f in (args.db, Path(str(args.db) + ".wal")):
            f.unlink(missing_ok=True)
        print(f"building {args.articles:,} articles in {args.db} ...")
        built = build_store(args.db, args.articles, args.build_batch)
        print(f"build: {built:.1f}s ({args.articles / built:,.0f} articles/s), file {args.db.stat().st_size / 2**30:.2f} GiB")
    empty = args.db.with_name("empty_" + args.db.name)
    for f in (empty, Path(str(empty) + ".wal")):
        f.unlink(missing_ok=True)

    big = measure(args.db, args.rounds, args.batch)
    small = measure(empty, args.rounds, args.batch)
    print(f"\nper batch of {args.batch:,} new articles (median of {args.rounds}), milliseconds")
    print(f"{'step':<24}{'empty':>10}{'large':>10}{'ratio':>8}")
    for k in big:
        print(f"{k:<24}{small[k] * 1000:>10.1f}{big[k] * 1000:>10.1f}{big[k] / small[k]:>8.2f}")
    print(f"max RSS {rss_mb():.0f} MB")
    print(json.dumps({"empty_ms": {k: round(v * 1000, 1) for k, v in small.items()},
                      "large_ms": {k: round(v * 1000, 1) for k, v in big.items()}}))


if __name__ == "__main__":
    main()
