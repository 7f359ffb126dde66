"""Articles of several megabytes (under the size cap, so not rejected) in one run.

The writer works in a fixed DuckDB budget. A batch is one transaction, so a batch of a few
multi-megabyte articles used to fail: DuckDB ran out of memory in the batch INSERT, or in the
checkpoint that the *next* commit (the run's finish) started outside the batch's room, which
also invalidates the database. The fix: batches are cut by raw bytes as well as by count
(`flows.pipeline.BATCH_BYTES`), inserts are cut by text (`storage.batch.INSERT_TEXT_BYTES`),
and each batch is checkpointed inside the room it was given.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.pipeline import batches
from parsers.article import Rejection
from storage.batch import _by_text_bytes, record_rejections, write_batch
from storage.records import BatchWrite
from storage.store import open_store
from tests.conftest import dump, prose, query
from tests.test_storage import article

runner = CliRunner()


class _Raw:
    """Stands in for a raw article: `batches` only looks at the payload's size."""

    def __init__(self, n: int):
        self.payload = b"x" * n


def test_batches_end_at_the_byte_limit_as_well_as_the_count():
    items = [_Raw(n) for n in (10, 10, 30, 5, 5, 5, 50, 1)]
    got = [[len(i.payload) for i in chunk] for chunk in batches(items, size=3, max_bytes=40)]
    # ramp-up batches are at most 3 (size) here; a batch ends at 40 bytes or 3 items
    assert got == [[10, 10, 30], [5, 5, 5], [50], [1]]
    # an item larger than the limit is a batch of its own, never dropped
    assert [[len(i.payload) for i in c] for c in batches([_Raw(100), _Raw(1)], size=10, max_bytes=40)] == [[100], [1]]


def test_batches_keep_every_item_in_order():
    items = [_Raw(n) for n in range(1, 60)]
    flat = [i for chunk in batches(items, size=7, max_bytes=100) for i in chunk]
    assert flat == items


def test_inserts_are_cut_by_text_size():
    class A:
        def __init__(self, n: int):
            self.body = "y" * n

    arts = [A(n) for n in (3, 3, 3, 9, 1, 1)]
    assert [[len(a.body) for a in part] for part in _by_text_bytes(arts, 6)] == [[3, 3], [3], [9], [1, 1]]


@pytest.mark.slow
def test_a_run_of_multi_megabyte_articles_completes_in_a_small_budget(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("NEWSDEDUP_DUCKDB_MEMORY", "48MB")
    inbox = tmp_path / "inbox" / "bigpaper"
    inbox.mkdir(parents=True)
    sizes = {}
    for i in range(12):
        # ~1.6 MB each, unrelated to one another; 12 of them are ~19 MB of text in one run
        body = prose(1000 + i, paragraphs=5000, words=45)
        data = dump(f"Long report number {i} on the harbour inquiry", body)
        (inbox / f"report-{i:02d}.txt").write_bytes(data)
        sizes[f"report-{i:02d}.txt"] = len(data)
    db = tmp_path / "news.duckdb"

    result = runner.invoke(app, ["ingest", str(inbox.parent), "--db", str(db), "-q"])

    assert result.exit_code == 0, result.output
    rows = query(db, "SELECT source_uri, length(body) FROM articles ORDER BY source_uri")
    assert [Path(uri).name for uri, _ in rows] == sorted(sizes)
    assert all(n > 1_500_000 for _, n in rows)
    assert query(db, "SELECT status, n_new FROM ingest_runs") == [("ok", 12)]
    # the store is whole: a second run adds nothing and succeeds
    again = runner.invoke(app, ["ingest", str(inbox.parent), "--db", str(db), "-q"])
    assert again.exit_code == 0, again.output
    assert query(db, "SELECT count(*) FROM articles") == [(12,)]


def test_a_batch_of_huge_bodies_leaves_nothing_for_the_next_commit_to_checkpoint(tmp_path: Path, monkeypatch):
    """The commit after a batch (the run's finish, a rejection) must not inherit its checkpoint:
    outside the batch's room, that checkpoint ran out of memory and invalidated the store
    ("failed to pin block of size 4.2 MiB (44.1 MiB/45.5 MiB used)" before the fix)."""
    monkeypatch.setenv("NEWSDEDUP_DUCKDB_MEMORY", "48MB")
    db = tmp_path / "news.duckdb"
    text = "\n\n".join(prose(7, paragraphs=13_000))  # ~4.3 MB of news-like prose
    huge = []
    for seq in range(1, 13):
        a = article(seq)
        a.body = f"{seq} {text[seq:]} {seq}"
        huge.append(a)
    con = open_store(db)
    try:
        for first in range(0, 12, 4):  # three batches: DuckDB's own checkpoints come every other commit
            write_batch(con, BatchWrite(articles=huge[first:first + 4], links=[], rejections=[], boilerplate_counts=[]), "r1")
        record_rejections(con, [Rejection("wire", "bad.bin", "binary", "NUL bytes", "ff" * 32)], "r1")
    finally:
        con.close()
    assert query(db, "SELECT count(*), min(length(body)) > 4_000_000 FROM articles") == [(12, True)]
    assert query(db, "SELECT reason FROM rejected_inputs") == [("binary",)]
