"""Storage on real DuckDB files: batch atomicity and idempotency, merges, canonical, views, errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import numpy as np
import pytest

from parsers.article import Rejection, RemovedLine
from storage.articles import exact_matches, existing_article_ids, fetch_for_verification, next_seq
from storage.batch import record_rejections, write_batch
from storage.boilerplate import learned_lines
from storage.dedup_config import ensure_dedup_config
from storage.lsh_index import band_hits
from storage.queries import QueryFailed, QueryRefused, rejected, run_readonly_sql, run_summary, story, top_stories
from storage.records import BatchWrite, DuplicateLink, StoredArticle
from storage.runs import finish_run, start_run
from storage.store import StoreError, default_db_path, open_store

BANDS = 4


def article(seq: int, cluster: str | None = None, published: datetime | None = None, text_hash: str | None = None,
            source: str = "wire", keys: list[int] | None = None) -> StoredArticle:
    aid = f"a{seq:04d}"
    return StoredArticle(
        article_id=aid, seq=seq, source=source, source_uri=f"{source}/{seq}.txt", content_hash=f"{seq:064x}",
        text_hash=text_hash or f"t{seq}", cluster_id=cluster or aid, title=f"Title {seq}", body=f"Body of {seq}.",
        signature=np.full(8, seq, dtype=np.uint32),
        band_keys=np.array(keys if keys is not None else [seq * 100 + b for b in range(BANDS)], dtype=np.int64),
        published_at=published, word_count=3,
        removed=[RemovedLine("Photo: Getty Images", "photo_credit", 2), RemovedLine("Follow us", "learned_boilerplate", 9, 7)],
    )


@pytest.fixture()
def con(tmp_path):
    connection = open_store(tmp_path / "store" / "news.duckdb")
    yield connection
    connection.close()


def counts(con) -> dict[str, int]:
    tables = ["articles", "removed_lines", "duplicate_links", "minhash_signatures", "lsh_bands",
              "rejected_inputs", "source_boilerplate", "cluster_merges"]
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in tables}


def test_write_batch_stores_every_table_and_lookups_find_it(con):
    batch = BatchWrite(
        articles=[article(1), article(2, cluster="a0001", text_hash="t1", keys=[100, 7, 8, 9]), article(3)],
        links=[DuplicateLink("a0002", "a0001", "exact", 1.0)],
        rejections=[Rejection("wire", "bad.bin", "binary", "NUL bytes", "ff" * 32)],
        boilerplate_counts=[("wire", 42, "Follow us", 2)],
    )
    write_batch(con, batch, "r1")
    assert counts(con) == {"articles": 3, "removed_lines": 6, "duplicate_links": 1, "minhash_signatures": 3,
                           "lsh_bands": 12, "rejected_inputs": 1, "source_boilerplate": 1, "cluster_merges": 0}
    assert next_seq(con) == 4
    assert existing_article_ids(con, ["a0001", "a0003", "nope", "a0001"]) == {"a0001", "a0003"}
    match = exact_matches(con, ["t1", "t9"])
    assert set(match) == {"t1"} and match["t1"].article_id == "a0001" and match["t1"].cluster_rank == 1
    fetched = fetch_for_verification(con, ["a0002", "a0003", "missing"])
    assert fetched["a0002"].body == "Body of 2." and fetched["a0002"].cluster_id == "a0001"
    assert fetched["a0002"].cluster_rank == 1 and fetched["a0002"].seq == 2
    hits = band_hits(con, np.array([[100, 1, 2, 3], [5, 6, 301, 9]], dtype=np.int64))
    assert hits == [(0, "a0001"), (0, "a0002"), (1, "a0002"), (1, "a0003")]
    assert learned_lines(con, "wire", [42, 43]) == {42: 2}
    assert learned_lines(con, "other", [42]) == {}
    signature = con.execute("SELECT signature FROM minhash_signatures WHERE article_id = 'a0003'").fetchall()[0][0]
    assert np.frombuffer(signature, dtype="<u4").tolist() == [3] * 8


def test_retried_batch_adds_nothing(con):
    batch = BatchWrite(
        articles=[article(1), article(2, cluster="a0001")],
        links=[DuplicateLink("a0002", "a0001", "near", 0.91)],
        merges=[],
        rejections=[Rejection("wire", "empty.txt", "empty", "0 bytes", None)],
        boilerplate_counts=[("wire", 42, "Follow us", 2)],
    )
    first = write_batch(con, batch, "r1")
    assert first.inserted == {"a0001", "a0002"} and first.rejections_recorded == 1
    before = counts(con)
    again = write_batch(con, batch, "r1")
    assert again.inserted == set() and again.rejections_recorded == 0  # a run over the same bad file reports it once
    write_batch(con, batch, "r2")
    assert counts(con) == before
    assert learned_lines(con, "wire", [42]) == {42: 2}  # a replay must not count stories twice
    assert record_rejections(con, [Rejection("wire", "empty.txt", "empty", "again", None)], "r3") == 0


def test_error_mid_batch_leaves_nothing(con):
    write_batch(con, BatchWrite(articles=[article(1)]), "r1")
    before = counts(con)
    bad = BatchWrite(
        articles=[article(2), article(3)],
        links=[DuplicateLink("a0002", "a0001", "fuzzy", 0.5)],  # CHECK (kind IN ...) fails after the inserts
        boilerplate_counts=[("wire", 1, "x", 1)],
    )
    with pytest.raises(duckdb.ConstraintException):
        write_batch(con, bad, "r2")
    assert counts(con) == before
    assert existing_article_ids(con, ["a0002", "a0003"]) == set()
    write_batch(con, BatchWrite(articles=[article(2)]), "r3")  # connection still usable
    assert next_seq(con) == 3


def test_merge_moves_articles_and_recomputes_one_canonical(con):
    early = datetime(2024, 3, 1, 8, 0, tzinfo=timezone.utc)
    write_batch(con, BatchWrite(articles=[article(1), article(2, cluster="a0001"), article(3), article(4, cluster="a0003", published=early)]), "r1")
    canon = dict(con.execute("SELECT cluster_id, article_id FROM articles WHERE is_canonical").fetchall())
    assert canon == {"a0001": "a0001", "a0003": "a0004"}

    # a new article links both stories: cluster a0003 is absorbed into the lower-seq a0001
    write_batch(con, BatchWrite(articles=[article(5, cluster="a0001")], merges=[("a0003", "a0001")],
                                links=[DuplicateLink("a0005", "a0002", "near", 0.85)]), "r2")
    rows = con.execute("SELECT article_id, cluster_id, is_canonical FROM articles ORDER BY seq").fetchall()
    assert {r[1] for r in rows} == {"a0001"}
    assert [r[0] for r in rows if r[2]] == ["a0004"]  # earliest published wins over lower seq
    assert con.execute("SELECT absorbed_cluster_id, into_cluster_id, run_id FROM cluster_merges").fetchall() == [
        ("a0003", "a0001", "r2")]
    assert exact_matches(con, ["t3"])["t3"].cluster_rank == 1

    stories = top_stories(con, 5)
    assert len(stories) == 1
    top = stories[0]
    assert (top["cluster_id"], top["size"], top["canonical_article_id"], top["title"]) == ("a0001", 5, "a0004", "Title 4")
    assert top["sources"] == ["wire"] and top["first_published"] == early

    detail = story(con, "a0001")
    assert [a["article_id"] for a in detail["articles"]] == ["a0001", "a0002", "a0003", "a0004", "a0005"]
    five = detail["articles"][4]
    assert (five["link_kind"], five["duplicate_of"], five["similarity"], five["removed_lines"]) == ("near", "a0002", 0.85, 2)
    with pytest.raises(KeyError):
        story(con, "nope")


def test_chained_merges_in_one_batch(con):
    write_batch(con, BatchWrite(articles=[article(1), article(2), article(3)]), "r1")
    write_batch(con, BatchWrite(articles=[article(4, cluster="a0001")], merges=[("a0003", "a0002"), ("a0002", "a0001")]), "r2")
    assert con.execute("SELECT DISTINCT cluster_id FROM articles").fetchall() == [("a0001",)]
    assert con.execute("SELECT count(*) FROM articles WHERE is_canonical").fetchall() == [(1,)]


def test_stories_view_counts_sources(con):
    write_batch(con, BatchWrite(articles=[article(1, source="wire"), article(2, cluster="a0001", source="herald"),
                                          article(3, cluster="a0001", source="wire"), article(4)]), "r1")
    rows = con.execute("SELECT cluster_id, size, n_sources, sources FROM stories ORDER BY cluster_id").fetchall()
    assert rows == [("a0001", 3, 2, ["herald", "wire"]), ("a0004", 1, 1, ["wire"])]


def test_runs_and_rejections_read_side(con):
    start_run(con, "r1", "wire", ["in/a.zip", "in/b"], 0.8, "0.1.0")
    record_rejections(con, [Rejection("wire", "a.zip!../x", "unsafe_member", "path escapes", None)], "r1")
    finish_run(con, "r1", {"n_read": 10, "n_rejected": 1}, "partial", 1.5, error="1 input rejected")
    summary = run_summary(con, "r1")
    assert summary["status"] == "partial" and summary["n_read"] == 10 and summary["n_new"] == 0
    assert summary["paths"] == ["in/a.zip", "in/b"] and summary["rejected_by_reason"] == {"unsafe_member": 1}
    assert [r["reason"] for r in rejected(con, "r1")] == ["unsafe_member"] and rejected(con, "r9") == []
    with pytest.raises(ValueError):
        finish_run(con, "r1", {}, "done", 1.0)
    with pytest.raises(KeyError):
        finish_run(con, "nope", {}, "ok", 1.0)


def test_dedup_config_pinned(con):
    settings = {"num_perm": 128, "shingle_size": 5, "seed": 1, "scheme": "affine32", "bands": 25, "rows": 5,
                "hash": "polymix32", "threshold": 0.8}
    assert ensure_dedup_config(con, settings) == settings
    assert ensure_dedup_config(con, {**settings, "threshold": 0.9})["threshold"] == 0.9
    with pytest.raises(ValueError, match=r"built with .*num_perm=128.* asks num_perm=64"):
        ensure_dedup_config(con, {**settings, "num_perm": 64})


def test_readonly_sql_reads_and_refuses_writes(tmp_path):
    path = tmp_path / "ro.duckdb"
    con = open_store(path)
    write_batch(con, BatchWrite(articles=[article(1)]), "r1")
    con.close()
    columns, rows = run_readonly_sql(path, "SELECT article_id, seq FROM articles")
    assert columns == ["article_id", "seq"] and rows == [("a0001", 1)]
    for statement in ["DELETE FROM articles", "CREATE TABLE x (a INT)", "UPDATE articles SET title = 'x'",
                      "DROP VIEW stories", "COPY articles TO 'out.csv'", "ATTACH 'other.duckdb'",
                      "SELECT 1; DELETE FROM articles"]:
        with pytest.raises(QueryRefused):
            run_readonly_sql(path, statement)
    with pytest.raises(QueryFailed, match="read_csv|external|disabled"):  # reading other files is disabled too
        run_readonly_sql(path, f"SELECT * FROM read_csv('{path}')")
    assert run_readonly_sql(path, "SELECT count(*) FROM articles")[1] == [(1,)]


def test_garbage_and_foreign_files_are_refused(tmp_path):
    garbage = tmp_path / "garbage.duckdb"
    garbage.write_bytes(b"this is not a database\n" * 200)
    with pytest.raises(StoreError, match="not a DuckDB database"):
        open_store(garbage)
    assert garbage.read_bytes().startswith(b"this is not")  # untouched

    foreign = tmp_path / "foreign.duckdb"
    other = duckdb.connect(str(foreign))
    other.execute("CREATE TABLE sales (id INT)").fetchall()
    other.close()
    with pytest.raises(StoreError, match="not a newsdedup store"):
        open_store(foreign)
    with pytest.raises(StoreError, match="no store"):
        open_store(tmp_path / "missing.duckdb", read_only=True)


def _open_in_another_process(path, read_only: bool = False) -> subprocess.CompletedProcess:
    """open_store(path) in a new process: exit 3 with the StoreError's message on stdout."""
    script = textwrap.dedent(
        f"""
        import sys
        from storage.store import StoreError, open_store
        try:
            open_store({str(path)!r}, read_only={read_only!r})
        except StoreError as exc:
            print(exc)
            sys.exit(3)
        """
    )
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=str(_repo_root()))


def test_second_writer_gets_a_clear_busy_error(tmp_path):
    path = tmp_path / "busy.duckdb"
    con = open_store(path)
    result = _open_in_another_process(path)
    con.close()
    assert result.returncode == 3, result.stderr
    assert "busy" in result.stdout and str(path) in result.stdout


def test_reader_of_a_store_without_snapshot_yet_is_told_to_retry(tmp_path):
    """A store's first ingest holds the file and has not published a snapshot yet: the reader's
    error says so, instead of implying that reads must wait for the writer to finish."""
    path = tmp_path / "new.duckdb"
    con = open_store(path)
    result = _open_in_another_process(path, read_only=True)
    con.close()
    assert result.returncode == 3, result.stderr
    assert "busy" in result.stdout and "new.snapshot.duckdb" in result.stdout and "retry in a moment" in result.stdout


def test_default_db_path(monkeypatch, tmp_path):
    monkeypatch.delenv("NEWSDEDUP_DB", raising=False)
    assert str(default_db_path()) == "data/news.duckdb"
    monkeypatch.setenv("NEWSDEDUP_DB", str(tmp_path / "x.duckdb"))
    assert default_db_path() == tmp_path / "x.duckdb"


def _repo_root():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent


def test_readonly_sql_lock_down_stays_in_its_own_instance(tmp_path):
    """`run_readonly_sql` disables file access and locks settings in a DuckDB instance of its own:
    a notebook's session on the same file in the same process is never locked down by it."""
    db = tmp_path / "news.duckdb"
    open_store(db).close()
    notes = tmp_path / "notes.csv"
    notes.write_text("a\n1\n")
    analyst = duckdb.connect(str(db), read_only=True)
    try:
        for _ in range(2):  # the second call used to fail: the first had locked the shared instance
            assert run_readonly_sql(db, "SELECT count(*) FROM articles") == (["count_star()"], [(0,)])
        assert analyst.execute(f"SELECT a FROM read_csv('{notes}')").fetchall() == [(1,)]
    finally:
        analyst.close()
    assert run_readonly_sql(db, "SELECT count(*) FROM articles") == (["count_star()"], [(0,)])
    with pytest.raises(QueryFailed):
        run_readonly_sql(db, f"SELECT * FROM read_csv('{notes}')")
    analyst = duckdb.connect(str(db), read_only=True)
    try:
        assert analyst.execute(f"SELECT a FROM read_csv('{notes}')").fetchall() == [(1,)]
    finally:
        analyst.close()


def test_a_run_that_died_is_marked_interrupted_by_the_next_run(tmp_path):
    """A killed run leaves its row `running`; the next writer (which holds the writer lock, so
    the old one cannot still be alive) records it as failed, interrupted, and says so."""
    from flows.pipeline import IngestSettings, ingest

    db = tmp_path / "news.duckdb"
    con = open_store(db)
    start_run(con, "20260101T000000Z-dead01", None, ["x"], 0.8, "0.1.0")  # as a SIGKILLed run leaves it
    con.close()
    samples = Path(__file__).resolve().parent.parent / "samples"
    summary = ingest([str(samples)], IngestSettings(db_path=db, workers=0))
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = dict(
            (run_id, (status, error, finished))
            for run_id, status, error, finished in con.execute(
                "SELECT run_id, status, error, finished_at IS NOT NULL FROM ingest_runs"
            ).fetchall()
        )
    finally:
        con.close()
    status, error, finished = rows["20260101T000000Z-dead01"]
    assert status == "failed" and error.startswith("interrupted") and not finished
    assert rows[summary.run_id][0] == "partial" and rows[summary.run_id][2]
