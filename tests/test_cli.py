"""The `newsdedup` CLI end to end on a temporary DuckDB file, checked by querying the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from tests.conftest import dump, prose, query

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)



def test_ingest_links_copies_and_records_rejections(dump_dir: Path, tmp_path: Path):
    db = tmp_path / "news.duckdb"
    result = run("ingest", str(dump_dir), "--db", str(db), "--workers", "0", "-q")
    assert result.exit_code == 3, result.output  # partial: two bad files
    assert "rejected" in result.output

    assert query(db, "SELECT count(*) FROM articles") == [(4,)]
    links = dict(query(db, "SELECT a.source_uri, l.kind FROM duplicate_links l JOIN articles a USING (article_id)"))
    assert links == {"mirror/hamas-copy.txt": "exact", "mirror/hamas-edit.txt": "near"} or set(links.values()) == {"exact", "near"}
    # the three Hamas copies are one story; the council story is alone
    sizes = sorted(r[0] for r in query(db, "SELECT size FROM stories"))
    assert sizes == [1, 3]
    reasons = sorted(r[0] for r in query(db, "SELECT reason FROM rejected_inputs"))
    assert reasons == ["binary", "empty"]
    rules = dict(query(db, "SELECT line, kind FROM removed_lines WHERE line LIKE '%Getty%' OR line LIKE 'Please let us know%' LIMIT 2"))
    assert rules["Abid Katib/Getty Images"] == "photo_credit"
    assert rules["Please let us know if you're having issues with commenting."] == "comment_footer"
    sim = query(db, "SELECT similarity FROM duplicate_links WHERE kind = 'near'")[0][0]
    assert 0.8 <= sim < 1.0


def test_reingest_adds_nothing(dump_dir: Path, tmp_path: Path):
    db = tmp_path / "news.duckdb"
    run("ingest", str(dump_dir), "--db", str(db), "--workers", "0", "-q")
    tables = ["articles", "removed_lines", "duplicate_links", "rejected_inputs", "minhash_signatures", "lsh_bands"]
    before = {t: query(db, f"SELECT count(*) FROM {t}") for t in tables}
    result = run("ingest", str(dump_dir), "--db", str(db), "--workers", "2", "-q")
    assert {t: query(db, f"SELECT count(*) FROM {t}") for t in tables} == before
    assert query(db, "SELECT n_new, n_already_stored FROM ingest_runs ORDER BY started_at DESC LIMIT 1") == [(0, 4)]
    # the bad input is still there and still counted, but it was reported by the first run:
    # an hourly job over a drop folder is not "partial" forever because of one old file
    assert result.exit_code == 0, result.output
    assert "all recorded by an earlier run: no new rejection" in result.output
    assert query(db, "SELECT status, n_rejected FROM ingest_runs ORDER BY started_at DESC LIMIT 1") == [("ok", before["rejected_inputs"][0][0])]
    (dump_dir / "later.bin").write_bytes(b"\x00\x01\x02" * 100)
    result = run("ingest", str(dump_dir), "--db", str(db), "--workers", "0", "-q")
    assert result.exit_code == 3, result.output
    assert "1 input(s) rejected for the first time" in result.output
    assert query(db, "SELECT status FROM ingest_runs ORDER BY started_at DESC LIMIT 1") == [("partial",)]


def test_bridge_article_merges_two_stories(tmp_path: Path):
    paras = prose(7, paragraphs=12)
    drop1, drop2 = tmp_path / "d1", tmp_path / "d2"
    drop1.mkdir()
    drop2.mkdir()
    (drop1 / "a.txt").write_bytes(dump("Story A", paras[0:10]))
    (drop1 / "c.txt").write_bytes(dump("Story C", paras[2:12]))
    (drop2 / "b.txt").write_bytes(dump("Story B", paras[1:11]))
    db = tmp_path / "news.duckdb"
    run("ingest", str(drop1), "--db", str(db), "--workers", "0", "-q")
    assert query(db, "SELECT count(*) FROM stories") == [(2,)]
    run("ingest", str(drop2), "--db", str(db), "--workers", "0", "-q")
    assert query(db, "SELECT count(*), max(size) FROM stories") == [(1, 3)]
    assert query(db, "SELECT count(*) FROM articles WHERE is_canonical") == [(1,)]
    assert query(db, "SELECT count(*) FROM cluster_merges") == [(1,)]
    # the absorbed story's founder has no link of its own: `story` says it came in by the merge
    absorbed = query(db, "SELECT absorbed_cluster_id FROM cluster_merges")[0][0]
    shown = run("story", absorbed, "--db", str(db)).output
    assert f"{absorbed}" in shown and "merged into this story" in shown and "3 articles from 2 sources" in shown


def test_story_shows_the_link_of_a_canonical_article_that_was_not_first_seen(tmp_path: Path):
    """The canonical article is the earliest *published*; when it arrived second it is a linked
    duplicate of the first-seen one, and `story` shows that link (it showed only "canonical",
    and called the first-seen article "merged")."""
    paras = prose(11, paragraphs=10)
    rows = [
        {"title": "Harbour reopens after storm", "body": "\n\n".join(paras), "url": "https://a.example/1", "published": "2024-08-02T10:00:00Z", "source": "a"},
        {"title": "Storm-hit harbour reopens", "body": "\n\n".join(paras[:-1]), "url": "https://b.example/1", "published": "2024-08-01T10:00:00Z", "source": "b"},
    ]
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    db = tmp_path / "news.duckdb"
    run("ingest", str(feed), "--db", str(db), "--workers", "0", "-q")
    (founder, second), = query(db, "SELECT min_by(article_id, seq), max_by(article_id, seq) FROM articles")
    assert query(db, f"SELECT is_canonical FROM articles WHERE article_id = '{second}'") == [(True,)]
    shown = run("story", founder, "--db", str(db)).output
    assert "first seen (founded the story); against the canonical:" in shown
    assert f"canonical; near duplicate of {founder}, similarity " in shown
    assert "merged into this story" not in shown and "2 articles from 2 sources" in shown


def test_clean_prints_the_parsed_seed(seed_bytes: bytes, tmp_path: Path):
    f = tmp_path / "seed.txt"
    f.write_bytes(seed_bytes)
    result = run("clean", str(f))
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["title"] == "EXCLUSIVE – Hamas Paying Off Islamic State to Smuggle Weapons into Gaza"
    assert doc["dateline"] == "TEL AVIV"
    assert {(r["line"], r["kind"]) for r in doc["removed"]} >= {
        ("Abid Katib/Getty Images", "photo_credit"),
        ("Please let us know if you're having issues with commenting.", "comment_footer"),
    }
    assert all("Getty" not in p for p in doc["paragraphs"])
    assert any("“stun the whole world" in p for p in doc["paragraphs"])


def test_clean_refuses_a_file_of_many_articles_and_says_to_ingest_it(tmp_path: Path):
    # before, a JSONL export came out as one article titled with its first JSON line, and an
    # archive was "rejected: binary"
    export = tmp_path / "export.jsonl"
    export.write_text('{"title": "Council vote", "body": "The council voted."}\n')
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    for path, what in [(export, "a JSONL export"), (bundle, "a zip archive")]:
        result = run("clean", str(path))
        assert result.exit_code == 2
        assert f"is {what}, which holds many articles" in result.output and f"newsdedup ingest {path}" in result.output


def test_sql_is_read_only_and_formats(dump_dir: Path, tmp_path: Path):
    db = tmp_path / "news.duckdb"
    run("ingest", str(dump_dir), "--db", str(db), "--workers", "0", "-q")
    result = runner.invoke(app, ["sql", "DELETE FROM articles", "--db", str(db)])
    assert result.exit_code == 2
    assert "read-only" in result.output.lower() or "read only" in result.output.lower()
    assert query(db, "SELECT count(*) FROM articles") == [(4,)]
    failed = runner.invoke(app, ["sql", "SELECT nocolumn FROM articles", "--db", str(db)])
    assert failed.exit_code == 2 and "nocolumn" in failed.output and "Traceback" not in failed.output
    csv_out = run("sql", "SELECT count(*) AS n FROM articles", "--db", str(db), "--format", "csv")
    assert csv_out.stdout.splitlines() == ["n", "4"]
    json_out = run("sql", "SELECT reason FROM rejected_inputs ORDER BY reason", "--db", str(db), "-f", "json")
    assert [json.loads(l)["reason"] for l in json_out.stdout.splitlines()] == ["binary", "empty"]
    # a JSON column nests as JSON (not a string holding JSON); CSV keeps its text
    settings = json.loads(run("sql", "SELECT settings FROM dedup_config", "--db", str(db), "-f", "json").stdout)["settings"]
    assert settings["num_perm"] == 128 and settings["threshold"] == 0.8
    assert '""num_perm"": 128' in run("sql", "SELECT settings FROM dedup_config", "--db", str(db), "-f", "csv").stdout


@pytest.mark.parametrize("args", [["sql", "SELECT * FROM range(50000)", "-f", "csv"], ["stories"], ["sql", "SELECT 42"]])
def test_output_into_a_pipe_closed_early_exits_141_quietly(dump_dir: Path, tmp_path: Path, args: list[str]):
    """`newsdedup sql ... | head -1`: once the reader is gone the command stops quietly with 141
    (128 + SIGPIPE, as shells report such a writer), not with 1, which means failure. Both
    output paths: plain writes (CSV, JSON) and rich's console (tables, story)."""
    import subprocess
    import sys

    db = tmp_path / "news.duckdb"
    run("ingest", str(dump_dir), "--db", str(db), "--workers", "0", "-q")
    cmd = [sys.executable, "-m", "flows.cli", *args, "--db", str(db)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=Path(__file__).parents[1])
    proc.stdout.close()  # the reader is gone before the first line is written
    assert proc.wait(timeout=120) == 141
    assert proc.stderr.read() == b""


def test_stories_and_story(dump_dir: Path, tmp_path: Path):
    db = tmp_path / "news.duckdb"
    run("ingest", str(dump_dir), "--db", str(db), "--workers", "0", "-q")
    cluster = query(db, "SELECT cluster_id FROM stories ORDER BY size DESC LIMIT 1")[0][0]
    listing = run("stories", "--db", str(db), "--format", "csv")
    assert cluster in listing.stdout
    # JSON keeps lists as lists (as `sql -f json` does), BLOBs as hex; the format's case is free
    top = json.loads(run("stories", "--db", str(db), "-f", "JSON").stdout.splitlines()[0])
    assert top["cluster_id"] == cluster and isinstance(top["sources"], list) and len(top["sources"]) == top["n_sources"]
    sig = json.loads(run("sql", "SELECT signature FROM minhash_signatures LIMIT 1", "--db", str(db), "-f", "json").stdout)
    assert len(bytes.fromhex(sig["signature"])) == 128 * 4
    shown = run("story", cluster, "--db", str(db))
    assert shown.exit_code == 0, shown.output
    assert run("story", cluster[:8], "--db", str(db)).output == shown.output  # a unique prefix is enough
    assert run("story", cluster.upper(), "--db", str(db)).output == shown.output  # a copied id in capitals too
    member = query(db, f"SELECT article_id FROM articles WHERE cluster_id = '{cluster}' AND article_id <> cluster_id LIMIT 1")[0][0]
    assert run("story", member[:8], "--db", str(db)).output == shown.output  # a prefix of one of its article ids
    short = run("story", cluster[:5], "--db", str(db))
    assert short.exit_code == 2 and "at least 6" in short.output  # says why a short prefix is not tried
    assert "canonical" in shown.output and "near" in shown.output and "new headline" in shown.output


def test_rejected_inputs_hint_queries_the_store_just_written(dump_dir: Path, tmp_path: Path):
    db = tmp_path / "my store.duckdb"
    result = run("ingest", str(dump_dir), "--db", str(db), "--workers", "0", "-q")
    assert result.exit_code == 3
    hint = next(line for line in result.output.splitlines() if "newsdedup sql" in line)
    # the whole command on one line, naming this store (quoted: its path has a space)
    assert hint.strip().endswith(f"--db '{db}'"), hint
    assert hint.count('"') == 2 and "rejected_inputs" in hint


def test_interrupted_run_is_recorded_with_its_reason(dump_dir: Path, tmp_path: Path):
    from flows.pipeline import IngestSettings, ingest

    db = tmp_path / "news.duckdb"

    def interrupt(_n):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest([str(dump_dir)], IngestSettings(db_path=db, workers=0, batch_size=1), on_progress=interrupt)
    status, error = query(db, "SELECT status, error FROM ingest_runs")[0]
    assert status == "failed" and error.startswith("interrupted")
    # and the next run goes on from what was committed
    assert run("ingest", str(dump_dir), "--db", str(db), "--workers", "0", "-q").exit_code == 3
    assert query(db, "SELECT count(*) FROM articles") == [(4,)]


def test_duckdb_reports_ctrl_c_as_an_interrupt():
    """SIGINT during a query reaches us as DuckDB's exception, not KeyboardInterrupt."""
    import threading

    import duckdb

    from storage.store import is_interrupt

    con = duckdb.connect()
    done = threading.Event()

    def interrupt_until_done():  # an interrupt that lands before the query starts is lost: repeat it
        while not done.wait(0.2):
            con.interrupt()

    interrupter = threading.Thread(target=interrupt_until_done)
    interrupter.start()
    try:
        with pytest.raises(Exception) as caught:
            con.execute("SELECT count(*) FROM range(10000000000) a, range(10) b WHERE a.range % 7 = b.range").fetchall()
    finally:
        done.set()
        interrupter.join()
    assert is_interrupt(caught.value)
    assert not is_interrupt(RuntimeError("disk full")) and not is_interrupt(ValueError("Query interrupted"))


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and result.output.startswith("newsdedup ")


def test_missing_path_is_a_usage_error(tmp_path: Path):
    result = runner.invoke(app, ["ingest", str(tmp_path / "nope"), "--db", str(tmp_path / "x.duckdb")])
    assert result.exit_code == 2
    assert "nope" in result.output
    assert not (tmp_path / "x.duckdb").exists()


def test_every_command_has_help():
    for cmd in ["ingest", "clean", "sql", "stories", "story", "fetch", "reprocess", "export", "import"]:
        result = run(cmd, "--help")
        assert result.exit_code == 0
        assert "Example" in result.output, cmd


def test_exit_codes_of_every_command(dump_dir: Path, tmp_path: Path):
    """0 success, 3 partial (some inputs rejected), 2 usage error, 1 failure: as the README's table says."""
    from datetime import datetime, timezone

    from storage.raw_archive import ArchivedBody, store_bodies
    from storage.store import open_store

    db = tmp_path / "news.duckdb"
    good = tmp_path / "good" / "wire"
    good.mkdir(parents=True)
    (good / "council.txt").write_bytes(dump("Council approves harbour budget", prose(1)))
    rules = tmp_path / "bad-rules.toml"
    rules.write_text('[[rule]]\nname = "no_pattern"\n')
    codes = {
        ("ingest", "clean inputs"): (["ingest", str(good.parent), "--db", str(db), "-q", "--workers", "0"], 0),
        ("ingest", "some rejected"): (["ingest", str(dump_dir), "--db", str(db), "-q", "--workers", "0"], 3),
        ("ingest", "missing path"): (["ingest", str(tmp_path / "nope"), "--db", str(db)], 2),
        ("ingest", "bad option"): (["ingest", str(good), "--db", str(db), "--threshold", "7"], 2),
        ("ingest", "bad rules file"): (["ingest", str(good), "--db", str(db), "--rules", str(rules)], 2),
        ("clean", "parsed"): (["clean", str(good / "council.txt")], 0),
        ("clean", "missing file"): (["clean", str(tmp_path / "nope.txt")], 2),
        ("clean", "bad rules file"): (["clean", str(good / "council.txt"), "--rules", str(rules)], 2),
        ("clean", "rejected input"): (["clean", str(dump_dir / "bad" / "image.txt")], 1),
        ("sql", "answered"): (["sql", "SELECT count(*) FROM articles", "--db", str(db)], 0),
        ("sql", "refused"): (["sql", "DROP TABLE articles", "--db", str(db)], 2),
        ("sql", "bad format"): (["sql", "SELECT 1", "--db", str(db), "--format", "xml"], 2),
        ("sql", "no store"): (["sql", "SELECT 1", "--db", str(tmp_path / "none.duckdb")], 1),
        ("stories", "listed"): (["stories", "--db", str(db)], 0),
        ("stories", "bad format"): (["stories", "--db", str(db), "--format", "xml"], 2),
        ("story", "unknown id"): (["story", "ffffffff", "--db", str(db)], 2),
        ("export", "written"): (["export", str(tmp_path / "backup"), "--db", str(db)], 0),
        ("export", "folder not empty"): (["export", str(tmp_path / "backup"), "--db", str(db)], 2),
        ("export", "no store"): (["export", str(tmp_path / "b2"), "--db", str(tmp_path / "none.duckdb")], 1),
        ("import", "restored"): (["import", str(tmp_path / "backup"), "--db", str(tmp_path / "copy.duckdb")], 0),
        ("import", "target exists"): (["import", str(tmp_path / "backup"), "--db", str(db)], 2),
        ("import", "no export"): (["import", str(tmp_path / "nope"), "--db", str(tmp_path / "c2.duckdb")], 2),
        ("fetch", "no sources file"): (["fetch", "--sources", str(tmp_path / "nope.toml"), "--db", str(db)], 2),
        ("reprocess", "done"): (["reprocess", "--db", str(db), "--into", str(tmp_path / "r1.duckdb"), "-q"], 0),
        ("reprocess", "into is db"): (["reprocess", "--db", str(db), "--into", str(db), "-q"], 2),
        ("no command", ""): ([], 2),
        ("unknown command", ""): (["compact"], 2),
    }
    for (command, case), (args, expected) in codes.items():
        result = runner.invoke(app, args)
        assert result.exit_code == expected, (command, case, result.output)
        if command == "ingest" and case == "clean inputs":
            story_id = query(db, "SELECT cluster_id FROM stories")[0][0]
            assert run("story", story_id, "--db", str(db)).exit_code == 0

    # an archived page that is rejected when re-parsed makes reprocess partial
    con = open_store(db)
    store_bodies(con, [ArchivedBody(url="http://example.test/a", final_url="http://example.test/a", source="web", kind="page",
                                    status=200, headers={}, fetched_at=datetime.now(timezone.utc), content_hash="0" * 64, body=b"")], "r")
    con.close()
    result = runner.invoke(app, ["reprocess", "--db", str(db), "--into", str(tmp_path / "r2.duckdb"), "-q"])
    assert result.exit_code == 3, result.output


def test_cli_prefect_refuses_options_the_flow_does_not_take(tmp_path: Path, dump_dir: Path):
    from typer.testing import CliRunner

    from flows.cli import app

    db = tmp_path / "news.duckdb"
    result = CliRunner().invoke(app, ["ingest", str(dump_dir), "--db", str(db), "--prefect", "--workers", "1"])
    assert result.exit_code == 2
    assert "--workers cannot be used with --prefect" in result.output
    assert not db.exists()


def test_the_flow_summary_reads_back_as_the_run_summary():
    """What the flow returns (its artifact's rows) gives back the summary the CLI prints."""
    from collections import Counter

    from flows.ingest import summary_from_result, summary_table
    from flows.pipeline import IngestSummary

    summary = IngestSummary(
        run_id="20261204T000000Z-abcdef", read=40, new=30, new_stories=12, already_stored=3,
        exact_dups=9, near_dups=9, rejected=7, rejected_new=5, clusters_merged=2,
        learned_lines_removed=11, seconds=3.25, rejected_by_reason=Counter(binary=3, too_large=4),
        status="partial",
    )
    result = {row["metric"]: row["value"] for row in summary_table(summary)}
    assert summary_from_result(result) == summary


@pytest.mark.parametrize("budget", ["256KB", "1MB", "4MB"])  # fails opening, migrating, ingesting
def test_a_duckdb_budget_too_small_is_one_line_naming_the_setting_and_a_rerun_goes_on(tmp_path: Path, monkeypatch, budget: str):
    from tests.conftest import SAMPLES

    db = tmp_path / "news.duckdb"
    monkeypatch.setenv("NEWSDEDUP_DUCKDB_MEMORY", budget)
    result = CliRunner().invoke(app, ["ingest", str(SAMPLES), "--db", str(db), "-q"])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("error: DuckDB ran out of memory on store"), result.output
    assert f"NEWSDEDUP_DUCKDB_MEMORY={budget}: raise it" in result.output
    assert "damaged" not in result.output and "Traceback" not in result.output
    if budget == "4MB":  # failed in a batch: the run row says why, in one line
        [(status, error)] = query(db, "SELECT status, error FROM ingest_runs")
        assert status == "failed" and error.startswith("DuckDB ran out of memory (Out of Memory Error:")
        assert "\n" not in error and "NEWSDEDUP_DUCKDB_MEMORY" in error

    monkeypatch.delenv("NEWSDEDUP_DUCKDB_MEMORY")
    again = CliRunner().invoke(app, ["ingest", str(SAMPLES), "--db", str(db), "-q"])
    assert again.exit_code == 3, again.output
    assert query(db, "SELECT count(*) FROM articles") == [(25,)]
