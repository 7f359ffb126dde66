"""Candidates stored by the last batches are verified from held shingle sets, not refetched:
the database must be exactly what fetching every body gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from flows import batch_linking, pipeline
from flows.batch_linking import RecentShingles
from flows.pipeline import IngestSettings, ingest
from tests.conftest import query, synthetic_dumps


@pytest.fixture(scope="module")
def dumps(tmp_path_factory) -> Path:
    return synthetic_dumps(tmp_path_factory.mktemp("dumps") / "d", n=600, seed=5)


def _contents(db: Path) -> dict[str, list]:
    return {
        table: sorted(query(db, sql))
        for table, sql in {
            "articles": "SELECT article_id, body, text_hash, cluster_id, is_canonical FROM articles",
            "links": "SELECT article_id, duplicate_of, kind, similarity FROM duplicate_links",
            "removed": "SELECT article_id, line, rule, evidence FROM removed_lines",
        }.items()
    }


def test_held_shingles_give_the_same_database_as_fetching(dumps: Path, tmp_path: Path, monkeypatch):
    fetched_bodies = []
    real_fetch = batch_linking.store_articles.fetch_for_verification

    def counting_fetch(con, ids, without_body=()):
        fetched_bodies.extend(set(ids) - set(without_body))
        return real_fetch(con, ids, without_body=without_body)

    monkeypatch.setattr(batch_linking.store_articles, "fetch_for_verification", counting_fetch)
    settings = dict(source="wire", batch_size=100, workers=0)

    ingest([str(dumps)], IngestSettings(db_path=tmp_path / "held.duckdb", **settings))
    with_cache = len(fetched_bodies)
    fetched_bodies.clear()
    monkeypatch.setattr(pipeline, "RecentShingles", lambda: RecentShingles(0))
    ingest([str(dumps)], IngestSettings(db_path=tmp_path / "fetched.duckdb", **settings))
    without_cache = len(fetched_bodies)

    assert without_cache > 0 and with_cache < without_cache / 2  # the held sets served most candidates
    held, fetched = _contents(tmp_path / "held.duckdb"), _contents(tmp_path / "fetched.duckdb")
    assert any(kind == "near" for _, _, kind, _ in held["links"])
    for table in held:
        assert held[table] == fetched[table], table


def test_recent_shingles_are_bounded_and_forget_rewritten_articles():
    recent = RecentShingles(2)
    a, b, c = (np.array([i], dtype=np.uint64) for i in range(3))
    recent.remember({"a": a}, rewritten=[])
    recent.remember({"b": b}, rewritten=[])
    assert recent.get("a") is a and recent.get("b") is b
    recent.remember({"c": c}, rewritten=["b"])  # "a" ages out, "b"'s stored body changed
    assert recent.get("a") is None and recent.get("b") is None and recent.get("c") is c
    off = RecentShingles(0)
    off.remember({"a": a}, rewritten=[])
    assert off.get("a") is None


PROSE = [
    "The city council voted on Tuesday to expand the harbour ferry service to three new stops along the eastern shore, "
    "ending a two-year dispute over the cost of the new piers and the route through the shipping channel.",
    "Supporters said the ferries would take thousands of cars off the coastal road each morning, while opponents argued "
    "that the money should have gone to the bus network that already serves most of the same neighbourhoods.",
    "The first of the new boats is expected to enter service next spring, after sea trials and crew training, and the "
    "council said fares would stay at the current level for at least the first full year of operation.",
    "Residents of the eastern shore have campaigned for a ferry stop since the old pier was closed more than a decade "
    "ago, and several of them attended the meeting to watch the final vote on the long-delayed plan.",
]
OTHER = [
    "A regional orchestra announced a season of free outdoor concerts in the botanical gardens, with performances every "
    "second Sunday from June until the end of September and a closing night of film music in the park.",
    "Organisers said the concerts were paid for by a grant from a local foundation and that seating would be first come, "
    "first served, with extra space set aside on the lawn for families bringing their own chairs and blankets.",
]
FURNITURE = "Follow the Harbour Gazette on Mastodon for more"


def test_a_held_article_rewritten_by_learned_boilerplate_is_verified_on_its_new_body(tmp_path: Path, monkeypatch):
    """A is stored with a short line; the next batch makes that line the source's boilerplate
    (A's stored body loses it); then B, A's copy without the line, must be verified against A's
    new body, as a fetch would: same similarity with and without held sets."""
    drop = tmp_path / "gazette"
    drop.mkdir()
    (drop / "01_a.txt").write_text("Ferry plan approved\n\n" + "\n\n".join([PROSE[0], FURNITURE, *PROSE[1:]]) + "\n")
    (drop / "02_c.txt").write_text("Free concerts in the gardens\n\n" + "\n\n".join([OTHER[0], FURNITURE, OTHER[1]]) + "\n")
    edited = PROSE[3].replace("several of them attended", "many of them came to")
    (drop / "03_b.txt").write_text("Council backs ferry expansion\n\n" + "\n\n".join([*PROSE[:3], edited]) + "\n")

    def run(db: Path, recent_batches: int) -> list:
        monkeypatch.setattr(pipeline, "RecentShingles", lambda: RecentShingles(recent_batches))
        ingest([str(drop)], IngestSettings(db_path=db, source="gazette", batch_size=1, workers=0, learn_min_stories=2))
        [(body_a,)] = query(db, "SELECT body FROM articles WHERE source_uri = '01_a.txt'")
        assert FURNITURE not in body_a  # learned with C, stripped from the stored A
        return query(db, "SELECT a.source_uri, d.kind, d.similarity FROM duplicate_links d JOIN articles a USING (article_id)")

    held, fetched = run(tmp_path / "held.duckdb", 2), run(tmp_path / "fetched.duckdb", 0)
    assert [(uri, kind) for uri, kind, _ in fetched] == [("03_b.txt", "near")]
    assert held == fetched
