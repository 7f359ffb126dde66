"""A file that is not a usable newsdedup store gives one clear line and exit code 1, never a new empty database.

Every case runs every command that opens the store, through the real CLI, and checks that the
file's bytes and the folder's other files are unchanged.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from flows.cli import app
from storage.migrations import latest_version

runner = CliRunner()


def _truncated(store: Path, path: Path) -> None:
    shutil.copyfile(store, path)
    os.truncate(path, path.stat().st_size // 2)


def _damaged_header(store: Path, path: Path) -> None:
    shutil.copyfile(store, path)
    with open(path, "r+b") as f:  # the first metadata block after the three headers
        f.seek(3 * 4096 + 100)
        f.write(b"\xab" * 4096)


def _damaged_blocks(store: Path, path: Path) -> None:
    shutil.copyfile(store, path)
    block = 256 * 1024
    with open(path, "r+b") as f:  # every block after the first: the file opens, queries fail
        f.seek(3 * 4096 + block)
        f.write(b"\xab" * (path.stat().st_size - 3 * 4096 - block))


def _text(store: Path, path: Path) -> None:
    path.write_text("headline,body\nCouncil approves budget,The council voted...\n")


def _empty(store: Path, path: Path) -> None:
    path.write_bytes(b"")


def _sqlite(store: Path, path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE articles (id INTEGER, body TEXT)")
    con.commit()
    con.close()


def _parquet(store: Path, path: Path) -> None:
    con = duckdb.connect()
    con.execute(f"COPY (SELECT 1 AS article_id) TO '{path}' (FORMAT parquet)").fetchall()
    con.close()


def _foreign(store: Path, path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE orders (id INTEGER, total DOUBLE)").fetchall()
    con.execute("INSERT INTO orders VALUES (1, 9.5)").fetchall()
    con.close()


def _newer(store: Path, path: Path) -> None:
    shutil.copyfile(store, path)
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_migrations VALUES (?, 'from_the_future', now())", [latest_version() + 1]).fetchall()
    con.close()


def _directory(store: Path, path: Path) -> None:
    path.mkdir()


def _fifo(store: Path, path: Path) -> None:
    os.mkfifo(path)


CASES = {
    "truncated": (_truncated, "truncated"),
    "damaged_header": (_damaged_header, "damaged"),
    "damaged_blocks": (_damaged_blocks, "damaged"),
    "text": (_text, "is a text file"),
    "empty": (_empty, "is an empty file"),
    "sqlite": (_sqlite, "is an SQLite database"),
    "parquet": (_parquet, "is a Parquet file"),
    "foreign_duckdb": (_foreign, "not a newsdedup store"),
    "newer_schema": (_newer, "newer than this newsdedup"),
    "directory": (_directory, "is a directory"),
    "fifo": (_fifo, "not a regular file"),
}


def _commands(db: Path, tmp_path: Path, inputs: Path, story_id: str = "0000") -> dict[str, list[str]]:
    return {
        "ingest": ["ingest", str(inputs), "--db", str(db), "--workers", "0", "-q"],
        "sql": ["sql", "SELECT * FROM articles", "--db", str(db)],
        "stories": ["stories", "--db", str(db)],
        "story": ["story", story_id, "--db", str(db)],
        "export": ["export", str(tmp_path / "backup"), "--db", str(db)],
        "reprocess": ["reprocess", "--db", str(db), "--into", str(tmp_path / "reprocessed.duckdb"), "-q"],
    }


def _state(folder: Path) -> dict[str, str]:
    """Every file under `folder` with a digest of its bytes (lock files aside: see below)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.name.endswith(".lock"):
            continue
        out[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else p.stat().st_mode.__str__()
    return out


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    drop = tmp_path / "inputs" / "wire"
    drop.mkdir(parents=True)
    shutil.copyfile(Path(__file__).parent / "fixtures" / "seed_dump.txt", drop / "seed.txt")
    return drop.parent


@pytest.mark.parametrize("case", sorted(CASES))
def test_unusable_store_is_one_clear_line_and_untouched(case, ingested_samples, inputs, tmp_path):
    make, reason = CASES[case]
    where = tmp_path / "data"
    where.mkdir()
    db = where / "news.duckdb"
    make(ingested_samples, db)
    before = _state(where)
    con = duckdb.connect(str(ingested_samples), read_only=True)
    story_id = con.execute("SELECT cluster_id FROM stories ORDER BY size DESC, cluster_id LIMIT 1").fetchall()[0][0]
    con.close()
    for name, args in _commands(db, tmp_path, inputs, story_id).items():
        result = runner.invoke(app, args)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert result.exit_code == 1, (case, name, result.output)
        assert len(lines) == 1 and lines[0].startswith("error:"), (case, name, result.output)
        assert str(db) in lines[0] and reason in lines[0], (case, name, lines[0])
        # the file and everything beside it are as they were (a writer may leave its empty
        # lock file news.duckdb.lock once the file looked like DuckDB; it is not the store)
        assert _state(where) == before, (case, name)
        assert not (tmp_path / "backup").exists(), (case, name)
        if case != "damaged_blocks":  # there reprocess finds the damage only when it compares with the new store
            assert not (tmp_path / "reprocessed.duckdb").exists(), (case, name)


def test_missing_store_is_never_created_by_a_read(tmp_path, inputs):
    db = tmp_path / "data" / "news.duckdb"
    for name, args in _commands(db, tmp_path, inputs).items():
        if name == "ingest":
            continue
        result = runner.invoke(app, args)
        assert result.exit_code == 1, (name, result.output)
        assert f"no store at {db}" in result.output, (name, result.output)
        assert not (tmp_path / "data").exists(), name  # no file, no lock, not even the folder
        assert not (tmp_path / "backup").exists()
    created = runner.invoke(app, _commands(db, tmp_path, inputs)["ingest"])  # a writer creates it where nothing is
    assert created.exit_code == 0, created.output
    assert db.is_file()


def test_a_path_that_cannot_hold_a_store(tmp_path, inputs):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be\n")
    db = blocker / "news.duckdb"
    for name, args in _commands(db, tmp_path, inputs).items():
        result = runner.invoke(app, args)
        assert result.exit_code == 1 and str(db) in result.output and "Traceback" not in result.output, (name, result.output)
    assert blocker.read_text() == "a file where a folder should be\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_store(ingested_samples, tmp_path, inputs):
    db = tmp_path / "news.duckdb"
    shutil.copyfile(ingested_samples, db)
    db.chmod(0)
    try:
        for name, args in _commands(db, tmp_path, inputs).items():
            result = runner.invoke(app, args)
            assert result.exit_code == 1 and "cannot read" in result.output and str(db) in result.output, (name, result.output)
    finally:
        db.chmod(0o644)


def test_a_store_open_in_this_process_opens_again(tmp_path):
    """A second writer in the same process shares the first one's instance (DuckDB refuses to
    attach one file twice in a process); the read-only pre-check must not get in its way."""
    from storage.store import StoreError, open_store

    db = tmp_path / "news.duckdb"
    first = open_store(db)
    second = open_store(db)  # the same process, read-write again (scripts and tests do this)
    second.execute("INSERT INTO ingest_runs (run_id, status, started_at) VALUES ('r1', 'ok', now())").fetchall()
    assert first.execute("SELECT count(*) FROM ingest_runs").fetchall() == [(1,)]
    with pytest.raises(StoreError, match="already open in this process"):
        open_store(db, read_only=True)
    with pytest.raises(duckdb.Error, match="already attached"):
        duckdb.connect(str(db))  # DuckDB's own refusal, not a second, diverging instance
    first.close()
    third = open_store(db)  # attached afresh once the first writer is closed
    assert third.execute("SELECT count(*) FROM ingest_runs").fetchall() == [(1,)]
    third.close()


def test_duckdb_budget_is_fixed_for_a_writer_and_1gb_for_readers(tmp_path, monkeypatch):
    from storage.store import StoreError, memory_limit, open_store

    monkeypatch.delenv("NEWSDEDUP_DUCKDB_MEMORY", raising=False)
    assert memory_limit(writer=True) == "48MB"
    assert memory_limit(writer=True, keyed_articles=1_000_000) == "110MB"  # + 64 B per keyed article (before v10)
    assert memory_limit() == "1GB"
    db = tmp_path / "news.duckdb"
    con = open_store(db)
    assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == "45.7 MiB"
    con.close()
    monkeypatch.setenv("NEWSDEDUP_DUCKDB_MEMORY", "2GB")
    assert memory_limit(writer=True, keyed_articles=10) == "2GB"
    monkeypatch.setenv("NEWSDEDUP_DUCKDB_MEMORY", "lots")
    with pytest.raises(StoreError, match="not a size"):
        memory_limit(writer=True)
