"""Micro-bench: MinHash signing cost per article, datasketch per-token update() vs our bulk path.

    .venv/bin/python bench/dedup_signing.py [--docs 500] [--words 600] [--repeat 3]

Corpora (folded with the benchmark's shingles.py normalisation): the BBC articles as they
are (~380 words) and the same text re-cut into articles of --words words. Methods, all
producing datasketch ``affine32`` / seed 1 / 128-permutation signatures of word 5-gram
shingles (timed from folded text, shingling included):

  baseline   datasketch per-token: MinHash() per article, update(s.encode()) per shingle
  ds-bulk    datasketch MinHash.bulk(lists of shingle bytes)  (update_batch per article)
  ours-sha1  sign_many(config hash="sha1_32")     -- same values as the two above
  ours       sign_many(config hash="polymix32")   -- the pipeline default
  band_keys  band_keys() of the signatures (25 x 5), on top of "ours"

Prints us/article, articles/s on one core, and the ratio baseline / method in the same run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from datasketch import MinHash

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "bench" / "dedup"
sys.path[:0] = [str(ROOT), str(SHARED)]

from shingles import list_docs, normalized_text, read_text  # noqa: E402

from parsers.signature import DedupConfig, band_keys, polymix32, shingles, sign_many  # noqa: E402


def corpora(n_docs: int, words: int) -> dict[str, list[str]]:
    docs_dir = SHARED / "bbc" / "docs"
    texts = [normalized_text(read_text(docs_dir / n)) for n in list_docs(docs_dir)]
    all_words = " ".join(texts).split()
    recut = [" ".join(all_words[i : i + words]) for i in range(0, len(all_words) - words, words)]
    return {"bbc": texts[:n_docs], f"{words}w": recut[:n_docs]}


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def baseline(texts: list[str]) -> np.ndarray:
    out = []
    for t in texts:
        m = MinHash(num_perm=128, seed=1, scheme="affine32")
        for s in shingles(t):
            m.update(s.encode("utf-8"))
        out.append(m.hashvalues)
    return np.array(out)


def ds_bulk(texts: list[str]) -> np.ndarray:
    mhs = MinHash.bulk([[s.encode("utf-8") for s in shingles(t)] for t in texts], num_perm=128, seed=1,
                       scheme="affine32")
    return np.array([m.hashvalues for m in mhs])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=500)
    ap.add_argument("--words", type=int, default=600)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    fast, sha1 = DedupConfig(), DedupConfig(hash="sha1_32")
    print(f"config: {fast.to_dict()}")
    for name, texts in corpora(args.docs, args.words).items():
        n = len(texts)
        mean_words = np.mean([len(t.split()) for t in texts])
        # correctness first: our sha1 path == datasketch; polymix32 == datasketch with that hashfunc
        ref = baseline(texts[:50])
        assert np.array_equal(sign_many(texts[:50], sha1), ref), "sha1_32 path differs from datasketch"
        for t, row in zip(texts[:20], sign_many(texts[:20], fast)):
            m = MinHash(num_perm=128, seed=1, scheme="affine32", hashfunc=polymix32)
            m.update_batch([s.encode("utf-8") for s in shingles(t)])
            assert np.array_equal(m.hashvalues, row), "polymix32 path differs from datasketch"
        sigs = sign_many(texts, fast)
        timings = {
            "baseline": best_of(1, lambda: baseline(texts)),
            "ds-bulk": best_of(args.repeat, lambda: ds_bulk(texts)),
            "ours-sha1": best_of(args.repeat, lambda: sign_many(texts, sha1)),
            "ours": best_of(args.repeat, lambda: sign_many(texts, fast)),
            "band_keys": best_of(args.repeat, lambda: band_keys(sigs, fast)),
        }
        print(f"\n{name}: {n} articles, mean {mean_words:.0f} words (signatures verified equal to datasketch)")
        print(f"  {'method':<10} {'us/article':>11} {'articles/s':>11} {'baseline/x':>11}")
        for method, secs in timings.items():
            us = secs / n * 1e6
            print(f"  {method:<10} {us:>11.1f} {n / secs:>11.0f} {timings['baseline'] / secs:>10.1f}x")


if __name__ == "__main__":
    main()
