"""The Prefect `ingest` flow on a real temporary Prefect backend (``prefect_backend``, tests/prefect_server.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import dump, prose, query, synthetic_dumps

pytestmark = pytest.mark.slow

def test_flow_writes_the_same_database_as_the_cli(prefect_backend, dump_dir: Path, tmp_path: Path):
    from prefect.client.orchestration import get_client

    from flows.cli import app
    from flows.ingest import ingest
    from typer.testing import CliRunner

    flow_db, cli_db = tmp_path / "flow.duckdb", tmp_path / "cli.duckdb"
    summary = ingest([str(dump_dir)], db_path=str(flow_db), batch_size=2)
    assert summary["new articles"] == 4 and summary["rejected"] == 2
    CliRunner().invoke(app, ["ingest", str(dump_dir), "--db", str(cli_db), "--batch-size", "2", "-q"])

    def snapshot(db: Path):
        return [query(db, sql) for sql in (
            "SELECT article_id, cluster_id, is_canonical, text_hash FROM articles ORDER BY article_id",
            "SELECT article_id, duplicate_of, kind, round(similarity, 6) FROM duplicate_links ORDER BY 1",
            "SELECT article_id, line, rule FROM removed_lines ORDER BY 1, 2",
            "SELECT source_uri, reason FROM rejected_inputs ORDER BY 1",
        )]

    assert snapshot(flow_db) == snapshot(cli_db)

    # the first run recorded 2 rejections: a completed run named Partial (exit code 3 in the
    # CLI); the same inputs again record none, and the run is plainly Completed
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs()
    first = next(r for r in runs if r.parameters.get("db_path") == str(flow_db))
    assert first.state.is_completed() and first.state.name == "Partial"
    assert "2 input(s) rejected for the first time" in first.state.message
    client_state = ingest([str(dump_dir)], db_path=str(flow_db), batch_size=2, return_state=True)
    assert client_state.is_completed() and client_state.name == "Completed"
    assert client_state.result()["already stored"] == 4

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts()
    table = next(a for a in artifacts if a.key == "ingest-summary")
    assert "near duplicates" in str(table.data)


def test_dask_task_runner_on_two_workers_writes_the_same_database(prefect_backend, tmp_path: Path):
    """Parsing and signing on a local Dask cluster (2 worker processes); storing stays in the flow."""
    from distributed import LocalCluster
    from prefect_dask import DaskTaskRunner

    from flows.ingest import ingest

    dumps = synthetic_dumps(tmp_path / "dumps", 400, seed=5)

    default_db, dask_db = tmp_path / "default.duckdb", tmp_path / "dask.duckdb"
    expected = ingest([str(dumps)], db_path=str(default_db), batch_size=100)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        on_dask = ingest.with_options(task_runner=DaskTaskRunner(address=cluster.scheduler_address))
        got = on_dask([str(dumps)], db_path=str(dask_db), batch_size=100)
    assert got["new articles"] == expected["new articles"] == 400
    assert got["near duplicates"] == expected["near duplicates"] > 0

    def contents(db: Path):
        return [query(db, sql) for sql in (
            "SELECT article_id, seq, cluster_id, is_canonical, text_hash, body FROM articles ORDER BY seq",
            "SELECT article_id, duplicate_of, kind, similarity FROM duplicate_links ORDER BY 1",
            "SELECT article_id, position, line, rule FROM removed_lines ORDER BY 1, 2",
            "SELECT count(*), sum(hash(band_key, article_id)) FROM lsh_bands",
        )]

    assert contents(dask_db) == contents(default_db)


def test_cli_prefect_passes_the_runs_options_to_the_flow_and_reports_like_a_local_run(prefect_backend, dump_dir: Path, tmp_path: Path):
    """`newsdedup ingest --prefect` honours --rules, --max-bytes and --learn-min-stories (they are
    flow parameters), prints the same summary as a run in the CLI's process, with the hint to see
    the rejections, and exits 3 for first-time rejections."""
    from typer.testing import CliRunner

    from flows.cli import app

    paragraphs = prose(1)
    puzzle = "Puzzle corner: the answer to yesterday's crossword is printed on the back page of this section."
    paragraphs.insert(5, puzzle)
    (dump_dir / "mirror" / "council.txt").write_bytes(dump("Council approves harbour budget", paragraphs))
    (dump_dir / "archive").mkdir()
    (dump_dir / "archive" / "long.txt").write_bytes(dump("A very long read", prose(2, paragraphs=200)))
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nname = "puzzle_corner"\nkind = "promo"\npattern = "^Puzzle corner:.*"\n')
    db = tmp_path / "news.duckdb"

    result = CliRunner().invoke(app, [
        "ingest", str(dump_dir), "--db", str(db), "--prefect", "-q",
        "--rules", str(rules), "--max-bytes", "40000", "--learn-min-stories", "2",
    ])
    assert result.exit_code == 3, result.output
    assert "Prefect flow ingest" in result.output
    assert "too_large" in result.output and "rejected for the first time" in result.output
    assert 'newsdedup sql "SELECT source, source_uri, reason' in result.output
    assert query(db, "SELECT line, rule FROM removed_lines WHERE rule = 'puzzle_corner'") == [(puzzle, "puzzle_corner")]
    assert query(db, "SELECT reason FROM rejected_inputs WHERE source_uri LIKE '%long.txt'") == [("too_large",)]



def test_cli_prefect_on_a_temporary_server_logs_in_one_format_without_dead_links(tmp_path: Path):
    """With no Prefect server set up, `ingest --prefect` starts a temporary one: its "View at"
    link would be dead once the command ends, so it is not printed, and the task runner's
    worker processes log in the CLI's format, not in Prefect's own."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    samples = root / "samples"
    run = subprocess.run(
        [sys.executable, "-m", "flows.cli", "ingest", str(samples), "--db", str(tmp_path / "news.duckdb"), "--prefect"],
        cwd=root, env=env, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 3, run.stderr  # the samples carry first-time rejections
    assert "Starting temporary server on http://127.0.0.1" in run.stderr
    assert "Beginning flow run" in run.stderr and "identify-inputs" in run.stderr  # workers' task runs are logged
    assert "View at" not in run.stderr
    assert not [line for line in run.stderr.splitlines() if " | INFO " in line], run.stderr
    assert "Prefect flow ingest" in run.stdout
