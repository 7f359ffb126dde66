"""One article under two URLs is one story: the canonical-URL key joins the exact-duplicate keys."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
from typer.testing import CliRunner

from flows.cli import app
from parsers.canonical_url import url_key
from tests.conftest import prose


def test_url_key_ignores_what_does_not_name_another_article():
    a = url_key("https://www.Example.com/news/harbour-strike/?utm_source=rss&utm_medium=feed#comments")
    assert a == url_key("http://example.com/news/harbour-strike") == "example.com/news/harbour-strike"
    assert url_key("https://example.com/story?id=7&fbclid=x") == "example.com/story?id=7"
    assert url_key("https://example.com/story?id=7") != url_key("https://example.com/story?id=8")
    assert url_key("file:///etc/passwd") is None and url_key("not a url") is None and url_key(None) is None


def test_same_canonical_url_links_different_texts(tmp_path: Path):
    body = prose(3, paragraphs=8)
    rewritten = prose(4, paragraphs=8)  # unrelated words: Jaccard ~ 0, only the URL ties them
    export = tmp_path / "feed" / "export.jsonl"
    export.parent.mkdir()
    export.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {"title": "Harbour strike", "body": "\n\n".join(body), "url": "https://www.example.com/news/strike/"},
                {"title": "Harbour strike (updated)", "body": "\n\n".join(rewritten), "url": "https://example.com/news/strike?utm_source=x"},
                {"title": "Other story", "body": "\n\n".join(prose(5)), "url": "https://example.com/news/other"},
            ]
        )
        + "\n"
    )
    db = tmp_path / "news.duckdb"
    result = CliRunner().invoke(app, ["ingest", str(export), "--db", str(db), "-q", "--workers", "0"])
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*), count(DISTINCT cluster_id) FROM articles").fetchall() == [(3, 2)]
        assert con.execute("SELECT kind, similarity FROM duplicate_links").fetchall() == [("exact", None)]
        assert con.execute("SELECT count(DISTINCT url_key) FROM articles").fetchall() == [(2,)]
    finally:
        con.close()
