"""End-to-end HTML ingestion speed: `newsdedup ingest` on real news pages, pages per second.

Uses the 181 pages of ../shared/bench/cleaning/html (gzipped), written out `--copies` times
under different outlet folders (so every copy is a distinct input: the same article from
several outlets, the common case of syndication), then times `newsdedup ingest` on them as a
whole process (start-up included) and prints pages/s and the summary's counts.

    .venv/bin/python bench/html_ingest.py --copies 5
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT.parent / "shared" / "bench" / "cleaning" / "html"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--copies", type=int, default=5)
    args = ap.parse_args()
    pages = sorted(PAGES.glob("*.html.gz"))
    with tempfile.TemporaryDirectory() as tmp:
        drop = Path(tmp) / "pages"
        for c in range(args.copies):
            outlet = drop / f"outlet-{c:02d}"
            outlet.mkdir(parents=True)
            for p in pages:
                (outlet / p.name[: -len(".gz")]).write_bytes(gzip.decompress(p.read_bytes()))
        n = len(pages) * args.copies
        db = Path(tmp) / "pages.duckdb"
        t0 = time.perf_counter()
        proc = subprocess.run([str(Path(sys.executable).with_name("newsdedup")), "ingest", str(drop), "--db", str(db), "-q"],
                              capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode not in (0, 3):
            sys.exit(proc.stderr)
        print(proc.stdout)
        print(json.dumps({"pages": n, "seconds": round(wall, 2), "pages_per_s": round(n / wall, 1)}))


if __name__ == "__main__":
    main()
