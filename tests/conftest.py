"""Shared fixtures: small, real dumps written to a temporary directory; the Prefect backends
(``tests/prefect_server.py``); reading a store; the generators under bench/."""

from __future__ import annotations

import importlib
import random
import shutil
import sys
from pathlib import Path
from types import ModuleType

import duckdb
import pytest

from tests.prefect_server import prefect_backend, prefect_server  # noqa: F401  (fixtures for every test module)

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "fixtures" / "seed_dump.txt"

_WORDS = (
    "minister council harbour vote budget river court school energy police market strike "
    "union farmers railway bridge hospital election mayor senate treaty border drought "
    "festival museum research vaccine factory exports tariff pension housing rents storm "
    "coast island village province capital airport tunnel station bank inflation workers "
    "teachers nurses judges officials protest report inquiry contract license reform plan"
).split()


def prose(seed: int, paragraphs: int = 10, words: int = 45) -> list[str]:
    """Deterministic news-like paragraphs; different seeds give unrelated text (Jaccard ~ 0)."""
    rng = random.Random(seed)
    out = []
    for _ in range(paragraphs):
        ws = [rng.choice(_WORDS) + (str(rng.randrange(100)) if rng.random() < 0.3 else "") for _ in range(words)]
        ws[0] = ws[0].capitalize()
        out.append(" ".join(ws) + ".")
    return out


def dump(title: str, paragraphs: list[str], extra_top: list[str] = (), extra_bottom: list[str] = ()) -> bytes:
    lines = [title, *extra_top, *paragraphs, *extra_bottom]
    return ("\n\n".join(lines) + "\n").encode("utf-8")


@pytest.fixture
def seed_bytes() -> bytes:
    return SEED.read_bytes()


@pytest.fixture
def dump_dir(tmp_path: Path, seed_bytes: bytes) -> Path:
    """A small drop directory: two outlets, an exact copy, an edited copy, an unrelated story, bad files."""
    root = tmp_path / "drop"
    (root / "breitbart").mkdir(parents=True)
    (root / "mirror").mkdir()
    (root / "bad").mkdir()
    (root / "breitbart" / "hamas.txt").write_bytes(seed_bytes)
    (root / "mirror" / "hamas-copy.txt").write_bytes(seed_bytes)
    text = seed_bytes.decode("utf-8")
    paras = [p for p in text.split("\n\n") if p.strip()]
    # syndicated edit: new headline, last body paragraph trimmed, a different credit and footer
    edited = ["Hamas pays Islamic State to move weapons into Gaza, sources say", "(AP Photo/Evan Vucci)", *paras[2:-2], "Join the discussion"]
    (root / "mirror" / "hamas-edit.txt").write_bytes(("\n\n".join(edited) + "\n").encode("utf-8"))
    (root / "mirror" / "council.txt").write_bytes(dump("Council approves harbour budget", prose(1)))
    (root / "bad" / "empty.txt").write_bytes(b"")
    (root / "bad" / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    return root


SAMPLES = ROOT / "samples"


def table_columns(con: duckdb.DuckDBPyConnection, schema: str = "main", catalog: str | None = None) -> dict[str, list[str]]:
    """{table: [column, ...]} in column order."""
    rows = con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE NOT internal AND schema_name = ? "
        "AND database_name = coalesce(?, current_database()) AND table_name IN "
        "(SELECT table_name FROM duckdb_tables() WHERE database_name = coalesce(?, current_database())) "
        "ORDER BY table_name, column_index",
        [schema, catalog, catalog],
    ).fetchall()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(table, []).append(column)
    return out


@pytest.fixture(scope="session")
def ingested_samples(tmp_path_factory) -> Path:
    """A current store filled by the real ingest of samples/ (articles, links, learned lines, rejections, urls)."""
    from flows.pipeline import IngestSettings, ingest

    db = tmp_path_factory.mktemp("current") / "news.duckdb"
    ingest([str(SAMPLES)], IngestSettings(db_path=db, workers=0))
    return db


def store_at_version(version: int, ingested: Path, path: Path) -> Path:
    """A store at schema `version` holding the ingested rows, in the columns that version has.

    The schema is built by the real migrations stopped at `version`; every row of the ingested
    store is copied into it (the columns later migrations added are left out, as an old
    newsdedup would have written them): a populated old file to upgrade.
    """
    from storage.migrations import apply_migrations

    con = duckdb.connect(str(path))
    assert apply_migrations(con, target_version=version) == list(range(1, version + 1))
    con.execute(f"ATTACH '{ingested}' AS src (READ_ONLY)").fetchall()
    for table, columns in table_columns(con).items():
        if table == "schema_migrations":
            continue
        cols = ", ".join(columns)
        con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM src.{table}").fetchall()
    con.execute("DETACH src").fetchall()
    con.close()
    return path


def same_rows(con: duckdb.DuckDBPyConnection, table: str, columns: list[str], a: str, b: str) -> bool:
    """True if `columns` of `table` hold the same multiset of rows in catalogs `a` and `b`."""
    cols = ", ".join(columns)
    diff = con.execute(
        f"SELECT count(*) FROM ((SELECT {cols} FROM {a}.{table} EXCEPT ALL SELECT {cols} FROM {b}.{table}) "
        f"UNION ALL (SELECT {cols} FROM {b}.{table} EXCEPT ALL SELECT {cols} FROM {a}.{table}))"
    ).fetchall()[0][0]
    return diff == 0


def query(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    """The rows of one query on a store, opened read-only and closed again."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def bench_module(name: str) -> ModuleType:
    """A module from bench/ (not a package: its scripts import each other by plain name)."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(ROOT / "bench"))


def synthetic_dumps(out: Path, n: int, seed: int) -> Path:
    """``n`` synthetic articles with near-duplicates (bench/synthetic.py) written under ``out``,
    without the generator's answer key."""
    synthetic = bench_module("synthetic")
    synthetic.generate(out, n, seed=seed)
    synthetic.truth_path(out).unlink()
    return out
