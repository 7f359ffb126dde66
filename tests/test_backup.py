"""`newsdedup export` / `import`: every table to Parquet and back, row for row, on real files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from flows.cli import app
from storage.backup import MANIFEST, export_store, import_store
from storage.locking import writer_lock
from storage.migrations import latest_version
from storage.store import StoreError
from tests.conftest import ROOT, SAMPLES, same_rows, store_at_version, table_columns

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def _copy_store(src: Path, dst: Path) -> Path:
    shutil.copyfile(src, dst)
    return dst


def _schema(con: duckdb.DuckDBPyConnection, catalog: str) -> list[tuple]:
    return con.execute(
        "SELECT table_name, column_index, column_name, data_type, is_nullable, comment FROM duckdb_columns() "
        "WHERE database_name = ? ORDER BY table_name, column_index",
        [catalog],
    ).fetchall()


def _assert_identical(a: Path, b: Path) -> dict[str, int]:
    """Every table of the two stores holds the same rows (and the same schema); returns the counts."""
    con = duckdb.connect()
    con.execute(f"ATTACH '{a}' AS a (READ_ONLY)").fetchall()
    con.execute(f"ATTACH '{b}' AS b (READ_ONLY)").fetchall()
    try:
        assert _schema(con, "a") == _schema(con, "b")
        counts = {}
        con.execute("USE a").fetchall()
        for table, columns in table_columns(con, catalog="a").items():
            counts[table] = con.execute(f"SELECT count(*) FROM a.{table}").fetchall()[0][0]
            assert con.execute(f"SELECT count(*) FROM b.{table}").fetchall()[0][0] == counts[table], table
            assert same_rows(con, table, columns, "a", "b"), table
        return counts
    finally:
        con.close()


def _near_copy(tmp_path: Path) -> Path:
    """A later outlet's copy of a stored sample story: its last paragraph cut (a near duplicate), and an exact copy."""
    drop = tmp_path / "later"
    (drop / "latecomer").mkdir(parents=True)
    text = (SAMPLES / "metro-times" / "dock-strike.txt").read_text()
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    (drop / "latecomer" / "dock-strike-cut.txt").write_text("\n\n".join(paragraphs[:-1]) + "\n")
    (drop / "latecomer" / "drought.txt").write_bytes((SAMPLES / "wire-desk" / "drought.txt").read_bytes())
    return drop


def _links_of_source(db: Path, source: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "SELECT a.source_uri, l.kind, l.duplicate_of, round(l.similarity, 6), d.source "
            "FROM duplicate_links l JOIN articles a USING (article_id) JOIN articles d ON d.article_id = l.duplicate_of "
            "WHERE a.source = ? ORDER BY a.source_uri",
            [source],
        ).fetchall()
    finally:
        con.close()


def test_export_then_import_restores_every_row_and_dedup_goes_on(ingested_samples, tmp_path):
    original = _copy_store(ingested_samples, tmp_path / "news.duckdb")
    out = tmp_path / "backup"
    exported = run("export", str(out), "--db", str(original))
    assert exported.exit_code == 0, exported.output

    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["format"] == "newsdedup-export" and manifest["schema_version"] == latest_version()
    assert manifest["newsdedup_version"] and manifest["dedup_config"]["minhash"]["num_perm"] == 128
    import hashlib

    for table, entry in manifest["tables"].items():
        assert hashlib.sha256((out / entry["file"]).read_bytes()).hexdigest() == entry["sha256"], table
    assert set(manifest["tables"]) >= {
        "articles", "removed_lines", "duplicate_links", "ingest_runs", "rejected_inputs", "article_lines", "lsh_bands",
        "minhash_signatures", "source_boilerplate", "cluster_merges", "dedup_config", "raw_archive", "feed_state", "schema_migrations",
    }

    restored = tmp_path / "elsewhere" / "restored.duckdb"
    imported = run("import", str(out), "--db", str(restored))
    assert imported.exit_code == 0, imported.output
    counts = _assert_identical(original, restored)
    assert {t: e["rows"] for t, e in manifest["tables"].items()} == counts
    assert counts["articles"] == 25 and counts["lsh_bands"] > 0 and counts["minhash_signatures"] == 25

    # both stores take the same new articles the same way: the restored LSH index and hashes find the old ones
    later = _near_copy(tmp_path)
    for db in (original, restored):
        result = run("ingest", str(later), "--db", str(db), "--workers", "0", "-q")
        assert result.exit_code == 0, result.output
    links = _links_of_source(restored, "latecomer")
    assert [(uri, kind) for uri, kind, *_ in links] == [("dock-strike-cut.txt", "near"), ("drought.txt", "exact")]
    assert all(source != "latecomer" for *_, source in links)  # linked to what was there before the move
    assert links == _links_of_source(original, "latecomer")


def test_export_waits_for_the_writer_and_works_beside_an_open_reader(ingested_samples, tmp_path):
    db = _copy_store(ingested_samples, tmp_path / "news.duckdb")
    with writer_lock(db, what="ingest"):  # an ingest is running: the export waits for its turn
        with pytest.raises(StoreError, match="busy"):
            export_store(db, tmp_path / "during", "test", timeout=0.2)
    assert not (tmp_path / "during").exists()

    # an analyst's read-only session on the store file, in another process
    reader = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, duckdb
            con = duckdb.connect({str(db)!r}, read_only=True)
            print(con.execute("SELECT count(*) FROM articles").fetchall()[0][0], flush=True)
            sys.stdin.read()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=str(ROOT),
    )
    try:
        assert reader.stdout.readline().strip() == "25"
        manifest = export_store(db, tmp_path / "backup", "test", timeout=5)
    finally:
        reader.communicate("", timeout=30)
    assert manifest["tables"]["articles"]["rows"] == 25


def test_import_refuses_what_it_must_not_do(ingested_samples, tmp_path):
    db = _copy_store(ingested_samples, tmp_path / "news.duckdb")
    out = tmp_path / "backup"
    export_store(db, out, "test")
    before = db.read_bytes()

    exists = run("import", str(out), "--db", str(db))
    assert exists.exit_code == 2 and "--force" in exists.output and db.read_bytes() == before
    assert run("export", str(out), "--db", str(db)).exit_code == 2  # not an empty folder
    missing = run("import", str(tmp_path / "nothing"), "--db", str(tmp_path / "new.duckdb"))
    assert missing.exit_code == 2 and "nothing" in missing.output
    text = tmp_path / "notes.txt"
    text.write_text("my notes\n")
    assert run("import", str(out), "--db", str(text), "--force").exit_code == 1 and text.read_text() == "my notes\n"

    newer = tmp_path / "newer"
    shutil.copytree(out, newer)
    manifest = json.loads((newer / MANIFEST).read_text())
    manifest["schema_version"] = latest_version() + 1
    (newer / MANIFEST).write_text(json.dumps(manifest))
    refused = run("import", str(newer), "--db", str(tmp_path / "n.duckdb"))
    assert refused.exit_code == 1 and "newer than this newsdedup" in refused.output

    damaged = tmp_path / "damaged"
    shutil.copytree(out, damaged)
    blob = bytearray((damaged / "articles.parquet").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (damaged / "articles.parquet").write_bytes(bytes(blob))
    broken = run("import", str(damaged), "--db", str(tmp_path / "d.duckdb"))
    assert broken.exit_code == 1 and "articles.parquet" in broken.output and "checksum" in broken.output

    miscounted = tmp_path / "miscounted"
    shutil.copytree(out, miscounted)
    manifest = json.loads((miscounted / MANIFEST).read_text())
    manifest["tables"]["lsh_bands"]["rows"] += 1
    (miscounted / MANIFEST).write_text(json.dumps(manifest))
    short = run("import", str(miscounted), "--db", str(tmp_path / "m.duckdb"))
    assert short.exit_code == 1 and "lsh_bands" in short.output
    for name in ("n.duckdb", "d.duckdb", "m.duckdb"):  # nothing half-written is left behind
        assert not (tmp_path / name).exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []

    forced = run("import", str(out), "--db", str(db), "--force")
    assert forced.exit_code == 0, forced.output
    _assert_identical(ingested_samples, db)


def test_an_older_export_is_migrated_on_import(ingested_samples, tmp_path):
    version = latest_version() - 2
    old = store_at_version(version, ingested_samples, tmp_path / "old.duckdb")
    manifest = export_store(old, tmp_path / "backup", "0.0.9")  # the store is exported as it is, unmigrated
    assert manifest["schema_version"] == version
    report = import_store(tmp_path / "backup", tmp_path / "restored.duckdb")
    assert report["schema_version_exported"] == version and report["schema_version"] == latest_version()
    con = duckdb.connect(str(tmp_path / "restored.duckdb"), read_only=True)
    con.execute(f"ATTACH '{old}' AS old (READ_ONLY)").fetchall()
    con.execute(f"ATTACH '{ingested_samples}' AS current (READ_ONLY)").fetchall()
    try:
        for table, columns in table_columns(con, catalog="old").items():
            if table != "schema_migrations":
                assert same_rows(con, table, columns, "restored", "old"), table
        assert same_rows(con, "articles", ["article_id", "url_key"], "restored", "current")  # filled by the migration
        assert con.execute("SELECT max(version) FROM schema_migrations").fetchall() == [(latest_version(),)]
    finally:
        con.close()
