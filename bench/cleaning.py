"""Run the shared cleaning scorer on our cleaner (``parsers.clean:clean``) and print its figures.

Usage (from the project root)::

    .venv/bin/python bench/cleaning.py                  # window and dump modes
    .venv/bin/python bench/cleaning.py --modes window --examples 3

The scorer lives in ``../shared/bench/cleaning/score_cleaning.py`` (override with
``--scorer``); see ``../shared/bench/README.md`` section 1. The bar for window
mode is F1 >= 0.90 with <= 2 residual boilerplate lines per page.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SCORER = ROOT.parent / "shared" / "bench" / "cleaning" / "score_cleaning.py"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scorer", type=Path, default=DEFAULT_SCORER)
    ap.add_argument("--modes", default="window,dump", help="comma-separated scorer modes")
    ap.add_argument("--examples", type=int, default=0, help="residual lines to show per kind")
    ap.add_argument("--out-dir", type=Path, help="write per-page JSON results here (<mode>.json)")
    args = ap.parse_args()
    if not args.scorer.exists():
        print(f"scorer not found: {args.scorer}", file=sys.stderr)
        return 2
    status = 0
    for mode in args.modes.split(","):
        cmd = [sys.executable, str(args.scorer), "parsers.clean:clean", "--mode", mode]
        if args.examples:
            cmd += ["--examples", str(args.examples)]
        if args.out_dir:
            args.out_dir.mkdir(parents=True, exist_ok=True)
            cmd += ["--out", str(args.out_dir / f"{mode}.json")]
        print(f"== mode {mode}", flush=True)
        status |= subprocess.run(cmd, cwd=ROOT).returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
