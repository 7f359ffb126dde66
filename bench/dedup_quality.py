"""Dedup quality of the real pipeline on the BBC set (../shared/bench/dedup), scored by the shared scorer.

Runs `newsdedup ingest` on `bbc/docs` into a fresh DuckDB file, exports every article's story
cluster as `{"id": stem, "cluster": cluster_id}` and runs `score_dedup.py --clusters` on it
(truth = transitive closure of pairs with exact Jaccard >= threshold).

    .venv/bin/python bench/dedup_quality.py [--threshold 0.8] [--batch-size 500]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "bench" / "dedup"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--batch-size", type=int, default=500, help="small batches exercise the stored-index path too")
    ap.add_argument("--docs", type=Path, default=SHARED / "bbc" / "docs")
    ap.add_argument("--show", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bbc.duckdb"
        cmd = [str(Path(sys.executable).with_name("newsdedup")), "ingest", str(args.docs), "--db", str(db),
               "--source", "bbc", "--threshold", str(args.threshold), "--batch-size", str(args.batch_size), "-q"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        print(proc.stdout)
        if proc.returncode not in (0, 3):
            sys.exit(proc.stderr)
        import duckdb

        con = duckdb.connect(str(db), read_only=True)
        rows = con.execute("SELECT source_uri, cluster_id FROM articles").fetchall()
        con.close()
        clusters = Path(tmp) / "clusters.jsonl"
        with clusters.open("w") as f:
            for uri, cid in rows:
                f.write(json.dumps({"id": Path(uri).stem, "cluster": cid}) + "\n")
        subprocess.run([sys.executable, str(SHARED / "score_dedup.py"), str(clusters), "--clusters",
                        "--threshold", str(args.threshold), "--show", str(args.show)], check=True)


if __name__ == "__main__":
    main()
