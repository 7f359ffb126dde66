"""Schema migrations on real DuckDB files: fresh, re-open, upgrade of a populated v1 store, comments."""

from __future__ import annotations

import duckdb

from storage.migrations import MIGRATIONS, apply_migrations, latest_version, schema_version
from storage.store import open_store


def test_fresh_store_gets_every_migration_once(tmp_path):
    path = tmp_path / "nested" / "news.duckdb"
    con = open_store(path)
    rows = con.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
    assert rows == [(m.version, m.name) for m in MIGRATIONS]
    con.close()

    con = open_store(path)  # re-open: nothing pending, nothing re-applied
    assert apply_migrations(con) == []
    assert con.execute("SELECT count(*) FROM schema_migrations").fetchall() == [(len(MIGRATIONS),)]
    assert schema_version(con) == latest_version()
    con.close()


def test_v1_store_with_rows_upgrades_and_keeps_them(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    assert apply_migrations(con, target_version=1) == [1]
    con.execute(
        "INSERT INTO ingest_runs (run_id, started_at, status, source) VALUES ('r1', now(), 'ok', 'wire')"
    ).fetchall()
    con.execute(
        """INSERT INTO articles (article_id, seq, source, source_uri, body, content_hash, text_hash,
                                 cluster_id, is_canonical, ingested_at, run_id)
           VALUES ('a1', 1, 'wire', 'x.txt', 'Body', 'c', 't', 'a1', true, now(), 'r1')"""
    ).fetchall()
    con.close()

    con = open_store(path)
    assert con.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall() == [
        (m.version,) for m in MIGRATIONS
    ]
    assert con.execute("SELECT article_id, body FROM articles").fetchall() == [("a1", "Body")]
    # v2 added ingest_runs.error at the end; the old row survives with NULL there
    assert con.execute("SELECT run_id, source, error FROM ingest_runs").fetchall() == [("r1", "wire", None)]
    columns = [r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = 'ingest_runs' ORDER BY column_index").fetchall()]
    assert columns[-1] == "error" and columns[0] == "run_id"
    con.close()


def test_failed_migration_rolls_back_with_its_record(tmp_path):
    con = duckdb.connect(str(tmp_path / "m.duckdb"))
    apply_migrations(con, target_version=1)
    con.execute("ALTER TABLE ingest_runs ADD COLUMN error VARCHAR").fetchall()  # makes v2 fail
    try:
        apply_migrations(con)
    except duckdb.CatalogException:
        pass
    else:
        raise AssertionError("v2 should have failed on the existing column")
    assert schema_version(con) == 1


def test_every_table_view_and_column_has_a_comment(tmp_path):
    con = open_store(tmp_path / "c.duckdb")
    missing_columns = con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE NOT internal AND (comment IS NULL OR comment = '')"
    ).fetchall()
    assert missing_columns == []
    missing_tables = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE NOT internal AND (comment IS NULL OR comment = '')"
    ).fetchall()
    assert missing_tables == []
    views = con.execute("SELECT view_name, comment FROM duckdb_views() WHERE NOT internal").fetchall()
    assert [v[0] for v in views] == ["stories"] and views[0][1]
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert tables == {
        "schema_migrations", "dedup_config", "ingest_runs", "articles", "removed_lines", "duplicate_links",
        "minhash_signatures", "lsh_bands", "rejected_inputs", "source_boilerplate", "cluster_merges", "article_lines",
        "raw_archive", "feed_state",
    }
