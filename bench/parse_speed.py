"""Per-article CPU cost of the worker-side pipeline (`flows.pipeline.parse_and_sign`), one process.

Loads N dumps into memory (the same source/uri names `newsdedup ingest` gives them), then:

- times `parse_and_sign` end to end, in 500-article chunks as the pool's workers get them
  (`RuleSet()` pickled per chunk as the pool does, `DedupConfig.for_threshold(0.8)`, no
  learned boilerplate); times are CPU time of this process (`time.process_time`), so
  other load on the machine disturbs them less;
- times each stage on its own: decode, parse/clean (`parse_raw` minus decode),
  `learnable_lines`, `fold_for_matching`, `text_hash`, `sign_many`;
- prints a checksum of every output (title, paragraphs, removed lines with rule and kind,
  dateline, byline, folded text, text_hash, learnable lines, signatures, rejections), so a
  speed change can be shown to leave the outputs bit-identical.

    .venv/bin/python bench/parse_speed.py                      # 3000 dumps, best of 3
    .venv/bin/python bench/parse_speed.py --n 10000 --repeat 1 --profile
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import pickle
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flows.pipeline import parse_and_sign  # noqa: E402
from flows.sources import iter_inputs  # noqa: E402
from parsers.article import RawArticle, Rejected  # noqa: E402
from parsers.decode import decode_text  # noqa: E402
from parsers.dump import parse_raw  # noqa: E402
from parsers.learned import learnable_lines  # noqa: E402
from parsers.normalize import fold_for_matching  # noqa: E402
from parsers.rules import RuleSet  # noqa: E402
from parsers.signature import DedupConfig, sign_many, text_hash  # noqa: E402

CHUNK = 500  # a 2,000-article batch split over 2 workers x 2 parts


def load(root: Path, n: int) -> list[tuple[str, RawArticle]]:
    raws = []
    for item in iter_inputs([str(root)]):
        if isinstance(item, RawArticle):
            raws.append((f"{len(raws):016x}", item))
            if len(raws) >= n:
                break
    return raws


def checksum(batches) -> str:
    """sha256 over every output field of the signed batches, in order."""
    h = hashlib.sha256()
    for b in batches:
        for s in b.articles:
            a = s.article
            h.update(repr((s.article_id, a.title, a.paragraphs, a.dateline, a.byline, s.word_count)).encode())
            h.update(repr([(r.text, r.rule, r.position, r.evidence, r.kind) for r in a.removed]).encode())
            h.update(repr((s.folded, s.text_hash, s.learnable)).encode())
        h.update(b.signatures.tobytes())
        h.update(repr([(r.source_uri, r.reason, r.detail) for r in b.rejections]).encode())
    return h.hexdigest()[:16]


def run_total(raws, rules, config):
    out = []
    for i in range(0, len(raws), CHUNK):
        # the pool pickles the rules with every chunk: so do we
        out.append(parse_and_sign(raws[i : i + CHUNK], pickle.loads(pickle.dumps(rules)), config, {}))
    return out


def run_stages(raws, rules, config) -> dict[str, float]:
    t: dict[str, float] = {}
    clock = time.process_time

    t0 = clock()
    for _, raw in raws:
        try:
            decode_text(raw.payload)
        except Rejected:
            pass
    t["decode"] = clock() - t0

    t0 = clock()
    articles = []
    for _, raw in raws:
        try:
            articles.append(parse_raw(raw, rules))
        except Rejected:
            pass
    t["parse/clean"] = clock() - t0 - t["decode"]

    t0 = clock()
    for a in articles:
        learnable_lines(a)
    t["learnable_lines"] = clock() - t0

    t0 = clock()
    folded = [fold_for_matching(a.body) for a in articles]
    t["fold"] = clock() - t0

    t0 = clock()
    for f in folded:
        text_hash(f)
    t["text_hash"] = clock() - t0

    t0 = clock()
    for i in range(0, len(folded), CHUNK):
        sign_many(folded[i : i + CHUNK], config)
    t["sign"] = clock() - t0
    return t


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=ROOT / "bench" / "out" / "dumps-10000-0")
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--repeat", type=int, default=3, help="best of this many timings")
    ap.add_argument("--profile", action="store_true", help="cProfile one end-to-end pass, top 30 by tottime")
    args = ap.parse_args(argv)

    raws = load(args.dir, args.n)
    n = len(raws)
    rules, config = RuleSet(), DedupConfig.for_threshold(0.8)
    run_total(raws[:200], rules, config)  # warm-up: compile rules, imports, power tables

    # the workers run with a relaxed collector (flows.pipeline.relax_gc): do the same
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)

    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        run_total(raws, rules, config)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(30)

    best_total, best_stages, digest = float("inf"), None, None
    for _ in range(args.repeat):
        t0 = time.process_time()
        batches = run_total(raws, rules, config)
        best_total = min(best_total, time.process_time() - t0)
        digest = checksum(batches)
        stages = run_stages(raws, rules, config)
        best_stages = stages if best_stages is None else {k: min(v, best_stages[k]) for k, v in stages.items()}

    n_ok = sum(len(b.articles) for b in batches)
    words = sum(s.word_count for b in batches for s in b.articles)
    print(f"{n} dumps ({n_ok} articles, {words / max(n_ok, 1):.0f} words each), best of {args.repeat}")
    for name, secs in best_stages.items():
        print(f"  {name:<16} {1000 * secs / n:7.4f} ms/article")
    print(f"  {'sum of stages':<16} {1000 * sum(best_stages.values()) / n:7.4f} ms/article")
    print(f"  {'parse_and_sign':<16} {1000 * best_total / n:7.4f} ms/article  ({n / best_total:,.0f} articles/s)")
    print(f"  checksum {digest}")


if __name__ == "__main__":
    main()
