"""Schema migrations on real DuckDB files: fresh, re-open, upgrade of populated old stores, comments."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from storage.migrations import MIGRATIONS, apply_migrations, latest_version, schema_version
from storage.store import StoreError, open_store
from tests.conftest import same_rows, store_at_version, table_columns

@pytest.mark.parametrize("version", [latest_version() - 1, 5, 1])
def test_populated_old_store_upgrades_keeping_every_row(version, ingested_samples, tmp_path):
    """The previous schema, v5 (before the url_key column) and v1, each filled by a real ingest, then opened by this code."""
    old = store_at_version(version, ingested_samples, tmp_path / "old.duckdb")
    before = shutil.copy(old, tmp_path / "before.duckdb")
    con = duckdb.connect(str(before), read_only=True)
    old_tables = table_columns(con)
    old_counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in old_tables}
    con.close()
    assert old_counts["articles"] == 25 and old_counts["lsh_bands"] > 0 and old_counts["removed_lines"] > 0

    con = open_store(old)  # the upgrade
    assert schema_version(con) == latest_version()
    con.execute(f"ATTACH '{before}' AS before (READ_ONLY)").fetchall()
    con.execute(f"ATTACH '{ingested_samples}' AS current (READ_ONLY)").fetchall()
    new_tables = table_columns(con)
    for table, columns in old_tables.items():
        assert new_tables[table][: len(columns)] == columns, table  # new columns only at the end
        if table == "schema_migrations":  # the old records stay as they were; the new ones follow
            old_rows = "SELECT * FROM before.schema_migrations"
            assert con.execute(f"SELECT count(*) FROM ({old_rows} EXCEPT ALL SELECT * FROM schema_migrations)").fetchall() == [(0,)]
            continue
        assert con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] == old_counts[table], table
        assert same_rows(con, table, columns, "main", "before"), table
    migrations = con.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
    assert migrations == [(m.version, m.name) for m in MIGRATIONS]
    # the columns added since are filled as the current ingest fills them
    if "url_key" not in old_tables["articles"]:
        assert con.execute("SELECT count(url_key) FROM articles").fetchall() == [(3,)]
        assert same_rows(con, "articles", ["article_id", "url_key"], "main", "current")
    if "kind" not in old_tables["removed_lines"]:
        assert con.execute("SELECT count(*) FROM removed_lines WHERE kind IS NULL").fetchall() == [(0,)]
        assert same_rows(con, "removed_lines", ["article_id", "position", "rule", "kind"], "main", "current")
    if "error" not in old_tables["ingest_runs"]:  # why an old run failed was never recorded
        assert con.execute("SELECT count(error) FROM ingest_runs").fetchall() == [(0,)]
    con.close()


def test_failed_migration_leaves_the_store_at_its_version_and_readable(ingested_samples, tmp_path):
    old = store_at_version(5, ingested_samples, tmp_path / "old.duckdb")
    con = duckdb.connect(str(old))
    con.execute("ALTER TABLE articles ADD COLUMN url_key VARCHAR").fetchall()  # migration 6 now fails
    con.close()
    with pytest.raises(StoreError, match=rf"cannot migrate store .*old.duckdb.*rolled back"):
        open_store(old)
    con = duckdb.connect(str(old), read_only=True)
    assert schema_version(con) == 5
    assert con.execute("SELECT count(*) FROM articles").fetchall() == [(25,)]
    con.close()


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
    # v2 added ingest_runs.error and v9 n_rejected_new at the end; the old row survives with NULLs there
    assert con.execute("SELECT run_id, source, error, n_rejected_new FROM ingest_runs").fetchall() == [("r1", "wire", None, None)]
    columns = [r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = 'ingest_runs' ORDER BY column_index").fetchall()]
    assert columns[-2:] == ["error", "n_rejected_new"] and columns[0] == "run_id"
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


def test_no_index_grows_with_the_store_after_v8_and_v10(ingested_samples, tmp_path):
    """Per-article tables carry no PRIMARY KEY / UNIQUE (an ART per row would grow a long
    ingest's memory with the store); uniqueness is the writer's anti-join, checked here."""
    old = store_at_version(7, ingested_samples, tmp_path / "old.duckdb")
    con = duckdb.connect(str(old), read_only=True)
    stored_order = [r for (r,) in con.execute("SELECT line_key FROM source_boilerplate").fetchall()]
    con.close()
    con = open_store(old)
    keyed = {t for (t,) in con.execute(
        "SELECT DISTINCT table_name FROM duckdb_constraints() WHERE constraint_type IN ('PRIMARY KEY', 'UNIQUE')"
    ).fetchall()}
    assert not keyed & {"articles", "duplicate_links", "minhash_signatures", "source_boilerplate", "lsh_bands"}
    for table, key in [("articles", "article_id"), ("articles", "seq"), ("duplicate_links", "article_id"),
                       ("minhash_signatures", "article_id"), ("source_boilerplate", "source, line_key")]:
        assert con.execute(f"SELECT count(*) - count(DISTINCT ({key})) FROM {table}").fetchall() == [(0,)], table
    # rows are copied in their stored order
    assert [r for (r,) in con.execute("SELECT line_key FROM source_boilerplate").fetchall()] == stored_order
    con.close()


def test_v10_rebuilds_articles_without_keys_keeping_rows_order_and_comments(ingested_samples, tmp_path, monkeypatch, caplog):
    """articles loses PRIMARY KEY (article_id) and UNIQUE (seq), whose ART indexes DuckDB holds
    in memory; the rows, their stored (seq) order, NOT NULLs, comments and the stories view stay."""
    monkeypatch.delenv("NEWSDEDUP_DUCKDB_MEMORY", raising=False)
    old = store_at_version(9, ingested_samples, tmp_path / "old.duckdb")
    con = duckdb.connect(str(old), read_only=True)
    before = con.execute("SELECT * FROM articles ORDER BY seq").fetchall()
    stories = con.execute("SELECT * FROM stories ORDER BY cluster_id").fetchall()
    assert {c for (c,) in con.execute(
        "SELECT constraint_type FROM duckdb_constraints() WHERE table_name = 'articles'").fetchall()} >= {"PRIMARY KEY", "UNIQUE"}
    con.close()
    with caplog.at_level("WARNING", logger="newsdedup"):
        con = open_store(old)
    # the one slow upgrade says what it is doing
    assert "upgrading the store from schema version 9 to 10" in caplog.text
    try:
        assert con.execute("SELECT * FROM articles").fetchall() == before  # same rows, in seq order
        assert con.execute("SELECT * FROM stories ORDER BY cluster_id").fetchall() == stories
        kinds = {c for (c,) in con.execute(
            "SELECT constraint_type FROM duckdb_constraints() WHERE table_name = 'articles'").fetchall()}
        assert kinds == {"NOT NULL"}
        not_null = {col for (col,) in con.execute(
            "SELECT unnest(constraint_column_names) FROM duckdb_constraints() WHERE table_name = 'articles'").fetchall()}
        assert {"article_id", "seq", "body", "cluster_id"} <= not_null
        assert "No primary key on purpose" in con.execute(
            "SELECT comment FROM duckdb_tables() WHERE table_name = 'articles'").fetchall()[0][0]
        # the writer's budget is the flat one once the key indexes are gone
        assert con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0] == "45.7 MiB"
    finally:
        con.close()


def test_upgrade_command_migrates_an_old_store_for_the_read_only_commands(ingested_samples, tmp_path):
    from typer.testing import CliRunner

    from flows.cli import app

    old = store_at_version(9, ingested_samples, tmp_path / "old.duckdb")
    runner = CliRunner()
    refused = runner.invoke(app, ["stories", "--db", str(old)])
    assert refused.exit_code == 1 and f"run `newsdedup upgrade --db {old}`" in refused.output
    upgraded = runner.invoke(app, ["upgrade", "--db", str(old)])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"schema version 9 → {latest_version()}" in upgraded.output
    again = runner.invoke(app, ["upgrade", "--db", str(old)])
    assert again.exit_code == 0 and "up to date" in again.output
    shown = runner.invoke(app, ["stories", "--db", str(old)])
    assert shown.exit_code == 0, shown.output
    con = duckdb.connect(str(old), read_only=True)
    assert con.execute("SELECT count(*) FROM articles").fetchall()[0][0] > 0
    con.close()
    assert runner.invoke(app, ["upgrade", "--db", str(tmp_path / "missing.duckdb")]).exit_code == 1
