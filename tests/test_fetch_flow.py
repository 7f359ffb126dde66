"""`newsdedup fetch` end to end: a real 127.0.0.1 site with feeds, pages and faults -> DuckDB."""

from __future__ import annotations

import re

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.fetch import FetchSettings, fetch_sources
from flows.fetcher import FetchConfig
from flows.pipeline import IngestSettings
from tests import http_fixtures as hf
from tests.conftest import query as q

FAST = dict(timeout=0.5, retries=1, backoff=0.02, max_retry_after=1.0, delay=0.0, per_host_concurrency=4,
            workers=6, max_bytes=1_000_000, allow_private_hosts=("127.0.0.1",))

FAULTS = {
    "/f/flaky": "fetched",  # 500 then 200
    "/f/ratelimited": "fetched",  # 429 Retry-After: 1, then 200
    "/f/latin": "fetched",  # declares iso-8859-1, is UTF-8
    "/f/slow": "timeout",
    "/f/reset": "connection_error",
    "/f/loop-a": "redirect_loop",
    "/f/bomb": "too_large",
    "/f/huge": "too_large",
    "/f/image.png": "bad_content_type",
    "/private/secret.html": "robots_disallowed",
    "/f/to-metadata": "unsafe_url",
    "/f/missing": "http_error",
}


@pytest.fixture(scope="module")
def site():
    with hf.NewsSite() as s:
        a = [f"/gazette/a{i}.html" for i in range(3)]
        s.routes.update({
            "/robots.txt": hf.static("User-agent: *\nDisallow: /private/\n", "text/plain"),
            "/gazette.rss": hf.conditional(hf.rss(a), "application/rss+xml", etag='"g1"'),
            "/coast.atom": hf.conditional(hf.atom(["/coast/b0.html", "/coast/b1.html"]), "application/atom+xml",
                                          last_modified="Mon, 24 Nov 2025 12:00:00 GMT"),
            "/metro-sitemap.xml": hf.static(hf.news_sitemap(["/metro/c0.html", a[0]]), "application/xml"),
            "/faults.rss": hf.static(hf.rss([*FAULTS, "file:///etc/passwd"]), "application/rss+xml"),
            "/bomb.rss": hf.static(hf.BILLION_LAUGHS, "application/rss+xml"),
            "/broken.rss": hf.static("this is not a feed {", "application/rss+xml"),
            **{p: hf.static(hf.article_html(f"Gazette story {i}", 10 + i)) for i, p in enumerate(a)},
            # the same story as a0 under another outlet and URL: an exact duplicate
            "/coast/b0.html": hf.static(hf.article_html("Gazette story 0", 10)),
            "/coast/b1.html": hf.static(hf.article_html("Coast story", 20)),
            "/metro/c0.html": hf.static(hf.article_html("Metro story", 21)),
            "/f/flaky": hf.fail_first(1, 500, hf.article_html("Flaky story", 22)),
            "/f/ratelimited": hf.fail_first(1, 429, hf.article_html("Rate story", 23), {"Retry-After": "1"}),
            "/f/latin": hf.static(hf.article_html("Café in Zürich", 24, charset="iso-8859-1").encode("utf-8"),
                                  "text/html; charset=iso-8859-1"),
            "/f/slow": hf.stall,
            "/f/reset": hf.reset,
            "/f/loop-a": hf.redirect("/f/loop-b"),
            "/f/loop-b": hf.redirect("/f/loop-a"),
            "/f/bomb": hf.gzip_bomb_route,
            "/f/huge": hf.endless(100 * 1024 * 1024),
            "/f/image.png": hf.static(b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png"),
            "/private/secret.html": hf.static(hf.article_html("Secret", 25)),
            "/f/to-metadata": hf.redirect("http://169.254.169.254/latest/meta-data/"),
        })
        yield s


def sources_file(tmp_path: Path, site) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(
        f"""
[[source]]
name = "gazette"
url = "{site.url('/gazette.rss')}"

[[source]]
name = "coast"
kind = "feed"
url = "{site.url('/coast.atom')}"

[[source]]
name = "metro"
kind = "sitemap"
url = "{site.url('/metro-sitemap.xml')}"

[[source]]
name = "faults"
url = "{site.url('/faults.rss')}"

[[source]]
name = "bomb"
url = "{site.url('/bomb.rss')}"

[[source]]
name = "broken"
url = "{site.url('/broken.rss')}"
"""
    )
    return path


def settings(tmp_path: Path, site) -> FetchSettings:
    return FetchSettings(sources_file(tmp_path, site), IngestSettings(db_path=tmp_path / "news.duckdb", workers=0),
                         FetchConfig(**FAST))



@pytest.mark.slow
def test_fetch_run_ingests_pages_records_every_fault_and_goes_conditional(site, tmp_path):
    s = settings(tmp_path, site)
    db = s.ingest.db_path
    first = fetch_sources(s)
    run = first.ingest

    articles = dict(q(db, "SELECT source_uri, source FROM articles"))
    for path in ["/gazette/a0.html", "/gazette/a1.html", "/gazette/a2.html", "/coast/b0.html", "/coast/b1.html",
                 "/metro/c0.html", "/f/flaky", "/f/ratelimited", "/f/latin"]:
        assert site.url(path) in articles, path
    # a0 listed by the sitemap as well is fetched once (the gazette claimed it first)
    assert site.hits["/gazette/a0.html"] == 1 and articles[site.url("/gazette/a0.html")] == "gazette"
    # the copy under another URL is an exact duplicate of the gazette story
    assert q(db, f"SELECT kind FROM duplicate_links JOIN articles USING (article_id) WHERE source_uri = '{site.url('/coast/b0.html')}'") == [("exact",)]
    # the page that declares Latin-1 but is UTF-8 keeps its accents
    assert q(db, f"SELECT title FROM articles WHERE source_uri = '{site.url('/f/latin')}'") == [("Café in Zürich",)]

    reasons = dict(q(db, "SELECT source_uri, reason FROM rejected_inputs"))
    for path, want in FAULTS.items():
        if want != "fetched":
            assert reasons.get(site.url(path)) == want, path
    assert [r for u, r in reasons.items() if u.startswith("file:")] == ["unsafe_url"]
    assert reasons[site.url("/bomb.rss")] == "hostile"
    assert reasons[site.url("/broken.rss")] == "malformed_feed"
    assert site.hits["/private/secret.html"] == 0
    assert run.status == "partial" and run.new == 9

    # every fetched body is archived, compressed, with its headers; feed state kept
    assert q(db, "SELECT kind, count(*) FROM raw_archive GROUP BY kind ORDER BY kind") == [
        ("feed", 5), ("page", 9), ("sitemap", 1)]
    assert q(db, f"SELECT etag FROM feed_state WHERE url = '{site.url('/gazette.rss')}'") == [('"g1"',)]
    hosts = {row["host"]: row for row in first.hosts}
    host = hosts[f"127.0.0.1:{site.port}"]
    assert host["fetched"] >= 15 and host["retried"] >= 4 and host["robots_blocked"] == 1 and host["failed"] == 8

    # second run: conditional requests, 304s counted, nothing stored twice, faults retried
    second = fetch_sources(s)
    assert site.headers_of("/gazette.rss")[-1]["if-none-match"] == '"g1"'
    assert site.headers_of("/coast.atom")[-1]["if-modified-since"] == "Mon, 24 Nov 2025 12:00:00 GMT"
    again = {row["host"]: row for row in second.hosts}[f"127.0.0.1:{site.port}"]
    assert again["not_modified"] == 2
    assert second.ingest.new == 0 and site.hits["/gazette/a1.html"] == 1
    # the faults feed had transient failures, so it is read in full and only those are tried again
    assert site.hits["/f/slow"] == 4 and site.hits["/f/flaky"] == 2 and site.hits["/f/image.png"] == 2
    assert q(db, "SELECT count(*) FROM raw_archive WHERE kind = 'page'") == [(9,)]
    assert q(db, f"SELECT n_not_modified FROM feed_state WHERE url = '{site.url('/gazette.rss')}'") == [(1,)]


def test_archived_but_unstored_pages_are_ingested_by_the_next_run(site, tmp_path):
    from parsers.article import content_hash
    from storage.raw_archive import ArchivedBody, store_bodies
    from storage.store import open_store

    s = settings(tmp_path, site)
    only = tmp_path / "one.toml"
    only.write_text(f'[[source]]\nname = "gazette"\nurl = "{site.url("/gazette.rss")}"\n')
    s = FetchSettings(only, s.ingest, s.fetch)
    body = hf.article_html("Archived before a crash", 30).encode()
    con = open_store(s.ingest.db_path)
    from datetime import UTC, datetime

    store_bodies(con, [ArchivedBody(site.url("/gazette/a1.html"), site.url("/gazette/a1.html"), "gazette", "page", 200, {},
                                    datetime.now(UTC), content_hash(body), body)], "crashed-run")
    con.close()
    before = site.hits["/gazette/a1.html"]
    summary = fetch_sources(s)
    assert summary.recovered == 1
    assert site.hits["/gazette/a1.html"] == before  # known from the archive: not fetched again
    titles = {t for (t,) in q(s.ingest.db_path, "SELECT title FROM articles")}
    assert "Archived before a crash" in titles and "Gazette story 0" in titles


def test_cli_fetch_prints_the_host_table_and_bad_sources_are_usage_errors(site, tmp_path):
    from flows.cli import app

    only = tmp_path / "one.toml"
    only.write_text(f'[[source]]\nname = "coast"\nurl = "{site.url("/coast.atom")}"\n')
    db = tmp_path / "cli.duckdb"
    result = CliRunner().invoke(app, ["fetch", "--sources", str(only), "--db", str(db), "--allow-private-host", "127.0.0.1",
                                      "--delay", "0", "-q"])
    assert result.exit_code == 0, result.output
    assert "127.0.0" in result.output and "robots" in result.output and "3 bodies added to the raw archive" in result.output
    assert q(db, "SELECT count(*) FROM articles") == [(2,)]
    bad = tmp_path / "bad.toml"
    bad.write_text("[[source]]\nname='x'\n")
    result = CliRunner().invoke(app, ["fetch", "--sources", str(bad), "--db", str(db)])
    assert result.exit_code == 2 and "'url' is required" in result.output


# ---------------------------------------------------------------------------------------
# Saved pages from files: .html, WARC, JSONL with an `html` field


def write_warc(path: Path, pages: list[tuple[str, str, bytes]], gz: bool = True) -> None:
    """A WARC with a request and a response record per page (url, content type, body)."""
    from io import BytesIO

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=gz)
        for url, ctype, body in pages:
            req = writer.create_warc_record(url, "request", payload=BytesIO(b"GET / HTTP/1.1\r\n\r\n"))
            writer.write_record(req)
            headers = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=BytesIO(body), http_headers=headers))


def test_html_warc_and_jsonl_html_inputs_are_ingested_as_pages(tmp_path):
    import json

    from flows.sources import iter_inputs

    drop = tmp_path / "drop" / "gazette"
    drop.mkdir(parents=True)
    (drop / "story.html").write_text(hf.article_html("Saved page story", 40))
    write_warc(drop / "crawl.warc.gz", [
        ("https://gazette.example.com/warc-story", "text/html; charset=utf-8", hf.article_html("WARC story", 41).encode()),
        ("https://gazette.example.com/logo.png", "image/png", b"\x89PNG"),
    ])
    (drop / "export.jsonl").write_text(
        json.dumps({"url": "https://gazette.example.com/j", "html": hf.article_html("JSONL page story", 42),
                    "published": "2025-11-24T10:00:00Z"}) + "\n"
        + json.dumps({"title": "Plain record", "body": "Text of a plain record that stays a record."}) + "\n"
    )
    (drop / "broken.warc").write_bytes(b"WARC/1.0\r\nWARC-Type: response\r\nnot really")
    items = list(iter_inputs([str(tmp_path / "drop")]))
    kinds = sorted((getattr(i, "kind", "rejection"), getattr(i, "uri", getattr(i, "source_uri", ""))) for i in items)
    assert kinds == [
        ("html", "https://gazette.example.com/j"),
        ("html", "https://gazette.example.com/warc-story"),
        ("html", "story.html"),
        ("record", "export.jsonl#L2"),
        ("rejection", "broken.warc"),
    ]
    warc = next(i for i in items if getattr(i, "uri", "") == "https://gazette.example.com/warc-story")
    assert warc.fields == {"url": warc.uri, "final_url": warc.uri} and warc.source == "gazette"

    from flows.cli import app

    db = tmp_path / "pages.duckdb"
    result = CliRunner().invoke(app, ["ingest", str(tmp_path / "drop"), "--db", str(db), "-q", "--workers", "0"])
    assert result.exit_code == 3, result.output  # the broken WARC is rejected
    rows = dict(q(db, "SELECT title, url FROM articles"))
    assert rows["WARC story"] == "https://gazette.example.com/warc-story"
    assert rows["JSONL page story"] == "https://gazette.example.com/j" and "Saved page story" in rows
    assert q(db, "SELECT published_at IS NOT NULL FROM articles WHERE title = 'JSONL page story'") == [(True,)]
    assert q(db, "SELECT reason FROM rejected_inputs") == [("bad_archive",)]


def test_reprocess_reparses_the_archive_offline_and_reports_changes(site, tmp_path):
    from flows.cli import app

    only = tmp_path / "one.toml"
    only.write_text(f'[[source]]\nname = "gazette"\nurl = "{site.url("/gazette.rss")}"\n'
                    f'[[source]]\nname = "coast"\nurl = "{site.url("/coast.atom")}"\n')
    db = tmp_path / "web.duckdb"
    runner = CliRunner()
    assert runner.invoke(app, ["fetch", "--sources", str(only), "--db", str(db), "--allow-private-host", "127.0.0.1",
                               "--delay", "0", "-q"]).exit_code == 0
    requests = len(site.requests)
    # same rules: same articles, nothing changed
    same = tmp_path / "same.duckdb"
    result = runner.invoke(app, ["reprocess", "--db", str(db), "--into", str(same), "-q"])
    assert result.exit_code == 0, result.output
    assert q(same, "SELECT article_id, cluster_id, body FROM articles ORDER BY 1") == q(db, "SELECT article_id, cluster_id, body FROM articles ORDER BY 1")
    assert "bodies changed" in result.output and "merged:" not in result.output
    # the same --into again resumes it: nothing new, and the report says where the articles are
    again = runner.invoke(app, ["reprocess", "--db", str(db), "--into", str(same), "-q"])
    assert again.exit_code == 0, again.output
    n = q(same, "SELECT count(*) FROM articles")[0][0]
    assert n and re.search(rf"already in the new store \(an earlier reprocess into it\)\W*{n}\b", again.output)
    # a new rule removes the first paragraph of one story: its body changes, offline
    rules = tmp_path / "rules.toml"
    first_para = q(db, f"SELECT body FROM articles WHERE source_uri = '{site.url('/gazette/a1.html')}'")[0][0].split("\n\n")[0]
    rules.write_text(f'[[rule]]\nname = "test_drop"\nkind = "promo"\npattern = "^{first_para[:30]}.*"\n')
    changed = tmp_path / "changed.duckdb"
    result = runner.invoke(app, ["reprocess", "--db", str(db), "--into", str(changed), "--rules", str(rules), "-q"])
    assert result.exit_code == 0, result.output
    assert f"body changed: " in result.output and site.url("/gazette/a1.html") in result.output.replace("\n", "")
    assert len(site.requests) == requests  # no network
    assert q(changed, "SELECT count(*) FROM raw_archive WHERE kind = 'page'") == [(5,)]
    result = runner.invoke(app, ["reprocess", "--db", str(db), "--into", str(db)])
    assert result.exit_code == 2


@pytest.mark.slow
def test_prefect_fetch_flow_publishes_per_host_counts(prefect_backend, site, tmp_path):
    from prefect.client.orchestration import get_client

    from flows.fetch import fetch

    only = tmp_path / "one.toml"
    only.write_text(f'[[source]]\nname = "coast"\nurl = "{site.url("/coast.atom")}"\n')
    result = fetch(str(only), db_path=str(tmp_path / "flow.duckdb"), allow_private_hosts=["127.0.0.1"], delay=0.0)
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts()
    assert result["new articles"] == 2 and result["status"] == "ok"
    table = next(a for a in artifacts if a.key == "fetch-hosts")
    assert f"127.0.0.1:{site.port}" in str(table.data) and "robots_blocked" in str(table.data)
