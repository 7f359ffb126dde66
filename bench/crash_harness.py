"""Kill -9 anywhere: SIGKILL an ingest at named points and at random times, re-run it to
completion, and check that the store equals the one an uninterrupted run writes.

Input: ``--n`` synthetic syndication dumps (``bench/synthetic.py``, seeded) plus fixtures that
make every crash point reachable: bad files (empty, binary, malformed JSONL lines: rows in
``rejected_inputs``), short lines that recur sparsely within an outlet (learned boilerplate
whose earlier carriers are already stored, so they are rewritten) and bridge stories (an
article close to two stored clusters, so they merge).

References: one uninterrupted CLI run into a fresh store (its trace of crash points says how
often each point is reached), and for ``migration.*`` points one uninterrupted run into a
pre-populated store at an older schema version (``--old-version``, default 3: real articles
ingested from another seeded input, copied into a store migrated only that far, as an older
newsdedup left it). With ``flow/`` points, one uninterrupted run through the Prefect flow
(``newsdedup ingest --prefect``, ephemeral Prefect under a temporary PREFECT_HOME) too.

Each point: the starting store (none, or a copy of the older store), one run that is killed,
then a re-run to completion (it must exit as the reference did), then a canonical dump of
every table compared with the reference's. A point is written ``[flow/]NAME[:N]`` (die at
the N-th time the process reaches crash point NAME, see ``storage/crashpoints.py``) or
``[flow/]random`` (the harness SIGKILLs the run from outside after a random delay within the
reference run's duration). After every kill the harness waits for every process the run
started (found by a tag in their environment) to be gone: a parse worker or Prefect server
that outlives its run is reported as a failure.

Canonical dump: every table but ``ingest_runs`` (one row per run: a killed run leaves its
own), every column but per-run ones (run ids, timestamps), rows sorted. Cluster ids and
``seq`` are deterministic (the founder's article id, ingestion order), so they are compared
as they are.

    .venv/bin/python bench/crash_harness.py --n 3000
    .venv/bin/python bench/crash_harness.py --n 1000 --points batch_write.before_commit:2,random --flow
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
NEWSDEDUP = str(Path(sys.executable).with_name("newsdedup"))

from flows import process_guard  # noqa: E402
from storage.crashpoints import ENV as CRASH_ENV, TRACE_ENV  # noqa: E402
from storage.migrations import apply_migrations  # noqa: E402

# 15 named points (2 of them through the Prefect flow) and 5 random times (1 through the flow)
DEFAULT_POINTS = (
    "run.after_start",
    "batch_write.after_articles:3",
    "batch_write.after_details:5",
    "batch_write.after_links:4",
    "batch_write.before_commit:6",
    "batch_write.after_commit:2",
    "learned_rewrite.after_bodies:1",
    "learned_rewrite.after_bodies:2",
    "cluster_merge.after_move:1",
    "cluster_merge.after_move:2",
    "snapshot.before_replace:1",
    "run.before_finish",
    "migration.v4.before_statement:2",
    "migration.v6.before_statement:2",
    "flow/batch_write.before_commit:4",
    "flow/cluster_merge.after_move:1",
    "random",
    "random",
    "random",
    "flow/random",
)

# columns that differ between runs by design (who wrote a row, and when)
PER_RUN_COLUMNS = {
    "run_id", "first_run_id", "ingested_at", "rejected_at", "merged_at", "applied_at",
    "created_at", "fetched_at", "last_fetched",
}
PER_RUN_TABLES = {"ingest_runs"}
TAG_ENV = "NEWSDEDUP_CRASH_HARNESS_TAG"


@dataclass(frozen=True)
class Point:
    spec: str
    flow: bool
    name: str | None  # crash point name; None = random time
    hit: int = 1

    @property
    def migration(self) -> bool:
        return bool(self.name and self.name.startswith("migration."))

    @property
    def driver(self) -> str:
        return "flow" if self.flow else "cli"


def parse_point(spec: str) -> Point:
    """``[flow/]NAME[:N]`` or ``[flow/]random``."""
    flow = spec.startswith("flow/")
    body = spec.removeprefix("flow/")
    if body == "random":
        return Point(spec, flow, None)
    name, _, hit = body.partition(":")
    return Point(spec, flow, name, int(hit) if hit else 1)


# ---------------------------------------------------------------- input


def _generate(out: Path, n: int, seed: int) -> list[dict]:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from synthetic import generate, truth_path
    finally:
        sys.path.pop(0)
    generate(out, n, seed=seed)
    truth = truth_path(out)
    rows = [json.loads(line) for line in truth.read_text().splitlines() if line.strip()]
    truth.unlink()
    return rows


def _paragraphs(rng: random.Random, vocabulary: list[str], n: int, words: int = 40) -> list[str]:
    out = []
    for _ in range(n):
        ws = [rng.choice(vocabulary) for _ in range(words)]
        out.append(" ".join(ws).capitalize() + ".")
    return out


def build_input(out: Path, n: int, seed: int) -> Path:
    """Synthetic dumps plus the fixtures that reach every crash point (see the module docstring)."""
    truth = _generate(out, n, seed)
    rng = random.Random(seed)
    outlets = sorted(p.name for p in out.iterdir() if p.is_dir())
    vocabulary = sorted({w.lower().strip(".,“”’\"") for f in sorted(out.rglob("*.txt"))[:40] for w in f.read_text().split()} - {""})

    # sparse recurring lines: about 7 originals spread over each outlet carry one, so where a
    # batch boundary cuts the outlet the line is learned after its first carriers are stored
    # (and they are rewritten)
    originals: dict[str, list[str]] = {}
    for row in truth:
        if row["kind"] == "original":
            originals.setdefault(row["file"].split("/")[0], []).append(row["file"])
    for i, outlet in enumerate(outlets):
        files = sorted(originals.get(outlet, []))
        step = max(2, len(files) // 7)
        for j, start in enumerate((1, step // 2 + 2)):
            line = f"The {outlet} night desk{' weekend' if j else ''} can be reached on line {100 + 7 * i + j}."
            for f in files[start::step]:
                path = out / f
                path.write_text(path.read_text().rstrip("\n") + f"\n\n{line}\n")

    # bridge stories: S and V (J ~ 0.76, two clusters) early, then B (J ~ 0.88 with both)
    # in later outlets, so B merges two stored clusters
    for t in range(6):
        base = _paragraphs(rng, vocabulary, 30)
        fresh = _paragraphs(rng, vocabulary, 4)
        stories = {
            ("outlet-00", "s"): base,
            ("outlet-01", "v"): fresh + base[4:],
            (outlets[4 + 3 * (t % 3)] if len(outlets) > 10 else outlets[-1], "b"): fresh[:2] + base[2:],
        }
        for (outlet, kind), paragraphs in stories.items():
            path = out / outlet / "zz-extra" / f"bridge-{t}-{kind}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            title = f"Bridge story {t} {kind}: {' '.join(paragraphs[-1].split()[:6])}"
            path.write_text("\n\n".join([title, *paragraphs]) + "\n")

    # bad inputs, one of each kind per few outlets: rows in rejected_inputs
    for i, outlet in enumerate(outlets[::3]):
        extra = out / outlet / "zz-extra"
        extra.mkdir(parents=True, exist_ok=True)
        (extra / f"empty-{i}.txt").write_bytes(b"")
        (extra / f"photo-{i}.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
        (extra / f"wire-{i}.jsonl").write_text(
            json.dumps({"title": f"Wire brief {i}", "body": " ".join(_paragraphs(rng, vocabulary, 3))}) + "\n"
            + '{"title": "truncated line\n'
            + json.dumps({"title": "no body at all"}) + "\n"
        )
    return out


def _copy_store(src: Path, dst: Path) -> None:
    for suffix in ("", ".wal"):
        if Path(str(src) + suffix).exists():
            shutil.copyfile(str(src) + suffix, str(dst) + suffix)


def build_old_store(work: Path, n: int, seed: int, version: int, batch_size: int) -> Path:
    """A store at schema ``version`` holding real articles, as an older newsdedup left it.

    Another seeded input is ingested with today's code, then every table that exists at
    ``version`` is copied (its columns of that version) into a store migrated only that far.
    """
    drop = build_input(work / "old-input", n, seed)
    current = work / "old-current.duckdb"
    subprocess.run([NEWSDEDUP, "ingest", str(drop), "--db", str(current), "--batch-size", str(batch_size), "-q"],
                   env=_env(), check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    old = work / f"old-v{version}.duckdb"
    con = duckdb.connect(str(old))
    try:
        apply_migrations(con, target_version=version)
        con.execute(f"ATTACH '{current}' AS cur (READ_ONLY)").fetchall()
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND table_name <> 'schema_migrations'").fetchall()]
        for table in tables:
            cols = [r[0] for r in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
                "AND table_name = ? ORDER BY column_index", [table]).fetchall()]
            names = ", ".join(cols)
            con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM cur.{table}").fetchall()
        con.execute("DETACH cur").fetchall()
        con.execute("CHECKPOINT").fetchall()
    finally:
        con.close()
    return old


# ---------------------------------------------------------------- runs


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (CRASH_ENV, TRACE_ENV, "PREFECT_API_URL", "PREFECT_PROFILE")}
    env.update(extra)
    return env


@dataclass
class RunResult:
    rc: int
    seconds: float
    started: float = 0.0  # seconds until the run row was written (the store open and migrated)
    trace: list[str] = field(default_factory=list)
    stderr: str = ""


class Runner:
    """Starts `newsdedup ingest` (or `--prefect`) on the input with a tag in its environment."""

    def __init__(self, work: Path, dumps: Path, batch_size: int):
        self.work, self.dumps, self.batch_size = work, dumps, batch_size
        self.prefect_home = work / "prefect-home"
        self.prefect_home.mkdir(parents=True, exist_ok=True)

    def start(self, db: Path, flow: bool, tag: str, crash_at: str | None = None, trace: Path | None = None) -> subprocess.Popen:
        """Start a run; its stderr goes to ``<db>.<tag>.log`` (a file: a pipe would stay open
        in any process that outlives the run)."""
        cmd = [NEWSDEDUP, "ingest", str(self.dumps), "--db", str(db), "--batch-size", str(self.batch_size), "-q"]
        # a re-run that cannot get its writer turn (a slot or lock the killed run kept) fails
        # within a minute instead of waiting the default hour
        extra = {TAG_ENV: tag, "NEWSDEDUP_WRITER_TIMEOUT": os.environ.get("NEWSDEDUP_WRITER_TIMEOUT", "60")}
        if flow:
            cmd.append("--prefect")
            extra.update(PREFECT_HOME=str(self.prefect_home), PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1",
                         # a loaded machine starts the ephemeral server slowly (default: 20 s)
                         PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180")
        if crash_at:
            extra[CRASH_ENV] = crash_at
        if trace:
            extra[TRACE_ENV] = str(trace)
        with open(run_log(db, tag), "wb") as log:
            return subprocess.Popen(cmd, cwd=str(self.work), env=_env(**extra), stdout=subprocess.DEVNULL, stderr=log)

    def run(self, db: Path, flow: bool, trace: Path | None = None, timeout: float = 900) -> RunResult:
        tag = uuid.uuid4().hex
        started = time.monotonic()
        proc = self.start(db, flow, tag, trace=trace)
        run_started = wait_for_run_start(proc, trace) if trace else 0.0
        proc.wait(timeout=timeout)
        seconds = time.monotonic() - started
        survivors = _reap(tag)
        err = run_log(db, tag).read_text(errors="replace")[-3000:]
        if survivors:
            err += f"\n{len(survivors)} processes outlived the run: {survivors[:3]}"
        return RunResult(proc.returncode, seconds, run_started - started if run_started else 0.0, _read_trace(trace), err)


def run_log(db: Path, tag: str) -> Path:
    return db.with_name(f"{db.name}.{tag[:8]}.log")


def wait_for_run_start(proc: subprocess.Popen, trace: Path, timeout: float = 300) -> float:
    """Poll the trace until the run has started (`run.after_start`); return when (monotonic), 0 if it never did."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if "run.after_start" in _read_trace(trace):
            return time.monotonic()
        time.sleep(0.01)
    return 0.0


def _read_trace(trace: Path | None) -> list[str]:
    if trace is None or not trace.exists():
        return []
    return [line.split(" ", 1)[1] for line in trace.read_text().splitlines() if " " in line]


def tagged_processes(tag: str) -> list[tuple[int, str]]:
    """Live processes whose environment carries the tag (a run and everything it started)."""
    found = []
    for pid in process_guard.tagged_processes(tag, env=TAG_ENV):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # gone meanwhile
            continue
        found.append((pid, cmd[:120]))
    return found


def _reap(tag: str, wait: float = 10.0) -> list[tuple[int, str]]:
    """Wait for the tagged processes to be gone; SIGKILL and return those that outlived `wait`."""
    deadline = time.monotonic() + wait
    while (alive := tagged_processes(tag)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid, _ in alive:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return alive


# ---------------------------------------------------------------- comparison


def canonical_dump(db: Path) -> dict[str, list[tuple]]:
    """Every table but per-run ones, per-run columns left out, rows sorted."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() ORDER BY 1").fetchall()]
        dump = {}
        for table in tables:
            if table in PER_RUN_TABLES:
                continue
            cols = [r[0] for r in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
                "AND table_name = ? ORDER BY column_index", [table]).fetchall() if r[0] not in PER_RUN_COLUMNS]
            dump[table] = con.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY ALL").fetchall()
        return dump
    finally:
        con.close()


def differences(reference: dict[str, list[tuple]], got: dict[str, list[tuple]]) -> list[str]:
    """Human-readable differences, one entry per table that differs."""
    out = []
    for table in sorted(set(reference) | set(got)):
        a, b = Counter(reference.get(table, [])), Counter(got.get(table, []))
        if a == b:
            continue
        missing, extra = a - b, b - a
        example = next(iter(missing or extra))
        shown = tuple(str(v)[:40] for v in example)
        out.append(f"{table}: {sum(missing.values())} rows missing, {sum(extra.values())} extra (e.g. {shown})")
    return out


def recorded_rejections(db: Path) -> int:
    """Rows in ``rejected_inputs`` (0 when there is no store or no such table yet)."""
    if not db.exists():
        return 0
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error:
        return 0
    try:
        return con.execute("SELECT count(*) FROM rejected_inputs").fetchone()[0]
    except duckdb.Error:
        return 0
    finally:
        con.close()


def store_state(db: Path) -> str:
    """What a killed run left committed: schema version and articles (or that there is no store)."""
    if not db.exists():
        return "no store file"
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error as exc:
        return f"unopenable: {exc}"
    try:
        version = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]
        has_articles = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'articles' AND database_name = current_database()"
        ).fetchone()[0]
        n = con.execute("SELECT count(*) FROM articles").fetchone()[0] if has_articles else 0
        return f"v{version}, {n} articles"
    except duckdb.Error as exc:
        return f"no schema ({str(exc)[:60]})"
    finally:
        con.close()


# ---------------------------------------------------------------- harness


@dataclass
class Outcome:
    point: str
    killed_where: str
    identical: bool
    differed: str
    seconds: float


class Harness:
    def __init__(self, work: Path, n: int, seed: int, batch_size: int, old_version: int, log=print, flow_reference: bool = True):
        self.work, self.n, self.seed, self.batch_size, self.old_version = work, n, seed, batch_size, old_version
        self.flow_reference = flow_reference
        self.log = log
        self.rng = random.Random(seed)
        self.references: dict[tuple[str, bool], tuple[RunResult, dict]] = {}
        self.old_store: Path | None = None

    def prepare(self, points: list[Point]) -> None:
        if self.work.exists():
            shutil.rmtree(self.work)
        self.work.mkdir(parents=True)
        t = time.monotonic()
        self.dumps = build_input(self.work / "drop", self.n, self.seed)
        self.runner = Runner(self.work, self.dumps, self.batch_size)
        self.log(f"input: {sum(1 for p in self.dumps.rglob('*') if p.is_file())} files ({self.n} synthetic dumps + fixtures) in {time.monotonic() - t:.1f} s")
        if any(p.migration for p in points):
            self.old_store = build_old_store(self.work, max(200, self.n // 10), self.seed + 1, self.old_version, self.batch_size)
            self.log(f"older store: {store_state(self.old_store)} at schema v{self.old_version}")
        wanted = {(p.migration, False) for p in points} | {(False, False)}
        if self.flow_reference:
            wanted |= {(p.migration, p.flow) for p in points}
        for migration, flow in sorted(wanted):
            self._reference(migration, flow)

    def _start_store(self, db: Path, migration: bool) -> None:
        for suffix in ("", ".wal", ".lock"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        if migration:
            _copy_store(self.old_store, db)

    def _reference(self, migration: bool, flow: bool) -> None:
        label = f"{'older store' if migration else 'fresh store'}, {'flow' if flow else 'cli'}"
        db = self.work / f"reference-{'old' if migration else 'fresh'}-{'flow' if flow else 'cli'}.duckdb"
        self._start_store(db, migration)
        trace = db.with_suffix(".trace")
        result = self.runner.run(db, flow, trace=trace)
        if result.rc not in (0, 3):
            raise SystemExit(f"reference run ({label}) failed with exit {result.rc}:\n{result.stderr}")
        dump = canonical_dump(db)
        hits = Counter(result.trace)
        self.log(f"reference ({label}): exit {result.rc} in {result.seconds:.1f} s, {len(dump['articles'])} articles, "
                 f"{len(dump['cluster_merges'])} merges, {len(dump['rejected_inputs'])} rejected; points reached: {dict(hits)}")
        if flow and (migration, False) in self.references:
            diff = differences(self.references[(migration, False)][1], dump)
            if diff:
                self.log(f"  the flow's clean run differs from the CLI's: {'; '.join(diff)}")
        self.references[(migration, flow)] = (result, dump)

    def run_point(self, index: int, point: Point) -> Outcome:
        started = time.monotonic()
        # without a clean flow run, the CLI's stands in (hit counts, duration of a random kill)
        reference, _ = self.references.get((point.migration, point.flow), self.references[(point.migration, False)])
        # the CLI reference is the one truth: a flow run must write the same store
        truth = self.references[(point.migration, False)][1]
        db = self.work / f"point-{index:02d}.duckdb"
        trace = self.work / f"point-{index:02d}.trace"
        killed_where, proc = None, None
        if point.name is not None:
            reached = Counter(reference.trace)[point.name]
            if reached < point.hit:
                return Outcome(point.spec, f"not reached (the reference run reaches it {reached}x)", False, "point never reached", 0.0)
        for attempt in range(4):
            self._start_store(db, point.migration)
            trace.unlink(missing_ok=True)
            tag = uuid.uuid4().hex
            proc = self.runner.start(db, point.flow, tag, crash_at=point.name and f"{point.name}:{point.hit}", trace=trace)
            t0, killed_at = time.monotonic(), 0.0
            if point.name is None:
                # a random time while the run ingests: after its row is written, within the
                # time the reference run took from there to its end (shorter on a retry)
                run_started = wait_for_run_start(proc, trace)
                delay = self.rng.uniform(0.0, 1.0) * (reference.seconds - reference.started) / (1 + attempt)
                try:
                    proc.wait(timeout=max(0.0, run_started + delay - time.monotonic()))
                except subprocess.TimeoutExpired:
                    os.kill(proc.pid, signal.SIGKILL)
                    killed_at = time.monotonic() - t0
            proc.wait(timeout=900)
            err = run_log(db, tag).read_text(errors="replace")
            survivors = _reap(tag)
            if survivors:
                return Outcome(point.spec, f"exit {proc.returncode}", False,
                               f"{len(survivors)} processes outlived the killed run: {survivors[:3]}", time.monotonic() - started)
            if proc.returncode == -signal.SIGKILL:
                passed = _read_trace(trace)
                last = f"after {passed[-1]} #{Counter(passed)[passed[-1]]}" if passed else "before any crash point"
                how = f"{point.name} #{point.hit}" if point.name else f"t={killed_at:.2f}s, {last}"
                killed_where = f"{how} [{store_state(db)}]"
                break
            if point.name is not None:
                return Outcome(point.spec, f"not killed (exit {proc.returncode})", False,
                               f"run ended without reaching the point: {err[-300:]}", time.monotonic() - started)
        if killed_where is None:
            return Outcome(point.spec, "finished before every kill", False, "never killed", time.monotonic() - started)
        expected_rc = reference.rc
        if reference.rc == 3 and recorded_rejections(db) >= len(truth.get("rejected_inputs", [])):
            expected_rc = 0  # the killed run recorded every rejection: the re-run has none new to report
        rerun = self.runner.run(db, point.flow)
        if rerun.rc != expected_rc:
            return Outcome(point.spec, killed_where, False, f"re-run exit {rerun.rc}, expected {expected_rc}: {rerun.stderr[-300:]}",
                           time.monotonic() - started)
        diff = differences(truth, canonical_dump(db))
        return Outcome(point.spec, killed_where, not diff, "; ".join(diff) or "-", time.monotonic() - started)

    def run(self, points: list[Point]) -> list[Outcome]:
        self.prepare(points)
        outcomes = []
        for i, point in enumerate(points):
            outcome = self.run_point(i, point)
            self.log(f"{i + 1:2d}. {outcome.point:34s} {'identical' if outcome.identical else 'DIFFERENT'}  "
                     f"({outcome.seconds:.1f} s) {outcome.killed_where}; {outcome.differed}")
            outcomes.append(outcome)
        return outcomes


def table(outcomes: list[Outcome]) -> str:
    rows = [("#", "point", "killed where [left committed]", "identical", "what differed")]
    rows += [(str(i + 1), o.point, o.killed_where, "yes" if o.identical else "NO", o.differed) for i, o in enumerate(outcomes)]
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    lines = []
    for j, r in enumerate(rows):
        lines.append("| " + " | ".join(r[c].ljust(widths[c]) for c in range(4)) + f" | {r[4]} |")
        if j == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|---|")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=3000, help="synthetic dumps to generate (default 3000)")
    ap.add_argument("--points", default=",".join(DEFAULT_POINTS),
                    help="comma-separated points, [flow/]NAME[:N] or [flow/]random (default: the 20 listed in DEFAULT_POINTS)")
    ap.add_argument("--seed", type=int, default=7, help="seed of the input and of the random kill times")
    ap.add_argument("--flow", action="store_true", help="drive every point through the Prefect flow (newsdedup ingest --prefect)")
    ap.add_argument("--batch-size", type=int, default=300, help="articles per batch (default 300: about n/300 batches)")
    ap.add_argument("--old-version", type=int, default=3, help="schema version of the older store for migration.* points")
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "crash", help="scratch directory (wiped)")
    ap.add_argument("--json", type=Path, help="also write the outcomes as JSON here")
    ap.add_argument("--no-flow-reference", action="store_true",
                    help="skip the clean flow run (flow points are compared with the clean CLI run either way)")
    args = ap.parse_args(argv)

    specs = [s.strip() for s in args.points.split(",") if s.strip()]
    points = [parse_point(("flow/" + s.removeprefix("flow/")) if args.flow else s) for s in specs]
    started = time.monotonic()
    harness = Harness(args.work, args.n, args.seed, args.batch_size, args.old_version, log=lambda m: print(m, flush=True),
                      flow_reference=not args.no_flow_reference)
    outcomes = harness.run(points)
    print()
    print(table(outcomes))
    same = sum(o.identical for o in outcomes)
    print(f"\n{same} of {len(outcomes)} identical; {time.monotonic() - started:.0f} s wall")
    if args.json:
        args.json.write_text(json.dumps([o.__dict__ for o in outcomes], indent=1))
    return 0 if same == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
