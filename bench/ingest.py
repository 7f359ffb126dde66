"""End-to-end ingestion benchmark: `newsdedup ingest` against a plain datasketch loop, in one run.

For each N it generates N synthetic syndication dumps (seeded, `bench/synthetic.py`), then times
as whole processes (start-up included, wall clock):

- baseline: `bench/baseline.py` — one process, per-token `MinHash.update()`, in-memory `MinHashLSH`;
- newsdedup: `newsdedup ingest DIR --db fresh.duckdb` (2 worker processes).

It prints articles/s, the speed-up ratio and the peak RSS of each, plus the recall of
newsdedup's story clusters against the generator's truth.

With `--incremental STORE_N` it also measures how the cost of ingesting `--n` new articles grows
with the store: into an empty store vs into a store already holding STORE_N articles (the
store is built once with newsdedup itself and cached under --work).

    .venv/bin/python bench/ingest.py --n 10000 --n 100000
    .venv/bin/python bench/ingest.py --n 10000 --incremental 1000000
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
NEWSDEDUP = str(Path(PY).with_name("newsdedup"))


def generate(work: Path, n: int, seed: int) -> Path:
    """Generate (once, cached) n dumps; the truth file is moved beside the dump dir, not ingested."""
    out = work / f"dumps-{n}-{seed}"
    truth = truth_file(out)
    if not truth.exists():
        if out.exists():
            shutil.rmtree(out)
        subprocess.run([PY, str(ROOT / "bench" / "synthetic.py"), str(out), "--n", str(n), "--seed", str(seed)], check=True)
        (out / "truth.jsonl").rename(truth)
    return out


def truth_file(dumps: Path) -> Path:
    return dumps.with_name(dumps.name + ".truth.jsonl")


def peak_rss(cmd: list[str]) -> tuple[float, float, str]:
    """Wall time and peak RSS (MiB) of one command, measured by a fresh wrapper process."""
    wrapper = (
        "import resource, subprocess, sys, time, json;"
        "t=time.perf_counter(); p=subprocess.run(sys.argv[1:], capture_output=True, text=True);"
        "w=time.perf_counter()-t; r=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024;"
        "print(json.dumps({'wall': w, 'rss': r, 'rc': p.returncode, 'out': p.stdout, 'err': p.stderr[-2000:]}))"
    )
    proc = subprocess.run([PY, "-c", wrapper, *cmd], capture_output=True, text=True, check=True)
    res = json.loads(proc.stdout)
    if res["rc"] not in (0, 3):
        raise SystemExit(f"command failed ({res['rc']}): {' '.join(cmd)}\n{res['err']}")
    return res["wall"], res["rss"], res["out"]


def recall(db: Path, dumps: Path, threshold: float = 0.8) -> tuple[float, int]:
    """Share of generated copies (exact, or edited with cleaned-body Jaccard >= threshold to their
    original, per the generator's truth) that landed in their original's story cluster."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT source, source_uri, cluster_id FROM articles").fetchall()
    con.close()
    cluster = {}
    for source, uri, cid in rows:
        cluster[f"{source}/{uri}"] = cid
        cluster.setdefault(uri, cid)
    pairs = hit = 0
    for line in truth_file(dumps).read_text().splitlines():
        rec = json.loads(line)
        if rec.get("of") and (rec.get("jaccard") or 0) >= threshold and rec["file"] in cluster and rec["of"] in cluster:
            pairs += 1
            hit += cluster[rec["file"]] == cluster[rec["of"]]
    return (hit / pairs if pairs else 1.0), pairs


def bench_n(work: Path, n: int, seed: int) -> dict:
    dumps = generate(work, n, seed)
    db = work / f"bench-{n}.duckdb"
    db.unlink(missing_ok=True)
    base_wall, base_rss, _ = peak_rss([PY, str(ROOT / "bench" / "baseline.py"), str(dumps)])
    ours_wall, ours_rss, _ = peak_rss([NEWSDEDUP, "ingest", str(dumps), "--db", str(db), "-q"])
    rec, pairs = recall(db, dumps)
    return {
        "n": n,
        "baseline_s": round(base_wall, 2),
        "baseline_articles_per_s": round(n / base_wall, 1),
        "baseline_peak_rss_mib": round(base_rss, 1),
        "newsdedup_s": round(ours_wall, 2),
        "newsdedup_articles_per_s": round(n / ours_wall, 1),
        "newsdedup_peak_rss_mib": round(ours_rss, 1),
        "speedup": round(base_wall / ours_wall, 2),
        "copy_recall_at_0.8": round(rec, 4),
        "copies": pairs,
    }


def bench_incremental(work: Path, n: int, store_n: int, seed: int) -> dict:
    new = generate(work, n, seed + 1000)
    store_dumps = generate(work, store_n, seed + 2000)
    big = work / f"store-{store_n}.duckdb"
    if not big.exists():
        tmp = big.with_suffix(".building")
        tmp.unlink(missing_ok=True)
        t0 = time.perf_counter()
        peak_rss([NEWSDEDUP, "ingest", str(store_dumps), "--db", str(tmp), "-q", "--source", "store"])
        print(f"built store of {store_n} in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
        tmp.rename(big)
    empty_db = work / "incr-empty.duckdb"
    empty_db.unlink(missing_ok=True)
    copy = work / "incr-big.duckdb"
    shutil.copyfile(big, copy)
    e_wall, e_rss, _ = peak_rss([NEWSDEDUP, "ingest", str(new), "--db", str(empty_db), "-q", "--source", "new"])
    b_wall, b_rss, _ = peak_rss([NEWSDEDUP, "ingest", str(new), "--db", str(copy), "-q", "--source", "new"])
    copy.unlink()
    return {
        "new_articles": n,
        "store_articles": store_n,
        "into_empty_s": round(e_wall, 2),
        "into_store_s": round(b_wall, 2),
        "ratio": round(b_wall / e_wall, 3),
        "into_empty_peak_rss_mib": round(e_rss, 1),
        "into_store_peak_rss_mib": round(b_rss, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, action="append", help="articles to generate and ingest (repeatable)")
    ap.add_argument("--incremental", type=int, metavar="STORE_N", help="also measure --n new articles into a store of STORE_N")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "out")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    sizes = args.n or [10_000]
    results = []
    if args.incremental:
        results.append({"incremental": bench_incremental(args.work, sizes[0], args.incremental, args.seed)})
    else:
        for n in sizes:
            results.append(bench_n(args.work, n, args.seed))
    for r in results:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
