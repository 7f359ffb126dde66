"""Concurrency soak: scheduled-style runs and backfills writing one store while readers query it.

For ``--seconds`` (default 60), against a real Prefect server with ``prefect.yaml`` deployed
and a process worker (``tests/prefect_server.py``, as the README's commands set it up):

* **scheduled**: new dumps keep arriving in a drop directory (each batch moved in with
  ``os.rename``, as a mailer or rsync would finish a file), and an ``ingest-drop-dir`` run is
  created over the whole directory as soon as the previous one ended (an hourly schedule
  compressed: every run re-reads the directory and skips what is stored);
* **backfill**: ``backfill`` runs over consecutive ranges of day directories
  (``days/{date:%Y-%m-%d}``), the next range as soon as the previous run ended; day 0's dumps
  also reach the drop directory, so both writers meet the same articles;
* **readers**, each in a loop until every run has ended: ``newsdedup sql`` subprocesses, and
  an analyst's plain ``duckdb.connect(<store>.snapshot.duckdb, read_only=True)`` (what the
  README tells analysts to open), both a fresh connection per query and one session left
  open for the whole soak.

When the time is up no new run is created; the runs under way finish. Then the same inputs
are ingested sequentially with ``newsdedup ingest`` into a reference store, and the soak's
store must hold the same article ids (none lost, none doubled), the same number of distinct
texts and the same rejected inputs; every reader query must have been answered.

    .venv/bin/python bench/soak.py --seconds 60

Prints the counts, the longest and p95 reader waits, and exits 1 if a check failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from synthetic import generate, truth_path  # noqa: E402

from storage.snapshot import snapshot_path  # noqa: E402

NEWSDEDUP = str(Path(sys.executable).with_name("newsdedup"))
FIRST_DAY = date(2024, 6, 1)
QUERY = "SELECT count(*), max(seq) FROM articles"


@dataclass
class ReaderLog:
    """Waits (seconds) of the answered queries of one reader, and the failures with their message."""

    name: str
    waits: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def row(self) -> dict[str, object]:
        ordered = sorted(self.waits) or [0.0]
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        return {"reader": self.name, "answered": len(self.waits), "failures": len(self.failures),
                "longest_s": round(ordered[-1], 3), "p95_s": round(p95, 3),
                "median_s": round(statistics.median(ordered), 3)}


@dataclass
class SoakReport:
    seconds: float
    runs: dict[str, list[str]]  # deployment -> final states
    readers: list[ReaderLog]
    articles: int
    reference_articles: int
    lost: int
    extra: int
    duplicated: int
    checks: dict[str, bool]
    drop_batches: int
    backfill_days: int
    wall_seconds: float

    @property
    def ok(self) -> bool:
        return all(self.checks.values())

    def as_dict(self) -> dict[str, object]:
        return {"soak_seconds": self.seconds, "wall_seconds": round(self.wall_seconds, 1),
                "runs": {k: {s: v.count(s) for s in sorted(set(v))} for k, v in self.runs.items()},
                "drop_batches": self.drop_batches, "backfill_days": self.backfill_days,
                "articles": self.articles, "reference_articles": self.reference_articles,
                "lost": self.lost, "extra": self.extra, "duplicated": self.duplicated,
                "readers": [r.row() for r in self.readers], "checks": self.checks}


def _generate(out: Path, n: int, seed: int) -> Path:
    generate(out, n, seed=seed)
    truth_path(out).unlink()
    return out


def _cli(*args: str) -> int:
    return subprocess.run([NEWSDEDUP, *args, "-q"], capture_output=True, text=True).returncode


def _move_in(batch: Path, drop: Path, tag: str) -> None:
    """Move a generated batch into the drop dir, one outlet chunk at a time (each an atomic rename)."""
    for outlet in sorted(p for p in batch.iterdir() if p.is_dir()):
        (drop / outlet.name).mkdir(parents=True, exist_ok=True)
        for chunk in sorted(outlet.iterdir()):
            os.rename(chunk, drop / outlet.name / f"{tag}-{chunk.name}")


def _read_loop(log: ReaderLog, done: threading.Event, query, pause: float = 0.0) -> None:
    """Query until `done`; `pause` seconds between queries (an analyst is not a busy loop, and a
    busy loop in this process would take a core from the writers it is meant to watch)."""
    while not done.is_set():
        started = time.monotonic()
        try:
            query()
        except Exception as exc:  # every failure is the finding: keep its message
            log.failures.append(f"{type(exc).__name__}: {exc}"[:500])
        else:
            log.waits.append(time.monotonic() - started)
        done.wait(pause)


def _articles(db: Path) -> tuple[list[str], int, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        ids = [r[0] for r in con.execute("SELECT article_id FROM articles ORDER BY 1").fetchall()]
        texts = con.execute("SELECT count(DISTINCT text_hash) FROM articles").fetchone()[0]
        rejected = con.execute("SELECT count(DISTINCT (source, source_uri, content_hash)) FROM rejected_inputs").fetchone()[0]
        return ids, texts, rejected
    finally:
        con.close()


def run_soak(server, workdir: Path, seconds: float = 60.0, drop_size: int = 120, day_size: int = 200,
             days_per_backfill: int = 2, batch_size: int = 300, log=print) -> SoakReport:
    """Run the soak against a started `tests.prefect_server.PrefectServer` with deployments; see the module docstring."""
    wall = time.monotonic()
    days_dir, staging, drop = workdir / "days", workdir / "staging", workdir / "drop"
    db, reference = workdir / "news.duckdb", workdir / "reference.duckdb"
    # inputs for more than the soak can take; what was not reached is not compared
    n_days = max(4, int(seconds / 5) * days_per_backfill)
    n_drops = max(3, int(seconds / 4))
    log(f"generating {n_days} days x {day_size} and {n_drops} drop batches x {drop_size} dumps ...")
    for i in range(n_days):
        _generate(days_dir / (FIRST_DAY + timedelta(days=i)).isoformat(), day_size, seed=100 + i)
    for i in range(n_drops):
        _generate(staging / f"b{i:03}", drop_size, seed=500 + i)
    for outlet in sorted((days_dir / FIRST_DAY.isoformat()).iterdir()):  # day 0's dumps reach both writers
        for chunk in sorted(outlet.iterdir()):
            shutil.copytree(chunk, staging / "b000" / outlet.name / f"day0-{chunk.name}")
    drop.mkdir()
    seed = workdir / "seed"
    _generate(seed, 50, seed=1)
    for target in (db, reference):  # the store and its snapshot exist before the readers start
        assert _cli("ingest", str(seed), "--db", str(target)) == 0

    done = threading.Event()
    readers = [ReaderLog("newsdedup sql (process)"), ReaderLog("duckdb.connect(snapshot) per query"),
               ReaderLog("duckdb session open all along")]

    def sql_process() -> None:
        result = subprocess.run([NEWSDEDUP, "sql", QUERY, "--db", str(db), "-f", "csv"],
                                capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"exit {result.returncode}: {result.stderr.strip()}")

    def analyst_query() -> None:
        con = duckdb.connect(str(snapshot_path(db)), read_only=True)
        try:
            con.execute(QUERY).fetchall()
        finally:
            con.close()

    session = duckdb.connect(str(snapshot_path(db)), read_only=True)
    threads = [threading.Thread(target=_read_loop, args=(readers[0], done, sql_process)),
               threading.Thread(target=_read_loop, args=(readers[1], done, analyst_query, 0.1)),
               threading.Thread(target=_read_loop, args=(readers[2], done, lambda: session.execute(QUERY).fetchall(), 0.1))]
    for t in threads:
        t.start()

    runs: dict[str, list[str]] = {"ingest-drop-dir": [], "backfill": []}
    active: dict[str, str | None] = {"ingest-drop-dir": None, "backfill": None}
    next_drop, next_day = 0, 0
    started = time.monotonic()
    log(f"soak: {seconds:.0f} s of writers and readers on {db}")
    try:
        while True:
            in_window = time.monotonic() - started < seconds
            for name, run_id in active.items():
                if run_id is not None:
                    state = server.flow_run(run_id)["state_type"]
                    if state not in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                        continue
                    runs[name].append(state)
                    if state != "COMPLETED":
                        log(f"{name} run {run_id} ended {state}:\n{server.run_logs(run_id)[-3000:]}")
                    active[name] = None
                if not in_window:
                    continue
                if name == "ingest-drop-dir" and next_drop < n_drops:
                    _move_in(staging / f"b{next_drop:03}", drop, f"b{next_drop:03}")
                    next_drop += 1
                    active[name] = server.create_run(server.deployments[name], {
                        "paths": [str(drop)], "db_path": str(db), "batch_size": batch_size})
                elif name == "backfill" and next_day < n_days:
                    first = FIRST_DAY + timedelta(days=next_day)
                    last = first + timedelta(days=min(days_per_backfill, n_days - next_day) - 1)
                    next_day += (last - first).days + 1
                    active[name] = server.create_run(server.deployments[name], {"request": {
                        "path_template": str(days_dir / "{date:%Y-%m-%d}"), "start_date": first.isoformat(),
                        "end_date": last.isoformat(), "db_path": str(db), "batch_size": batch_size}})
            if not in_window and all(v is None for v in active.values()):
                break
            assert time.monotonic() - started < seconds + 900, f"runs still going 900 s after the window: {active}"
            time.sleep(0.5)
    finally:
        done.set()
        for t in threads:
            t.join(timeout=180)
        session.close()
    soaked = time.monotonic() - started
    log(f"writers done after {soaked:.0f} s: {next_drop} drop batches, {next_day} backfill days; sequential reference ...")

    for i in range(next_day):
        assert _cli("ingest", str(days_dir / (FIRST_DAY + timedelta(days=i)).isoformat()), "--db", str(reference)) in (0, 3)
    assert _cli("ingest", str(drop), "--db", str(reference)) in (0, 3)
    got, got_texts, got_rejected = _articles(db)
    want, want_texts, want_rejected = _articles(reference)
    lost, extra = len(set(want) - set(got)), len(set(got) - set(want))
    checks = {
        "every run completed": all(s == "COMPLETED" for v in runs.values() for s in v),
        "both writers ran": all(runs.values()),
        "same article ids as sequential": got == want,
        "no article doubled": len(got) == len(set(got)),
        "same distinct texts": got_texts == want_texts,
        "same rejected inputs": got_rejected == want_rejected,
        "every reader query answered": all(not r.failures for r in readers),
        "readers kept reading": all(len(r.waits) >= 3 for r in readers),
    }
    report = SoakReport(seconds, runs, readers, len(got), len(want), lost, extra, len(got) - len(set(got)), checks,
                        next_drop, next_day, time.monotonic() - wall)
    for r in readers:
        for failure in r.failures[:3]:
            log(f"{r.name} failed: {failure}")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long new runs keep being created (default 60)")
    parser.add_argument("--drop-size", type=int, default=120, help="dumps per batch dropped for the scheduled runs")
    parser.add_argument("--day-size", type=int, default=200, help="dumps per backfill day")
    parser.add_argument("--days-per-backfill", type=int, default=2, help="days per backfill run")
    parser.add_argument("--workdir", type=Path, help="keep inputs, stores and server logs here (default: a temp dir, removed)")
    args = parser.parse_args(argv)

    from tests.prefect_server import deployed_server

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="newsdedup-soak-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        print("starting a Prefect server, deploying prefect.yaml, starting a worker ...", flush=True)
        with deployed_server(workdir / "prefect-home") as server:
            report = run_soak(server, workdir, args.seconds, args.drop_size, args.day_size, args.days_per_backfill,
                              log=lambda m: print(m, flush=True))
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(report.as_dict(), indent=2))
    for r in report.readers:
        row = r.row()
        print(f"{row['reader']}: {row['answered']} answered, {row['failures']} failed, "
              f"longest {row['longest_s']:.2f} s, p95 {row['p95_s']:.2f} s")
    print("OK" if report.ok else f"FAILED: {[k for k, v in report.checks.items() if not v]}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
