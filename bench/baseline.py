"""The issue's baseline: a plain single-process datasketch loop over a dump directory.

For every ``*.txt`` file under DIR (sorted; other files are not
articles): read, decode UTF-8 (errors replaced), lower-case, strip punctuation, build the
set of word 5-gram shingles, ``MinHash(num_perm=128)`` with one ``m.update(sh.encode())``
per shingle, ``query`` an in-memory ``MinHashLSH(threshold=0.8, num_perm=128)`` for
candidates, then ``insert``. No cleaning, no verification, no storage: this is the speed
and memory floor newsdedup is compared against in ``bench/ingest.py``.

CLI: ``python bench/baseline.py DIR`` prints one line of figures and then the same as JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

from datasketch import MinHash, MinHashLSH

NUM_PERM = 128
THRESHOLD = 0.8
SHINGLE_K = 5
_PUNCT = re.compile(r"[^\w\s]+")


def shingles(text: str, k: int = SHINGLE_K) -> set[str]:
    words = _PUNCT.sub("", text.lower()).split()
    if len(words) < k:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + k]) for i in range(len(words) - k + 1)}


def run(root: Path) -> dict:
    """Sign, query and insert every dump under ``root``; return the figures."""
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    files = sorted(root.rglob("*.txt"))
    t0 = time.perf_counter()
    with_candidates = pairs = 0
    for path in files:
        text = path.read_bytes().decode("utf-8", errors="replace")
        m = MinHash(num_perm=NUM_PERM)
        for sh in shingles(text):
            m.update(sh.encode())
        found = lsh.query(m)
        if found:
            with_candidates += 1
            pairs += len(found)
        lsh.insert(str(path.relative_to(root)), m)
    secs = time.perf_counter() - t0
    n = len(files)
    return {
        "articles": n,
        "seconds": round(secs, 3),
        "articles_per_s": round(n / secs, 1) if secs else None,
        "articles_with_candidates": with_candidates,
        "candidate_pairs": pairs,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="datasketch per-token MinHash + MinHashLSH baseline")
    ap.add_argument("dir", type=Path)
    args = ap.parse_args(argv)
    if not args.dir.is_dir():
        ap.error(f"{args.dir} is not a directory")
    r = run(args.dir)
    print(
        f"baseline: {r['articles']} articles in {r['seconds']:.1f} s = {r['articles_per_s']} articles/s; "
        f"{r['articles_with_candidates']} articles had duplicate candidates ({r['candidate_pairs']} candidate pairs)"
    )
    print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
