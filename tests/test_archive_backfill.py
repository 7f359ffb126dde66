"""Backfill over the raw archive: a real fetch fills the archive, the backfill flow re-reads it per fetch day."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from flows.deployments import BackfillRequest
from flows.fetch import FetchSettings, fetch_sources
from flows.fetcher import FetchConfig
from flows.pipeline import IngestSettings
from tests import http_fixtures as hf
from tests.conftest import query as q

pytestmark = pytest.mark.slow

FAST = dict(timeout=2.0, retries=1, backoff=0.02, delay=0.0, per_host_concurrency=4, workers=4,
            allow_private_hosts=("127.0.0.1",))

# A per-source rule that takes every line of the coast's pages: with it, they are rejected
# (no_body); the backfill runs with the current (default) rules, under which they parse.
STRICT_RULES = """
[[source."coast".rule]]
name = "coast_everything"
kind = "promo"
pattern = ".*"
"""



def test_backfill_over_the_raw_archive_is_per_fetch_day_idempotent_and_reparses_with_reprocess(prefect_backend, tmp_path: Path):
    from flows.backfill import backfill

    db = tmp_path / "news.duckdb"
    with hf.NewsSite() as site:
        gazette = [f"/gazette/a{i}.html" for i in range(3)]
        coast = ["/coast/b0.html", "/coast/b1.html"]
        site.routes.update({
            "/robots.txt": hf.static("User-agent: *\n", "text/plain"),
            "/gazette.rss": hf.static(hf.rss(gazette), "application/rss+xml"),
            "/coast.rss": hf.static(hf.rss(coast, title="Coast Post"), "application/rss+xml"),
            **{p: hf.static(hf.article_html(f"Gazette story {i}", 10 + i)) for i, p in enumerate(gazette)},
            **{p: hf.static(hf.article_html(f"Coast story {i}", 30 + i)) for i, p in enumerate(coast)},
        })
        sources = tmp_path / "sources.toml"
        sources.write_text(f'[[source]]\nname = "gazette"\nurl = "{site.url("/gazette.rss")}"\n\n'
                           f'[[source]]\nname = "coast"\nurl = "{site.url("/coast.rss")}"\n')
        rules = tmp_path / "strict.toml"
        rules.write_text(STRICT_RULES)
        fetched = fetch_sources(FetchSettings(sources, IngestSettings(db_path=db, workers=0, rules_path=rules),
                                              FetchConfig(**FAST)))
    assert (fetched.ingest.new, fetched.ingest.rejected) == (3, 2)
    assert q(db, "SELECT count(*) FROM raw_archive WHERE kind = 'page'") == [(5,)]
    assert q(db, "SELECT DISTINCT reason FROM rejected_inputs") == [("no_body",)]
    [(day,)] = q(db, "SELECT DISTINCT (fetched_at AT TIME ZONE 'UTC')::DATE FROM raw_archive")

    request = BackfillRequest(from_raw_archive=True, start_date=day - timedelta(days=1), end_date=day, db_path=str(db))

    def rows(result):
        return [(r["day"], r["status"], r["read"], r["new"], r["rejected"]) for r in result]

    before = q(db, "SELECT article_id, cluster_id FROM articles ORDER BY 1")
    # every archived page is an article or a rejection already: nothing to do
    assert rows(backfill(request)) == [((day - timedelta(days=1)).isoformat(), "missing", 0, 0, 0),
                                       (day.isoformat(), "already ingested", 0, 0, 0)]
    assert q(db, "SELECT article_id, cluster_id FROM articles ORDER BY 1") == before
    # reprocess: every page of the day parsed again with the current rules; the coast's pages now parse
    forced = request.model_copy(update={"reprocess": True})
    assert rows(backfill(forced))[1] == (day.isoformat(), "ok", 5, 2, 0)
    assert q(db, "SELECT source, count(*) FROM articles GROUP BY 1 ORDER BY 1") == [("coast", 2), ("gazette", 3)]
    # and again: the same pages, the same ids, nothing added
    assert rows(backfill(forced))[1] == (day.isoformat(), "ok", 5, 0, 0)
    assert rows(backfill(request))[1] == (day.isoformat(), "already ingested", 0, 0, 0)
    assert q(db, "SELECT count(*), count(DISTINCT article_id) FROM articles") == [(5, 5)]
    # the gazette's articles kept their ids and stories; the runs are recorded against the archive day
    assert {r for r in q(db, "SELECT article_id, cluster_id FROM articles")} >= set(before)
    assert q(db, f"SELECT count(*) FROM ingest_runs WHERE list_contains(paths, 'raw_archive:{day.isoformat()}')") == [(2,)]
