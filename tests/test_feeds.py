"""Feeds, news sitemaps, URL lists and the sources file (pure parsing)."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime

import pytest

from parsers.article import Rejected
from parsers.feeds import load_sources, parse_feed, parse_sitemap, parse_source_document, parse_sources, parse_url_list
from tests import http_fixtures as hf

BASE = "https://news.example.com/feeds/main.xml"


def test_rss_entries_resolve_links_and_dates():
    entries = parse_feed(hf.rss(["/a.html", "https://other.example.com/b.html#top", "/a.html"]).encode(), BASE)
    assert [e.url for e in entries] == ["https://news.example.com/a.html", "https://other.example.com/b.html"]
    assert entries[0].published == datetime(2025, 11, 24, 10, 0, tzinfo=UTC)


def test_atom_entries():
    entries = parse_feed(hf.atom(["https://news.example.com/x", "y"]).encode(), BASE)
    assert [e.url for e in entries] == ["https://news.example.com/x", "https://news.example.com/feeds/y"]
    assert entries[1].published == datetime(2025, 11, 24, 12, 1, tzinfo=UTC)


def test_dates_out_of_range_in_utc_are_dropped_not_fatal():
    # 9999-12-31 at -23:59 is year 10000 in UTC: parse_feed raised ValueError (found by the fuzzer)
    feed = hf.atom(["/a.html"]).replace("2025-11-24T12:00:00Z", "9999-12-31T23:59:59-23:59")
    (entry,) = parse_feed(feed.encode(), BASE)
    assert entry.url.endswith("/a.html") and entry.published is None
    rss = hf.rss(["/b.html"]).replace("Mon, 24 Nov 2025 10:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 -2359")
    assert parse_feed(rss.encode(), BASE)[0].published is None


def test_file_links_are_kept_as_text_for_the_fetcher_to_refuse():
    entries = parse_feed(hf.rss(["file:///etc/passwd"]).encode(), BASE)
    assert [e.url.split(":", 1)[0] for e in entries] == ["file"]  # (feedparser drops one slash)


def test_entity_bomb_is_refused_without_expanding():
    tracemalloc.start()
    with pytest.raises(Rejected) as why:
        parse_feed(hf.BILLION_LAUGHS.encode(), BASE)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert why.value.reason == "hostile" and peak < 5_000_000
    with pytest.raises(Rejected, match="hostile"):
        parse_sitemap(hf.BILLION_LAUGHS.encode(), BASE)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32", "cp037"])
def test_entity_bomb_in_utf16_or_ebcdic_is_refused(encoding):
    # the byte search missed "<\0!\0E\0N\0T..." and feedparser expanded the entities
    # (a 4-level bomb gave a 30,000-character title; found by the fuzzer)
    declared = {"utf-16-le": "utf-16", "utf-32": "utf-32"}.get(encoding, encoding)
    bomb = hf.BILLION_LAUGHS.replace('<?xml version="1.0"?>', f'<?xml version="1.0" encoding="{declared}"?>')
    with pytest.raises(Rejected) as why:
        parse_feed(bomb.encode(encoding), BASE)
    assert why.value.reason == "hostile"


def test_links_that_are_no_urls_are_skipped():
    # urlsplit raised "Invalid IPv6 URL" out of every parser (found by the fuzzer)
    assert [e.url for e in parse_url_list(b"http://[::1\nhttps://a.example/x\n", BASE)] == ["https://a.example/x"]
    assert [e.url for e in parse_feed(hf.rss(["http://[::1", "/ok.html"]).encode(), BASE)] == ["https://news.example.com/ok.html"]
    index = b'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>http://[::1</loc></sitemap></sitemapindex>'
    assert parse_sitemap(index, BASE).sitemaps == []


def test_bad_encoding_declaration_is_a_malformed_feed():
    # feedparser raised UnicodeDecodeError on a non-ASCII byte in the declaration (found by the fuzzer)
    with pytest.raises(Rejected) as why:
        parse_feed(b'<?xml version="1.0" encoding="utf-8\xb6"?><feed xmlns="http://www.w3.org/2005/Atom"/>', BASE)
    assert why.value.reason == "malformed_feed"
    nul = '<?xml version="1.0" encoding="u\x00tf-8"?><feed xmlns="http://www.w3.org/2005/Atom"/>'.encode("utf-16-le")
    with pytest.raises(Rejected) as why:  # codecs.lookup raised ValueError (embedded null character)
        parse_feed(nul, BASE)
    assert why.value.reason == "malformed_feed"


@pytest.mark.parametrize("body", [b"this is not xml {", b"<html><body>Hello</body></html>", b""])
def test_malformed_feed(body):
    with pytest.raises(Rejected) as why:
        parse_feed(body, BASE)
    assert why.value.reason == "malformed_feed"


def test_feed_body_that_looks_like_a_path_is_never_opened(tmp_path):
    secret = tmp_path / "secret.xml"
    secret.write_text(hf.rss(["https://leak.example.com/"]))
    with pytest.raises(Rejected, match="malformed_feed"):
        parse_feed(str(secret).encode(), BASE)


def test_news_sitemap_and_index():
    doc = parse_sitemap(hf.news_sitemap(["https://m.example.com/1", "/2"]).encode(), BASE)
    assert [e.url for e in doc.entries] == ["https://m.example.com/1", "https://news.example.com/2"]
    assert doc.entries[0].published == datetime(2025, 11, 23, 23, 30, tzinfo=UTC)
    assert doc.entries[0].title == "Story 0"
    index = b"""<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
    <sitemap><loc>https://news.example.com/s1.xml</loc></sitemap></sitemapindex>"""
    assert parse_sitemap(index, BASE).sitemaps == ["https://news.example.com/s1.xml"]
    with pytest.raises(Rejected, match="malformed_feed"):
        parse_sitemap(b"<urlset><url><loc>x</loc>", BASE)
    with pytest.raises(Rejected, match="malformed_feed"):
        parse_sitemap(b"<rss/>", BASE)


def test_url_list():
    body = b"# morning list\nhttps://a.example.com/1\n\n  /2  \nhttps://a.example.com/1\n"
    assert [e.url for e in parse_url_list(body, BASE)] == ["https://a.example.com/1", "https://news.example.com/2"]
    assert parse_source_document("urls", body, BASE).entries[0].url == "https://a.example.com/1"


def test_sources_file(tmp_path):
    path = tmp_path / "sources.toml"
    path.write_text(
        """
[[source]]
name = "gazette"
kind = "feed"
url = "https://gazette.example.com/rss.xml"
delay = 2.5
max_items = 50

[[source]]
name = "metro"
kind = "sitemap"
url = "https://metro.example.com/news-sitemap.xml"
"""
    )
    gazette, metro = load_sources(path)
    assert (gazette.name, gazette.kind, gazette.delay, gazette.max_items) == ("gazette", "feed", 2.5, 50)
    assert metro.kind == "sitemap" and metro.delay is None and metro.max_items is None


@pytest.mark.parametrize(
    "text, message",
    [
        ("[[source]]\nname='a'\nurl='u'\nkind='podcast'", "kind must be one of"),
        ("[[source]]\nname='a'\n", "'url' is required"),
        ("[[source]]\nname='a'\nurl='u'\ndelay=-1", "'delay'"),
        ("[[source]]\nname='a'\nurl='u'\nmax_items=0", "'max_items'"),
        ("[[source]]\nname='a'\nurl='u'\n[[source]]\nname='a'\nurl='v'", "duplicate name"),
        ("[[source]]\nname='a b'\nurl='u'", "'name'"),
        ("[[source]]\nname='a'\nurl='u'\nmax_item=3", "unknown key"),
        ("name = 'x'", "unknown top-level"),
        ("[[source]\n", "not valid TOML"),
    ],
)
def test_bad_sources_file(text, message):
    with pytest.raises(ValueError, match=message):
        parse_sources(text)
