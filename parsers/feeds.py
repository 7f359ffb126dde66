"""Source documents -> the article URLs they list (pure): RSS/Atom, news sitemaps, URL lists.

Also the sources file (``sources.toml``, documented in ``docs/SOURCES.md``): which feeds,
sitemaps and URL lists to fetch, with per-source settings.

Every parser takes the document's bytes and the URL it came from (relative links are
resolved against it) and returns :class:`FeedEntry` items in document order, duplicates
removed. Nothing is fetched here; an entry URL is only text until the fetcher has checked it.

XML safety: a document that declares entities (``<!ENTITY``) is refused as ``hostile``
before any XML parser sees it: that is the billion-laughs / quadratic-blowup shape, and
news feeds have no use for it. A feed is checked both as bytes and as the UTF-8 that
feedparser converts it to (UTF-16/32 and EBCDIC feeds hide the declaration from a byte search). Sitemaps are parsed with ``defusedxml`` (which forbids
entities and external references as well). ``feedparser`` is handed a byte stream, never
bytes or a string: given a string it would open URLs and file paths itself.
"""

from __future__ import annotations

import calendar
import io
import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

from parsers.article import Rejected

SOURCE_KINDS = ("feed", "sitemap", "urls")

_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One article a source document lists: its absolute URL and, when given, when it was published."""

    url: str
    published: datetime | None = None
    title: str | None = None


@dataclass(frozen=True, slots=True)
class SourceDocument:
    """What one fetched source document lists: article entries and (sitemap index) child sitemaps."""

    entries: list[FeedEntry]
    sitemaps: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FeedSource:
    """One entry of the sources file.

    Attributes:
        name: source name given to every article fetched through it (the outlet; learned
            boilerplate is per source).
        kind: ``feed`` (RSS/Atom), ``sitemap`` (news sitemap or sitemap index) or ``urls``
            (a text file, one URL a line, ``#`` comments).
        url: where the document is.
        delay: minimum seconds between two requests to each host this source's pages are
            on (None: the fetcher's default).
        max_items: fetch at most this many new entries per run (None: all).
    """

    name: str
    kind: str
    url: str
    delay: float | None = None
    max_items: int | None = None


def parse_sources(text: str, where: str = "sources file") -> list[FeedSource]:
    """Parse a sources file (TOML, ``[[source]]`` tables; see ``docs/SOURCES.md``).

    Args:
        text: the TOML text.
        where: the file name, for error messages.

    Returns:
        The sources in file order.

    Raises:
        ValueError: invalid TOML, an unknown key or kind, a missing name/url, a duplicate
            name, or a bad delay/max_items -- with the source's position and how to fix it.
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{where}: not valid TOML ({err})") from None
    unknown_top = set(doc) - {"source"}
    if unknown_top:
        raise ValueError(f"{where}: unknown top-level key(s) {sorted(unknown_top)}; list sources as [[source]] tables")
    tables = doc.get("source", [])
    if not isinstance(tables, list) or not tables:
        raise ValueError(f"{where}: no [[source]] tables")
    sources: list[FeedSource] = []
    seen: set[str] = set()
    for i, table in enumerate(tables, 1):
        at = f"{where}: source #{i}"
        unknown = set(table) - {"name", "kind", "url", "delay", "max_items"}
        if unknown:
            raise ValueError(f"{at}: unknown key(s) {sorted(unknown)} (known: name, kind, url, delay, max_items)")
        name, kind, url = table.get("name"), table.get("kind", "feed"), table.get("url")
        if not isinstance(name, str) or not _NAME_OK.match(name):
            raise ValueError(f"{at}: 'name' must be a short name of letters, digits, '.', '_' or '-', got {name!r}")
        if name in seen:
            raise ValueError(f"{at}: duplicate name {name!r}")
        seen.add(name)
        if kind not in SOURCE_KINDS:
            raise ValueError(f"{at} ({name}): kind must be one of {', '.join(SOURCE_KINDS)}, got {kind!r}")
        if not isinstance(url, str) or not url.strip():
            raise ValueError(f"{at} ({name}): 'url' is required")
        delay = table.get("delay")
        if delay is not None and (isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0):
            raise ValueError(f"{at} ({name}): 'delay' must be a number of seconds >= 0, got {delay!r}")
        max_items = table.get("max_items")
        if max_items is not None and (isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 1):
            raise ValueError(f"{at} ({name}): 'max_items' must be an integer >= 1, got {max_items!r}")
        sources.append(FeedSource(name, kind, url.strip(), None if delay is None else float(delay), max_items))
    return sources


def load_sources(path: str | Path) -> list[FeedSource]:
    """Read and parse a sources file (see :func:`parse_sources`).

    Raises:
        FileNotFoundError: no such file.
        ValueError: as :func:`parse_sources`, or the file is not UTF-8.
    """
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text") from None
    return parse_sources(text, where=str(path))


def parse_source_document(kind: str, body: bytes, base_url: str) -> SourceDocument:
    """Dispatch on the source kind (``feed``, ``sitemap``, ``urls``).

    Raises:
        Rejected: ``hostile`` (entity declarations), ``malformed_feed``.
        ValueError: unknown kind.
    """
    if kind == "feed":
        return SourceDocument(parse_feed(body, base_url))
    if kind == "sitemap":
        return parse_sitemap(body, base_url)
    if kind == "urls":
        return SourceDocument(parse_url_list(body, base_url))
    raise ValueError(f"unknown source kind {kind!r}; expected one of {SOURCE_KINDS}")


def _refuse_entities(body: bytes) -> None:
    if _ENTITY_DECL.search(body):
        raise Rejected("hostile", "the document declares XML entities (a possible entity-expansion bomb); refused unparsed")


def _absolute(link: str, base_url: str) -> str:
    """The link made absolute, without its fragment; "" when it is no URL at all."""
    link = link.strip()
    try:
        if urlsplit(link).scheme:  # absolute: kept as written (urljoin would turn file:///x into file://x)
            return urldefrag(link)[0]
        return urldefrag(urljoin(base_url, link))[0]
    except ValueError:
        return ""  # "http://[::1" raised "Invalid IPv6 URL" out of the parser (found by the fuzzer)


def _dedup(entries: list[FeedEntry]) -> list[FeedEntry]:
    seen: set[str] = set()
    out = []
    for e in entries:
        if e.url and e.url not in seen:
            seen.add(e.url)
            out.append(e)
    return out


def parse_feed(body: bytes, base_url: str) -> list[FeedEntry]:
    """RSS (0.9x, 1.0, 2.0) or Atom -> its entries' links, with published times.

    A feed that is not well-formed but still yields entries (feedparser's "bozo" mode) is
    accepted: real feeds are often slightly broken. Entries without a link are skipped.

    Args:
        body: the feed bytes.
        base_url: the feed's URL; relative links are resolved against it.

    Returns:
        Entries in feed order, one per distinct URL (fragments removed).

    Raises:
        Rejected: ``hostile`` for entity declarations; ``malformed_feed`` when the document is
            not a feed or has no entry with a link.
    """
    import feedparser  # lazy: only fetch runs need it
    from feedparser.encodings import convert_to_utf8

    _refuse_entities(body)
    # feedparser re-encodes UTF-16/32 and EBCDIC documents to UTF-8 before its XML parser
    # expands entities: check what that parser will see (a UTF-16 bomb passed the byte check)
    try:
        as_utf8 = convert_to_utf8({"content-location": base_url}, body, {})
    except (ValueError, LookupError) as err:
        # a non-ASCII byte (UnicodeDecodeError) or a NUL (ValueError from codecs.lookup) in the
        # encoding declaration crashed feedparser (found by the fuzzer)
        raise Rejected("malformed_feed", f"unreadable XML encoding declaration ({err})") from None
    _refuse_entities(as_utf8)
    parsed = feedparser.parse(
        io.BytesIO(body),
        response_headers={"content-location": base_url},
        resolve_relative_uris=False,
        sanitize_html=False,
    )
    entries = []
    for entry in parsed.entries:
        link = entry.get("link") or next(
            (l.get("href") for l in entry.get("links", []) if l.get("href")), None
        )
        if not link:
            continue
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        entries.append(FeedEntry(_absolute(link, base_url), _utc(stamp), entry.get("title") or None))
    if not entries:
        if parsed.get("bozo"):
            why = parsed.get("bozo_exception")
            raise Rejected("malformed_feed", f"not a well-formed feed and no entries could be read ({why})")
        if not parsed.get("version"):
            raise Rejected("malformed_feed", "not an RSS or Atom document")
    return _dedup(entries)


def _utc(stamp) -> datetime | None:
    """feedparser's UTC ``struct_time`` as an aware datetime; None when absent or out of range
    (``9999-12-31T23:59-23:59`` is in year 10000 in UTC: found by the fuzzer)."""
    if not stamp:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(stamp), UTC)
    except (OverflowError, ValueError, OSError):
        return None


_NEWS_NS = "{http://www.google.com/schemas/sitemap-news/0.9}"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_sitemap(body: bytes, base_url: str) -> SourceDocument:
    """A news sitemap (``<urlset>`` with ``<news:news>``), a plain sitemap or a sitemap index.

    Published time: ``news:publication_date``, else ``lastmod``. A ``<sitemapindex>`` lists
    child sitemaps (returned in ``sitemaps``; the caller decides how deep to follow).

    Raises:
        Rejected: ``hostile`` for entity declarations or external references;
            ``malformed_feed`` for a document that is not well-formed XML or not a sitemap.
    """
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    from parsers.dump import parse_published

    _refuse_entities(body)
    try:
        root = fromstring(body, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as err:
        raise Rejected("hostile", f"sitemap refused by defusedxml: {err}") from None
    except (ParseError, ValueError) as err:
        raise Rejected("malformed_feed", f"sitemap is not well-formed XML ({err})") from None
    kind = _local(root.tag)
    if kind == "sitemapindex":
        locs = [(el.text or "").strip() for el in root.iter() if _local(el.tag) == "loc"]
        return SourceDocument([], [a for a in (_absolute(u, base_url) for u in locs if u) if a])
    if kind != "urlset":
        raise Rejected("malformed_feed", f"root element <{kind}> is neither <urlset> nor <sitemapindex>")
    entries = []
    for url_el in root:
        if _local(url_el.tag) != "url":
            continue
        loc = published = title = None
        for el in url_el:  # direct children only: <image:image><image:loc> is not the page
            name = _local(el.tag)
            if name == "loc":
                loc = (el.text or "").strip()
            elif name == "lastmod" and published is None:
                published = parse_published((el.text or "").strip())
            elif name == "news" and el.tag.startswith(_NEWS_NS):
                for sub in el:
                    if _local(sub.tag) == "publication_date":
                        published = parse_published((sub.text or "").strip()) or published
                    elif _local(sub.tag) == "title":
                        title = (sub.text or "").strip() or None
        if loc:
            entries.append(FeedEntry(_absolute(loc, base_url), published, title))
    return SourceDocument(_dedup(entries))


def parse_url_list(body: bytes, base_url: str) -> list[FeedEntry]:
    """A plain text list: one URL a line; blank lines and ``#`` comments ignored.

    Raises:
        Rejected: ``malformed_feed`` when the text is not UTF-8.
    """
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise Rejected("malformed_feed", f"URL list is not UTF-8 ({err})") from None
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            entries.append(FeedEntry(_absolute(line, base_url)))
    return _dedup(entries)
