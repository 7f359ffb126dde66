"""Run the shared cleaning scorer on the HTML extractor (``parsers.html:clean_html``, ``--mode html``)
and show where the time per page goes.

Usage (from the project root)::

    .venv/bin/python bench/cleaning_html.py                 # scorer figures + time split
    .venv/bin/python bench/cleaning_html.py --examples 3    # with residual lines per kind
    .venv/bin/python bench/cleaning_html.py --no-profile

The scorer lives in ``../shared/bench/cleaning/score_cleaning.py`` (override with
``--scorer``); see ``../shared/bench/README.md`` section 1. The bar: F1 >= 0.965
with <= 0.5 residual boilerplate lines per page at <= 20 ms per page (median, one
core). References: trafilatura 0.959, readability-lxml 0.960.

The time split runs the stages of ``clean_html`` one by one on every page (one
process, after a warm-up): pre-strip of scripts/styles, BeautifulSoup+lxml parse,
the walk into text blocks, furniture marking, main-element choice, body lines,
the line rules (``strip_boilerplate``). Compare times only between runs on the
same, otherwise idle machine.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SCORER = ROOT.parent / "shared" / "bench" / "cleaning" / "score_cleaning.py"


def time_split(data_dir: Path) -> None:
    """Median/mean ms per page of each stage of ``clean_html``."""
    from bs4 import BeautifulSoup

    sys.path.insert(0, str(ROOT))
    from parsers import html as H
    from parsers.clean import strip_boilerplate
    from parsers.rules import RuleSet

    truth = json.loads((data_dir / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for key in sorted(truth):
        path = data_dir / "html" / f"{key}.html.gz"
        if path.exists():
            pages.append(gzip.decompress(path.read_bytes()).decode("utf-8", "replace"))
    rules = H.line_rules(RuleSet(), None)
    H.clean_html(pages[0])  # warm-up: regex compilation, imports
    stages = ("prestrip", "parse", "walk", "furniture", "choose", "lines", "line_rules", "total")
    times: dict[str, list[float]] = {s: [] for s in stages}
    for html in pages:
        t = [time.perf_counter()]
        stripped = H.strip_raw_elements(html)
        t.append(time.perf_counter())
        soup = BeautifulSoup(stripped, "lxml", multi_valued_attributes=None)
        t.append(time.perf_counter())
        page = H._walk(soup.body or soup)
        t.append(time.perf_counter())
        prose = [H._is_prose(x, k) for x, k in zip(page.text, page.links)]
        why, removed, _captions = H._drop_furniture(page, prose)
        t.append(time.perf_counter())
        best = H._choose_main(page, why, prose) if page.text else 0
        t.append(time.perf_counter())
        lines = H._body_lines(page, why, best, removed) if page.text else []
        t.append(time.perf_counter())
        strip_boilerplate(lines, rules)
        t.append(time.perf_counter())
        for i, stage in enumerate(stages[:-1]):
            times[stage].append((t[i + 1] - t[i]) * 1000)
        times["total"].append((t[-1] - t[0]) * 1000)
    cpu = []
    for html in pages:  # CPU time of this thread: the one-core cost even on a busy machine
        c0 = time.thread_time()
        H.clean_html(html)
        cpu.append((time.thread_time() - c0) * 1000)
    print(f"clean_html CPU time: median {statistics.median(cpu):.2f} ms/page, mean {statistics.mean(cpu):.2f}")
    print(f"time split over {len(pages)} pages (ms/page, wall):")
    total = statistics.mean(times["total"])
    for stage in stages:
        med, mean = statistics.median(times[stage]), statistics.mean(times[stage])
        print(f"  {stage:11s} median {med:6.2f}   mean {mean:6.2f}   ({mean / total:5.1%} of mean total)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scorer", type=Path, default=DEFAULT_SCORER)
    ap.add_argument("--examples", type=int, default=0, help="residual lines to show per kind")
    ap.add_argument("--out", type=Path, help="write per-page JSON results here")
    ap.add_argument("--no-profile", action="store_true", help="skip the per-stage time split")
    args = ap.parse_args()
    if not args.scorer.exists():
        print(f"scorer not found: {args.scorer}", file=sys.stderr)
        return 2
    cmd = [sys.executable, str(args.scorer), "parsers.html:clean_html", "--mode", "html"]
    if args.examples:
        cmd += ["--examples", str(args.examples)]
    if args.out:
        cmd += ["--out", str(args.out)]
    status = subprocess.run(cmd, cwd=ROOT).returncode
    if not args.no_profile:
        time_split(args.scorer.parent)
    return status


if __name__ == "__main__":
    sys.exit(main())
