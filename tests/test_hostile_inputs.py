"""Hostile inputs, end to end: each is refused with a reason, the run goes on, nothing is
written outside the database's folder.

One table per command. Every ingest case is its own ``newsdedup ingest`` run (CliRunner, a
real DuckDB file) over a folder holding the hostile input and one good article; every fetch
case its own ``newsdedup fetch`` against a real 127.0.0.1 site (``tests/http_fixtures.py``).
For each case the test checks: the run ends ``partial`` (exit 3) with the good article
stored, ``rejected_inputs`` holds the expected reason for the expected input, and the
temporary tree holds no new file outside the database folder (snapshot before/after).

The parsers' own unit tests of the same guards live beside the code they test
(``test_sources.py``: archive members, caps, JSONL; ``test_html.py``; ``test_feeds.py``;
``test_fetcher.py``: redirects, gzip bomb, private addresses; ``test_storage.py``: the
read-only SQL); ``test_fuzz.py`` throws generated hostile input at every parser.
"""

from __future__ import annotations

import codecs
import io
import json
import struct
import tarfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from tests import http_fixtures as hf
from tests.conftest import dump, prose, query as q

runner = CliRunner()
GOOD = dump("Council approves harbour budget after a long night", prose(1, paragraphs=4))
STORY_PARAS = prose(2, paragraphs=4)
STORY = dump("Strikers block the port of Leith", STORY_PARAS)
ABSOLUTE_TARGET = Path("/tmp/newsdedup-hostile-absolute.txt")



def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


# --------------------------------------------------------------------------- building hostile files


def zip_of(members: list[tuple[str, bytes]], compression: int = zipfile.ZIP_DEFLATED, mode: int | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name)
            info.compress_type = compression
            if mode is not None:
                info.create_system, info.external_attr = 3, mode << 16
            zf.writestr(info, data)
    return buf.getvalue()


def tar_of(kind: str, name: str, mode: str = "w:gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        info = tarfile.TarInfo(name)
        if kind == "file":
            info.size = len(STORY)
            tf.addfile(info, io.BytesIO(STORY))
        else:
            info.type = {"symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE, "chardev": tarfile.CHRTYPE,
                         "blockdev": tarfile.BLKTYPE, "fifo": tarfile.FIFOTYPE}[kind]
            info.linkname = "/etc/passwd" if kind in ("symlink", "hardlink") else ""
            info.devmajor, info.devminor = (1, 3) if kind.endswith("dev") else (0, 0)
            tf.addfile(info)
    return buf.getvalue()


def zip_declaring_past_the_total_cap() -> bytes:
    """110 stored members of 100 KiB, each declaring 9.7 MiB: every one is under the
    per-member cap (10 MiB) and the ratio cap (100), together they declare 1.04 GiB,
    past the 1 GiB an archive may expand to. Sizes are patched in both headers."""
    real, declared = 100 * 1024, int(9.7 * 1024 * 1024)
    data = bytearray(zip_of([(f"m{i:03}.txt", b" " * real) for i in range(110)], zipfile.ZIP_STORED))
    pos = 0
    while (pos := data.find(b"PK\x01\x02", pos)) >= 0:  # central directory: uncompressed size at +24
        struct.pack_into("<I", data, pos + 24, declared)
        pos += 4
    pos = 0
    while (pos := data.find(b"PK\x03\x04", pos)) >= 0:  # local headers: uncompressed size at +22
        struct.pack_into("<I", data, pos + 22, declared)
        pos += 4
    return bytes(data)


def jsonl(*records: dict | str) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records).encode() + b"\n"


def page(body: str) -> bytes:
    return f"<!DOCTYPE html><html><head><title>Page</title></head><body>{body}</body></html>".encode()


PARAS = prose(3, paragraphs=3)
# UTF-8 with one encoded surrogate (CESU/WTF-8 bytes ED A0 80) in the body: damage, not an encoding
UTF8_WITH_LONE_SURROGATE = "Harbour “strike” — day two\n\n".encode() + "\n\n".join(PARAS).encode().replace(b" ", b" \xed\xa0\x80", 1)
WTF8_THROUGHOUT = b"\n\n".join(p.encode().replace(b" ", b" \xed\xa0\x80", 8) for p in ["Harbour “strike” — day two", *PARAS])


@dataclass(frozen=True)
class IngestCase:
    """``files``: name -> bytes under the inbox; ``reason``: expected in rejected_inputs for
    ``uri`` (None: the input is stored and ``stored`` holds a check of its body)."""

    id: str
    files: Callable[[], dict[str, bytes]]
    reason: str | None
    uri: str
    detail: str = ""
    args: tuple[str, ...] = ()
    stored: Callable[[str], bool] | None = None
    max_seconds: float = 30.0


INGEST_CASES = [
    # archives: nothing is ever extracted; unsafe members are refused by name and type
    IngestCase("zip-slip", lambda: {"slip.zip": zip_of([("../../escape.txt", STORY), ("ok.txt", STORY)])},
               "unsafe_member", "slip.zip!../../escape.txt", "'..'"),
    IngestCase("zip-absolute-path", lambda: {"abs.zip": zip_of([(str(ABSOLUTE_TARGET), STORY)])},
               "unsafe_member", f"abs.zip!{str(ABSOLUTE_TARGET).lstrip('/')}", f"absolute member path '{ABSOLUTE_TARGET}'"),
    IngestCase("zip-windows-drive-path", lambda: {"drive.zip": zip_of([("C:\\Windows\\evil.txt", STORY)])},
               "unsafe_member", "drive.zip!C:/Windows/evil.txt", "absolute"),
    IngestCase("zip-symlink-member", lambda: {"link.zip": zip_of([("passwd.txt", b"/etc/passwd")], mode=0o120777)},
               "unsafe_member", "link.zip!passwd.txt", "symlink"),
    IngestCase("tar-absolute-path", lambda: {"abs.tar.gz": tar_of("file", str(ABSOLUTE_TARGET))},
               "unsafe_member", f"abs.tar.gz!{str(ABSOLUTE_TARGET).lstrip('/')}", "absolute"),
    IngestCase("tar-slip", lambda: {"slip.tar": tar_of("file", "../escape.txt", "w")},
               "unsafe_member", "slip.tar!../escape.txt", "'..'"),
    IngestCase("tar-symlink", lambda: {"sym.tgz": tar_of("symlink", "passwd.txt")},
               "unsafe_member", "sym.tgz!passwd.txt", "symlink"),
    IngestCase("tar-hardlink", lambda: {"hard.tgz": tar_of("hardlink", "passwd.txt")},
               "unsafe_member", "hard.tgz!passwd.txt", "hardlink"),
    IngestCase("tar-char-device", lambda: {"dev.tgz": tar_of("chardev", "null.txt")},
               "unsafe_member", "dev.tgz!null.txt", "device"),
    IngestCase("tar-block-device", lambda: {"blk.tar.gz": tar_of("blockdev", "sda.txt")},
               "unsafe_member", "blk.tar.gz!sda.txt", "device"),
    IngestCase("tar-fifo", lambda: {"fifo.tgz": tar_of("fifo", "pipe.txt")},
               "unsafe_member", "fifo.tgz!pipe.txt", "fifo"),
    IngestCase("zip-bomb-ratio", lambda: {"bomb.zip": zip_of([("zeros.txt", b"\0" * (8 * 1024 * 1024))])},
               "too_large", "bomb.zip!zeros.txt", "zip bomb"),
    IngestCase("zip-bomb-total-size", lambda: {"wide.zip": zip_declaring_past_the_total_cap()},
               "bad_archive", "wide.zip", "expands past 1,073,741,824 bytes"),
    IngestCase("nested-archive", lambda: {"outer.zip": zip_of([("inner.zip", zip_of([("a.txt", STORY)]))])},
               "unsafe_member", "outer.zip!inner.zip", "nested archive"),
    # HTML: too big for a page, too many elements to build a tree of
    IngestCase("html-50mb", lambda: {"huge.html": page("<p>" + "x" * 50 * 1024 * 1024 + "</p>")},
               "too_large", "huge.html", "over the 10,485,760-byte cap"),
    IngestCase("html-25mb-under-a-raised-cap", lambda: {"big.html": page("<p>" + "word " * 5_000_000 + "</p>")},
               "too_large", "big.html", "more than an HTML page", args=("--max-bytes", str(30 * 1024 * 1024))),
    IngestCase("html-deeply-nested", lambda: {"deep.html": page("<div>" * 500_000 + f"<p>{PARAS[0]}</p>" + "</div>" * 500_000)},
               "too_large", "deep.html", "HTML elements", max_seconds=15.0),
    IngestCase("html-deeply-nested-inline-unclosed", lambda: {"inline.html": page("<b><i><span>" * 100_000 + PARAS[0])},
               "too_large", "inline.html", "HTML elements", max_seconds=15.0),
    IngestCase("html-nul-bytes", lambda: {"nul.html": page(f"<p>{PARAS[0]}</p>").replace(b"<p>", b"<p>\x00\x00")},
               "binary", "nul.html", "NUL"),
    IngestCase("html-jsonld-lone-surrogate", lambda: {"ld.html": page(
        '<script type="application/ld+json">{"@type": "NewsArticle", "author": {"name": "\\ud800Jane Doe"}}</script>'
        + "".join(f"<p>{p}</p>" for p in PARAS))},
               None, "ld.html", stored=lambda body: "\ud800" not in body),
    # text dumps
    IngestCase("dump-nul-bytes", lambda: {"nul.txt": GOOD.replace(b"\n\n", b"\n\x00\n", 2)}, "binary", "nul.txt", "NUL"),
    IngestCase("dump-random-bytes-behind-a-headline", lambda: {"junk.txt": b"Council approves budget\n\n" + bytes(
        (0x80 + (i * 37) % 128) if i % 5 else 0x20 for i in range(3000))}, "undecodable", "junk.txt", "plausible"),
    IngestCase("dump-one-lone-surrogate", lambda: {"one.txt": UTF8_WITH_LONE_SURROGATE},
               None, "one.txt", stored=lambda body: "\ud800" not in body and "\ufffd" in body),
    IngestCase("dump-lone-surrogates-throughout", lambda: {"wtf8.txt": WTF8_THROUGHOUT}, "undecodable", "wtf8.txt"),
    IngestCase("dump-utf16-with-bom-and-nul-pattern", lambda: {"u16.txt": codecs.BOM_UTF16_LE + STORY.decode().encode("utf-16-le")},
               None, "u16.txt", stored=lambda body: body.startswith(STORY_PARAS[0][:40])),
    # JSONL
    IngestCase("jsonl-lone-surrogate-escape", lambda: {"feed.jsonl": jsonl({"title": "T\ud800", "body": PARAS[0]})},
               "malformed_jsonl", "feed.jsonl#L1", "lone surrogate"),
    IngestCase("jsonl-nul-escapes", lambda: {"nul.jsonl": jsonl({"title": "Harbour\u0000 strike", "body": "\u0000".join(PARAS)})},
               None, "nul.jsonl#L1", stored=lambda body: "\x00" not in body),
    IngestCase("jsonl-deeply-nested", lambda: {"deep.jsonl": jsonl("[" * 100_000 + "]" * 100_000)},
               "malformed_jsonl", "deep.jsonl#L1", "invalid JSON"),
    IngestCase("jsonl-line-over-the-cap", lambda: {"long.jsonl": jsonl({"title": "T", "body": "x " * 600_000})},
               "too_large", "long.jsonl#L1", "line", args=("--max-bytes", "1000000")),
]


def _body_of(db: Path, uri: str) -> str:
    rows = q(db, "SELECT body FROM articles WHERE source_uri = ?", [uri])
    assert rows, f"{uri} was not stored"
    return rows[0][0]


@pytest.mark.slow
@pytest.mark.parametrize("case", INGEST_CASES, ids=[c.id for c in INGEST_CASES])
def test_ingest_refuses_hostile_input(case: IngestCase, tmp_path: Path):
    inbox, db_dir = tmp_path / "inbox", tmp_path / "db"
    inbox.mkdir()
    for name, data in case.files().items():
        (inbox / name).write_bytes(data)
    (inbox / "zz-good.txt").write_bytes(GOOD)  # read after the hostile input: the run must get here
    db = db_dir / "news.duckdb"
    before = tree(tmp_path)

    t0 = time.monotonic()
    result = runner.invoke(app, ["ingest", str(inbox), "--db", str(db), "--source", "hostile", "--workers", "0", "-q",
                                 *case.args])
    seconds = time.monotonic() - t0

    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == (3 if case.reason else 0), result.output
    assert _body_of(db, "zz-good.txt")  # the run went on
    if case.reason:
        rows = q(db, "SELECT reason, detail FROM rejected_inputs WHERE source_uri = ?", [case.uri])
        assert rows and rows[0][0] == case.reason, q(db, "SELECT source_uri, reason, detail FROM rejected_inputs")
        assert case.detail in rows[0][1], rows[0][1]
    else:
        assert case.stored(_body_of(db, case.uri))
    created = tree(tmp_path) - before
    assert all(p == "db" or p.startswith("db/") for p in created), f"written outside the database folder: {created}"
    assert not ABSOLUTE_TARGET.exists() and not (tmp_path / "escape.txt").exists() and not Path("escape.txt").exists()
    assert seconds < case.max_seconds, f"{seconds:.1f} s"


# --------------------------------------------------------------------------- fetch


UTF16_BOMB = hf.BILLION_LAUGHS.replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="utf-16"?>').encode("utf-16")
SITEMAP_BOMB = hf.BILLION_LAUGHS.replace("<rss", "<urlset").replace("</rss>", "</urlset>")


@dataclass(frozen=True)
class FetchCase:
    """A feed (or sitemap) served at ``/<id>/feed`` listing ``links`` (paths on the site or
    absolute URLs) plus one good page; ``reason`` expected for the URL ``uri``."""

    id: str
    reason: str
    uri: str  # a path on the site ("/x") or an absolute URL
    kind: str = "feed"
    document: bytes | str | None = None  # None: an RSS feed of links
    links: tuple[str, ...] = ()


FETCH_CASES = [
    FetchCase("rss-entity-bomb", "hostile", "/feed", document=hf.BILLION_LAUGHS),
    FetchCase("rss-entity-bomb-in-utf16", "hostile", "/feed", document=UTF16_BOMB),
    FetchCase("sitemap-entity-bomb", "hostile", "/feed", kind="sitemap", document=SITEMAP_BOMB),
    FetchCase("gzip-bomb-page", "too_large", "/bomb", links=("/bomb",)),
    FetchCase("endless-page", "too_large", "/endless", links=("/endless",)),
    FetchCase("redirect-to-metadata", "unsafe_url", "/to-metadata", links=("/to-metadata",)),
    FetchCase("redirect-to-private", "unsafe_url", "/to-private", links=("/to-private",)),
    # feedparser reads file:///etc/passwd as file://etc/passwd (host "etc"): refused all the same
    FetchCase("feed-links-file-url", "unsafe_url", "file://etc/passwd", links=("file:///etc/passwd",)),
    FetchCase("feed-links-ftp-url", "unsafe_url", "ftp://files.example/x.txt", links=("ftp://files.example/x.txt",)),
    FetchCase("feed-links-javascript", "unsafe_url", "javascript:alert(1)", links=("javascript:alert(1)",)),
    FetchCase("sitemap-links-file-url", "unsafe_url", "file:///etc/shadow", kind="sitemap", links=("file:///etc/shadow",)),
]


@pytest.fixture(scope="module")
def site():
    with hf.NewsSite() as s:
        s.routes.update({
            "/robots.txt": hf.static("User-agent: *\nAllow: /\n", "text/plain"),
            "/bomb": hf.gzip_bomb_route,
            "/endless": hf.endless(None),
            "/to-metadata": hf.redirect("http://169.254.169.254/latest/meta-data/"),
            # the address is refused before any connection: nothing is sent to 10.0.0.0/8
            "/to-private": hf.redirect("http://10.0.0.1/admin"),
        })
        for i, case in enumerate(FETCH_CASES):
            good = f"/{case.id}/good.html"
            s.routes[good] = hf.static(hf.article_html(f"Good story {i}", 100 + i))
            links = [s.url(link) if link.startswith("/") else link for link in case.links] + [s.url(good)]
            if case.document is not None:
                doc = case.document
            elif case.kind == "sitemap":
                doc = hf.news_sitemap(links)
            else:
                doc = hf.rss(links)
            ctype = "application/xml" if case.kind == "sitemap" else "application/rss+xml"
            s.routes[f"/{case.id}/feed"] = hf.static(doc, ctype)
        yield s


@pytest.mark.slow
@pytest.mark.parametrize("case", FETCH_CASES, ids=[c.id for c in FETCH_CASES])
def test_fetch_refuses_hostile_input(case: FetchCase, site, tmp_path: Path):
    good_feed = site.url("/gazette.rss")
    site.routes["/gazette.rss"] = hf.static(hf.rss([site.url(f"/{case.id}/good.html")]), "application/rss+xml")
    sources = tmp_path / "sources.toml"
    sources.write_text(
        f'[[source]]\nname = "hostile"\nkind = "{case.kind}"\nurl = "{site.url(f"/{case.id}/feed")}"\n\n'
        f'[[source]]\nname = "gazette"\nurl = "{good_feed}"\n'
    )
    db = tmp_path / "db" / "news.duckdb"
    before = tree(tmp_path)

    result = runner.invoke(app, ["fetch", "--sources", str(sources), "--db", str(db), "--allow-private-host", "127.0.0.1",
                                 "--delay", "0", "--timeout", "2", "--max-bytes", "1000000", "-q"])

    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 3, result.output
    assert q(db, "SELECT count(*) FROM articles WHERE source_uri = ?", [site.url(f"/{case.id}/good.html")]) == [(1,)]
    uri = site.url(f"/{case.id}{case.uri}") if case.uri == "/feed" else site.url(case.uri) if case.uri.startswith("/") else case.uri
    rows = q(db, "SELECT reason, detail FROM rejected_inputs WHERE source_uri = ?", [uri])
    assert rows and rows[0][0] == case.reason and rows[0][1], q(db, "SELECT source_uri, reason FROM rejected_inputs")
    created = tree(tmp_path) - before
    assert all(p == "db" or p.startswith("db/") for p in created), f"written outside the database folder: {created}"


# --------------------------------------------------------------------------- sql is read-only


SQL_CASES = [
    ("DELETE FROM articles", "read-only"),
    ("UPDATE articles SET title = 'x'", "read-only"),
    ("DROP TABLE articles", "read-only"),
    ("COPY articles TO '{out}'", "read-only"),
    ("ATTACH '{out}' AS other", "read-only"),
    ("EXPLAIN ANALYZE COPY (SELECT 1) TO '{out}'", "query failed"),
    ("SELECT * FROM read_csv('{out}')", "query failed"),
    ("SET enable_external_access = true", "read-only"),
    ("SELECT 1; DELETE FROM articles", "one statement"),
]


@pytest.mark.slow
def test_sql_cannot_change_the_store_or_write_files(tmp_path: Path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "good.txt").write_bytes(GOOD)
    db = tmp_path / "db" / "news.duckdb"
    assert runner.invoke(app, ["ingest", str(inbox), "--db", str(db), "--workers", "0", "-q"]).exit_code == 0
    out = tmp_path / "out.csv"
    before, stored = tree(tmp_path), q(db, "SELECT article_id, title, body FROM articles")
    for statement, says in SQL_CASES:
        result = runner.invoke(app, ["sql", statement.format(out=out), "--db", str(db)])
        assert result.exit_code == 2, (statement, result.output)
        assert says in result.output.lower() and "Traceback" not in result.output, (statement, result.output)
    assert q(db, "SELECT article_id, title, body FROM articles") == stored
    assert tree(tmp_path) == before and not out.exists()
