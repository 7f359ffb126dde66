"""A writer's lookup that does not fit in its DuckDB budget raises the budget and runs again."""

from __future__ import annotations

import logging

import duckdb
import pytest

from storage.articles import exact_matches
from storage.batch import write_batch
from storage.lookup_memory import with_lookup_headroom
from storage.records import BatchWrite
from storage.store import memory_budget_bytes, open_store, set_memory_limit
from tests.test_storage import article

TIGHT = "1MB"  # far below what a 2,000-key exact-hash lookup needs (8 MB: its hash join and
# aggregate allocate 256 KiB blocks per partition)


@pytest.fixture()
def store(tmp_path, monkeypatch):
    monkeypatch.delenv("NEWSDEDUP_DUCKDB_MEMORY", raising=False)
    con = open_store(tmp_path / "news.duckdb")
    write_batch(con, BatchWrite(articles=[article(seq) for seq in range(1, 3001)], links=[], rejections=[],
                                boilerplate_counts=[]), "r1")
    con.execute("CHECKPOINT").fetchall()  # written rows stay pinned until then; a 1 MB limit could not be set
    yield con
    con.close()


HASHES = [f"t{seq}" for seq in range(1, 4001, 2)]  # 1,500 stored, 500 not


def test_a_lookup_out_of_memory_raises_the_budget_and_answers(store, caplog):
    expected = exact_matches(store, HASHES)
    set_memory_limit(store, TIGHT)
    with pytest.raises(duckdb.OutOfMemoryException):  # the unwrapped lookup does not fit
        exact_matches.__wrapped__(store, HASHES)

    with caplog.at_level(logging.WARNING, logger="newsdedup"):
        assert exact_matches(store, HASHES) == expected
    assert len(expected) == 1500
    raised = memory_budget_bytes(store)
    assert raised > 1_000_000
    assert "raised it to" in caplog.text and "exact_matches" in caplog.text
    # kept for the rest of the run: the next lookup fits without another raise
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="newsdedup"):
        exact_matches(store, HASHES)
    assert memory_budget_bytes(store) == raised and "raised it to" not in caplog.text


def test_a_budget_the_user_fixed_is_never_raised(store, monkeypatch):
    monkeypatch.setenv("NEWSDEDUP_DUCKDB_MEMORY", TIGHT)
    set_memory_limit(store, TIGHT)
    with pytest.raises(duckdb.OutOfMemoryException):
        exact_matches(store, HASHES)
    assert memory_budget_bytes(store) == 1_000_000


def test_other_errors_pass_through_untouched(store):
    @with_lookup_headroom
    def broken(con):
        return con.execute("SELECT * FROM no_such_table").fetchall()

    before = memory_budget_bytes(store)
    with pytest.raises(duckdb.CatalogException):
        broken(store)
    assert memory_budget_bytes(store) == before
