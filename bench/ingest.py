"""End-to-end ingestion benchmark: `newsdedup ingest` against a plain datasketch loop, in one run.

For each N it generates N synthetic syndication dumps (seeded, `bench/synthetic.py`), then times
as whole processes (start-up included, wall clock):

- baseline: `bench/baseline.py` — one process, per-token `MinHash.update()`, in-memory `MinHashLSH`;
- newsdedup: `newsdedup ingest DIR --db fresh.duckdb` (2 worker processes).

It prints articles/s, the speed-up ratio and the peak RSS of each, plus the recall of
newsdedup's story clusters against the generator's truth.

With `--incremental STORE_N` it also measures how the cost of ingesting `--n` new articles grows
with the store: into an empty store vs into a store already holding STORE_N articles (the
store is built once with newsdedup itself and cached under --work), twice: with read
snapshots off (the engine's cost) and with the defaults, the store already carrying a snapshot
and its spare as after any earlier run (the end-of-run publish included).

    .venv/bin/python bench/ingest.py --n 10000 --n 100000
    .venv/bin/python bench/ingest.py --n 10000 --incremental 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
NEWSDEDUP = str(Path(PY).with_name("newsdedup"))


def generate(work: Path, n: int, seed: int) -> Path:
    """Generate (once, cached) n dumps; the generator writes the truth file beside the dump dir."""
    out = work / f"dumps-{n}-{seed}"
    truth = truth_file(out)
    if not truth.exists():
        if out.exists():
            shutil.rmtree(out)
        subprocess.run([PY, str(ROOT / "bench" / "synthetic.py"), str(out), "--n", str(n), "--seed", str(seed)], check=True)
    return out


def truth_file(dumps: Path) -> Path:
    return dumps.with_name(dumps.name + ".truth.jsonl")


def peak_rss(cmd: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """Wall time and peak RSS (MiB) of one command, measured by a fresh wrapper process."""
    wrapper = (
        "import resource, subprocess, sys, time, json;"
        "t=time.perf_counter(); p=subprocess.run(sys.argv[1:], capture_output=True, text=True);"
        "w=time.perf_counter()-t; r=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024;"
        "print(json.dumps({'wall': w, 'rss': r, 'rc': p.returncode, 'out': p.stdout, 'err': p.stderr[-2000:]}))"
    )
    proc = subprocess.run([PY, "-c", wrapper, *cmd], capture_output=True, text=True, check=True, env=env)
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


def bench_n(work: Path, n: int, seed: int, baseline: bool = True, extra: list[str] | None = None) -> dict:
    dumps = generate(work, n, seed)
    db = work / f"bench-{n}.duckdb"
    for stale in [*work.glob(f"{db.stem}.*"), *work.glob(f".{db.stem}.*")]:  # store, wal, lock, snapshot, spare
        stale.unlink()
    base = {}
    if baseline:
        base_wall, base_rss, _ = peak_rss([PY, str(ROOT / "bench" / "baseline.py"), str(dumps)])
    ours_wall, ours_rss, _ = peak_rss([NEWSDEDUP, "ingest", str(dumps), "--db", str(db), "-q", *(extra or [])])
    if baseline:
        base = {
            "baseline_s": round(base_wall, 2),
            "baseline_articles_per_s": round(n / base_wall, 1),
            "baseline_peak_rss_mib": round(base_rss, 1),
            "speedup": round(base_wall / ours_wall, 2),
        }
    rec, pairs = recall(db, dumps)
    return {
        "n": n,
        **base,
        "newsdedup_s": round(ours_wall, 2),
        "newsdedup_articles_per_s": round(n / ours_wall, 1),
        "newsdedup_peak_rss_mib": round(ours_rss, 1),
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
        wall, rss, _ = peak_rss([NEWSDEDUP, "ingest", str(store_dumps), "--db", str(tmp), "-q", "--source", "store"])
        # building the store is itself a run of STORE_N articles into an empty store: its peak
        # RSS extends the --n series (flatness) to the store's size
        print(json.dumps({"store_build_n": store_n, "newsdedup_s": round(wall, 2),
                          "newsdedup_peak_rss_mib": round(rss, 1)}), flush=True)
        tmp.rename(big)
    _migrate(big)  # a store built by an older newsdedup: migrate once, untimed
    results = {"new_articles": n, "store_articles": store_n}
    # engine cost (snapshots off), then the defaults, where the store already has a snapshot and
    # a spare (as after any earlier run), so the end-of-run publish writes what the run changed
    for label, snapshots in (("", "off"), ("defaults_", "on")):
        env = {**os.environ, "NEWSDEDUP_SNAPSHOT": snapshots}
        empty_db, copy = work / "incr-empty.duckdb", work / "incr-big.duckdb"
        for stale in [*work.glob("incr-empty*"), *work.glob("incr-big*"), *work.glob(".incr-*")]:
            stale.unlink()
        shutil.copyfile(big, copy)
        if snapshots == "on":
            _publish_twice(copy)
        # the 5 GB copy is still being written back to disk; let it land before timing, or the
        # first timed run competes with the bench's own set-up for the disk
        os.sync()
        e_wall, e_rss, _ = peak_rss([NEWSDEDUP, "ingest", str(new), "--db", str(empty_db), "-q", "--source", "new"], env)
        b_wall, b_rss, _ = peak_rss([NEWSDEDUP, "ingest", str(new), "--db", str(copy), "-q", "--source", "new"], env)
        results |= {
            f"{label}into_empty_s": round(e_wall, 2),
            f"{label}into_store_s": round(b_wall, 2),
            f"{label}ratio": round(b_wall / e_wall, 3),
            f"{label}into_empty_peak_rss_mib": round(e_rss, 1),
            f"{label}into_store_peak_rss_mib": round(b_rss, 1),
        }
    for stale in [*work.glob("incr-big*"), *work.glob(".incr-big*")]:
        stale.unlink()
    return results


def _migrate(db: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from storage.store import open_store

    open_store(db).close()


def _publish_twice(db: Path) -> None:
    """Give `db` a snapshot and a spare, as a store has after its first runs."""
    sys.path.insert(0, str(ROOT))
    from storage.snapshot import publish_snapshot
    from storage.store import open_store

    con = open_store(db)
    try:
        publish_snapshot(con, db)
        publish_snapshot(con, db)
    finally:
        con.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, action="append", help="articles to generate and ingest (repeatable)")
    ap.add_argument("--incremental", type=int, metavar="STORE_N", help="also measure --n new articles into a store of STORE_N")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-baseline", action="store_true", help="newsdedup only (e.g. a peak-RSS series over several --n)")
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "out")
    ap.add_argument("--files-per-process", type=int, help="passed to newsdedup ingest (default: its own, 20,000)")
    args = ap.parse_args()
    extra = [] if args.files_per_process is None else ["--files-per-process", str(args.files_per_process)]
    args.work.mkdir(parents=True, exist_ok=True)
    sizes = args.n or [10_000]
    results = []
    if args.incremental:
        results.append({"incremental": bench_incremental(args.work, sizes[0], args.incremental, args.seed)})
    else:
        for n in sizes:
            results.append(bench_n(args.work, n, args.seed, baseline=not args.no_baseline, extra=extra))
    for r in results:
        print(json.dumps(r))
    if len(results) > 1 and not args.incremental:
        # flatness of the peak: each N's peak RSS against the smallest N's, measured in this run
        first = results[0]["newsdedup_peak_rss_mib"]
        print(json.dumps({"peak_rss_vs_n%d" % results[0]["n"]: {r["n"]: round(r["newsdedup_peak_rss_mib"] / first, 3) for r in results}}))


if __name__ == "__main__":
    main()
