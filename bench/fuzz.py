"""Fuzz every parser with the properties of tests/fuzz_properties.py, counting failures.

    .venv/bin/python bench/fuzz.py                      # 10,000 examples per parser, seed 0
    .venv/bin/python bench/fuzz.py --n 500 --seed 7 --only dump html

Prints, per parser: examples run, failures (an example whose property failed or that
crashed), wall seconds, and the first failures with their input. Exit code 1 when any
example failed. The CI test (tests/test_fuzz.py) runs the same properties, fewer examples.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fuzz_properties import TARGETS, run_counting  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000, help="examples per parser (default 10000)")
    ap.add_argument("--seed", type=int, default=0, help="hypothesis seed (default 0)")
    ap.add_argument("--only", nargs="*", choices=[t.name for t in TARGETS], help="parsers to fuzz (default: all)")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")  # bs4/feedparser warnings on hostile input are expected

    total_failures = 0
    rows = []
    print(f"{'parser':<10} {'examples':>9} {'failures':>9} {'seconds':>9}", flush=True)
    for target in TARGETS:
        if args.only and target.name not in args.only:
            continue
        report = run_counting(target, args.n, args.seed)
        total_failures += report.failures
        rows.append(report)
        print(f"{report.name:<10} {report.examples:>9,} {report.failures:>9,} {report.seconds:>9.1f}", flush=True)
    for report in rows:
        for failure in report.first_failures:
            print(f"\n[{report.name}] {failure}")
    return 1 if total_failures else 0


if __name__ == "__main__":
    sys.exit(main())
