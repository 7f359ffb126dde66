"""Writer recycling (flows/segments.py): a run over more than --files-per-process files is
written by a fresh process per segment, and is still one run with the same database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.pipeline import IngestSettings, ingest
from flows.segments import segments
from flows.sources import input_files

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"


def contents(db: Path) -> dict[str, list]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        q = lambda sql: sorted(con.execute(sql).fetchall())  # noqa: E731
        return {
            "articles": q("SELECT article_id, seq, source_uri, body, text_hash, cluster_id, is_canonical, run_id FROM articles"),
            "removed": q("SELECT article_id, line, rule FROM removed_lines"),
            "signatures": q("SELECT article_id, signature FROM minhash_signatures"),
            "bands": q("SELECT band_key, article_id FROM lsh_bands"),
            "rejected": q("SELECT source_uri, reason, run_id FROM rejected_inputs"),
            "learned": q("SELECT source, line, n_stories FROM source_boilerplate WHERE n_stories >= 4"),
        }
    finally:
        con.close()


def runs(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "SELECT run_id, status, n_read, n_new, n_rejected, n_rejected_new, error FROM ingest_runs ORDER BY run_id"
        ).fetchall()
    finally:
        con.close()


def test_segments_cut_by_file_count_and_by_bytes(tmp_path: Path):
    for i in range(7):
        (tmp_path / f"{i}.txt").write_bytes(b"x" * 10)
    (tmp_path / "big.txt").write_bytes(b"x" * (3 * 8192))  # three files' worth of bytes
    files = list(input_files([str(tmp_path)]))
    cut = list(segments(files, 3))
    assert [f for part in cut for f in part] == files  # every file once, in order
    assert all(1 <= len(part) <= 3 for part in cut)
    by_bytes = [part for part in cut if any(f.path.endswith("big.txt") for f in part)][0]
    assert by_bytes[-1].path.endswith("big.txt")  # the big file ends its segment
    assert list(segments(files, 0)) == [files]  # 0: one segment


def test_a_segmented_run_writes_the_database_of_one_process_as_one_run(tmp_path: Path):
    one, seg = tmp_path / "one.duckdb", tmp_path / "seg.duckdb"
    ingest([str(SAMPLES)], IngestSettings(db_path=one, files_per_process=0, batch_size=5))
    progress: list[int] = []
    summary = ingest([str(SAMPLES)], IngestSettings(db_path=seg, files_per_process=5, batch_size=5), on_progress=progress.append)
    a, b = contents(one), contents(seg)
    for table in a:
        if table not in ("articles", "rejected"):
            assert a[table] == b[table], table
    # same articles, clusters and canonicals; only the run id differs
    strip = lambda rows: [r[:-1] for r in rows]  # noqa: E731
    assert strip(a["articles"]) == strip(b["articles"]) and strip(a["rejected"]) == strip(b["rejected"])
    assert {r[-1] for r in b["articles"]} == {summary.run_id}
    (run,) = runs(seg)
    assert run[:6] == (summary.run_id, "partial", 29, 25, 4, 4) and run[6] is None
    assert sum(progress) == summary.read == 29
    assert summary.exact_dups + summary.near_dups == 12 and summary.learned_lines_removed > 0
    # the snapshot for readers is published at the end, as by one process
    assert (tmp_path / "seg.snapshot.duckdb").exists()


def test_a_segmented_rerun_adds_nothing_and_exits_0(tmp_path: Path):
    db = tmp_path / "news.duckdb"
    args = ["ingest", str(SAMPLES), "--db", str(db), "-q", "--files-per-process", "12"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 3, first.output
    before = contents(db)
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "already stored" in again.output
    after = contents(db)
    assert after == before
    assert [r[1:4] for r in runs(db)] == [("partial", 29, 25), ("ok", 29, 0)]


@pytest.mark.slow
def test_a_killed_segment_fails_the_run_and_a_rerun_completes_it(tmp_path: Path):
    """A segment process that dies (here SIGKILLed at its first commit, as by the OOM killer)
    stops the run with exit 1 and a message naming the signal; its committed batches are kept
    and the run is recorded as failed; the same command again ends with the database of an
    uninterrupted run."""
    clean = tmp_path / "clean.duckdb"
    ingest([str(SAMPLES)], IngestSettings(db_path=clean, files_per_process=10, batch_size=5))
    db = tmp_path / "news.duckdb"
    cmd = [sys.executable, "-m", "flows.cli", "ingest", str(SAMPLES), "--db", str(db), "-q",
           "--files-per-process", "10", "--batch-size", "5"]
    env = {**os.environ, "NEWSDEDUP_CRASH_AT": "batch_write.after_commit:2"}
    killed = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert killed.returncode == 1, killed.stderr
    assert "segment 1" in killed.stderr and "killed by SIGKILL" in killed.stderr
    (run,) = runs(db)
    assert run[1] == "failed" and "killed by SIGKILL" in run[6]
    assert 0 < run[3] < 25  # the batches committed before the kill are kept and counted
    recorded = len(contents(db)["rejected"])
    rerun = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    # partial (3) only if the rerun records a rejection the killed run had not recorded
    assert rerun.returncode == (3 if recorded < 4 else 0), rerun.stderr
    strip = lambda rows: [r[:-1] for r in rows]  # noqa: E731
    a, b = contents(clean), contents(db)
    assert strip(a["articles"]) == strip(b["articles"])
    assert a["removed"] == b["removed"] and a["bands"] == b["bands"]


@pytest.mark.slow
def test_ctrl_c_stops_a_segmented_run_as_interrupted_and_leaves_no_process(tmp_path: Path):
    db = tmp_path / "news.duckdb"
    cmd = [sys.executable, "-m", "flows.cli", "ingest", str(SAMPLES), "--db", str(db), "-q",
           "--files-per-process", "3", "--batch-size", "2"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=_sigint_as_in_a_terminal)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not _segment_children(proc.pid):
        time.sleep(0.05)
    assert _segment_children(proc.pid), "no segment process started"
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err, err
    (run,) = runs(db)
    assert run[1] == "failed" and run[6].startswith("interrupted")
    time.sleep(0.5)
    assert not _group_members(proc.pid)  # no segment or parse worker left behind


@pytest.mark.slow
def test_ctrl_c_while_workers_parse_prints_one_line_not_their_tracebacks(tmp_path: Path):
    """The parse workers share the terminal's process group: Ctrl-C reaches them too, and
    before they ignored it each printed a KeyboardInterrupt traceback above the error line."""
    from tests.conftest import synthetic_dumps

    dumps = synthetic_dumps(tmp_path / "dumps", 4000, seed=11)  # ~4 s of run; the signal comes at ~1.6 s
    db = tmp_path / "news.duckdb"
    cmd = [sys.executable, "-m", "flows.cli", "ingest", str(dumps), "--db", str(db), "-q", "--files-per-process", "0"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=_sigint_as_in_a_terminal)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(_group_members(proc.pid)) < 3:  # the CLI and its two workers
        time.sleep(0.05)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 130, err
    assert err.startswith("error: interrupted") and "Traceback" not in err, err
    time.sleep(0.5)
    assert not _group_members(proc.pid)


def _sigint_as_in_a_terminal() -> None:
    """The CLI under test gets Ctrl-C's default disposition, as in a terminal, whatever this
    process inherited: a test run started in the background of a non-interactive shell
    (`cmd &`) ignores SIGINT, and so did every process it started (the run finished, exit 0)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _segment_children(pid: int) -> list[int]:
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(k) for k in kids if "multiprocessing.spawn" in _cmdline(int(k))]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _group_members(pgid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pgid and "Z" != (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]:
                    found.append(int(entry.name))
            except (OSError, ProcessLookupError, IndexError):
                continue
    return found
