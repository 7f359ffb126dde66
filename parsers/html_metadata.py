"""Page metadata of a news HTML page: JSON-LD, OpenGraph, meta tags, ``<time>``, canonical link.

Precedence, per field (first non-empty wins):

* title: JSON-LD ``headline``/``name`` > ``og:title`` > ``twitter:title`` > first ``<h1>`` > ``<title>``;
* authors: JSON-LD ``author`` (Person/Organization objects, lists, strings) >
  ``<meta name=author>`` > ``article:author`` / ``parsely-author`` / ``sailthru.author``
  (URLs are ignored: Facebook profile links are not names);
* published: JSON-LD ``datePublished`` > ``article:published_time`` and other
  publication meta tags > the first ``<time datetime>``;
* modified: JSON-LD ``dateModified`` > ``article:modified_time`` / ``og:updated_time``;
* canonical URL: ``<link rel=canonical>`` > ``og:url`` > JSON-LD ``url`` / ``mainEntityOfPage``;
* site name: ``og:site_name`` > JSON-LD ``publisher.name`` > ``application-name``;
* language: ``<html lang>`` > JSON-LD ``inLanguage`` > ``og:locale`` > ``content-language``.

JSON-LD objects are searched in lists and ``@graph`` arrays; an object counts as
the article when its ``@type`` (a string or a list) ends in ``Article``
(``NewsArticle``, ``ReportageNewsArticle``...) or is ``BlogPosting``/``Report``.
Malformed JSON-LD is skipped, never fatal: a bad date or block never costs us
the article.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bs4 import BeautifulSoup, Tag

from parsers.dump import parse_published
from parsers.normalize import normalize_line

_ARTICLE_TYPES = re.compile(r"(?:\w*Article|BlogPosting|Report|LiveBlogPosting|WebPage)", re.IGNORECASE)
_URL = re.compile(r"^(?:https?:)?//|^www\.", re.IGNORECASE)
# JSON-LD in the wild carries raw control characters and trailing commas.
_JSON_CONTROL = re.compile(r"[\x00-\x1f]")
_TRAILING_COMMA = re.compile(r",\s*([}\]])")

_PUBLISHED_META = (
    "article:published_time", "og:article:published_time", "datepublished", "pubdate", "publishdate",
    "publish-date", "publish_date", "date", "dc.date.issued", "dc.date", "dcterms.created",
    "parsely-pub-date", "sailthru.date", "article.published", "published_time", "original-publish-date",
)
_MODIFIED_META = ("article:modified_time", "og:updated_time", "datemodified", "last-modified", "dcterms.modified")
_AUTHOR_META = ("author", "article:author", "parsely-author", "sailthru.author", "dc.creator", "byl")


@dataclass(slots=True)
class PageMetadata:
    """What the page says about itself (all optional)."""

    title: str | None = None
    authors: list[str] = field(default_factory=list)
    published_at: datetime | None = None
    modified_at: datetime | None = None
    url: str | None = None
    site_name: str | None = None
    language: str | None = None
    description: str | None = None
    # JSON-LD ``articleBody`` when the page publishes one (a hint for the extractor).
    body_hint: str | None = None


def extract_metadata(soup: BeautifulSoup, ld_json: list[str]) -> PageMetadata:
    """Read the metadata of a parsed page.

    Args:
        soup: the page parsed with BeautifulSoup (lxml).
        ld_json: the texts of its ``<script type="application/ld+json">`` elements
            (collected by the caller before scripts are dropped).

    Returns:
        The metadata; fields the page does not state are None/empty.
    """
    meta: dict[str, str] = {}
    canonical = None
    for tag in soup.find_all(("meta", "link")):
        if tag.name == "link":
            rel = tag.get("rel") or ""
            rel = " ".join(rel) if isinstance(rel, list) else rel
            if canonical is None and "canonical" in rel.lower().split() and tag.get("href"):
                canonical = tag["href"].strip()
            continue
        key = tag.get("property") or tag.get("name") or tag.get("itemprop") or tag.get("http-equiv")
        content = tag.get("content")
        if isinstance(key, str) and isinstance(content, str) and content.strip():
            meta.setdefault(key.strip().lower(), content.strip())

    md = PageMetadata()
    article = _jsonld_article(ld_json)
    if article:
        md.title = _text(article.get("headline")) or _text(article.get("name"))
        md.authors = _authors(article.get("author"))
        md.published_at = parse_published(_text(article.get("datePublished")))
        md.modified_at = parse_published(_text(article.get("dateModified")))
        md.url = _url_of(article.get("url")) or _url_of(article.get("mainEntityOfPage"))
        publisher = article.get("publisher")
        if isinstance(publisher, dict):
            md.site_name = _text(publisher.get("name"))
        md.language = _text(article.get("inLanguage"))
        md.description = _text(article.get("description"))
        body = article.get("articleBody")
        md.body_hint = body if isinstance(body, str) and body.strip() else None

    md.title = md.title or meta.get("og:title") or meta.get("twitter:title") or _first_text(soup, "h1")
    md.title = md.title or _first_text(soup, "title")
    if not md.authors:
        for key in _AUTHOR_META:
            names = [a for a in _split_names(meta.get(key, "")) if not _URL.search(a)]
            if names:
                md.authors = names
                break
    if md.published_at is None:
        md.published_at = next((d for k in _PUBLISHED_META if (d := parse_published(meta.get(k)))), None)
    if md.published_at is None:
        time_tag = soup.find("time", attrs={"datetime": True})
        if time_tag is not None:
            md.published_at = parse_published(time_tag["datetime"])
    if md.modified_at is None:
        md.modified_at = next((d for k in _MODIFIED_META if (d := parse_published(meta.get(k)))), None)
    md.url = canonical or meta.get("og:url") or md.url
    md.site_name = meta.get("og:site_name") or md.site_name or meta.get("application-name")
    html_tag = soup.find("html")
    lang = html_tag.get("lang") if html_tag is not None else None
    lang = lang or (html_tag.get("xml:lang") if html_tag is not None else None)
    md.language = _language(lang) or _language(md.language) or _language(meta.get("og:locale"))
    md.language = md.language or _language(meta.get("content-language"))
    md.description = md.description or meta.get("description") or meta.get("og:description")
    md.title = normalize_line(md.title) if md.title else None
    md.site_name = normalize_line(md.site_name) if md.site_name else None
    return md


def _jsonld_article(blocks: list[str]) -> dict[str, Any] | None:
    """The first JSON-LD object typed as an article (searching lists and ``@graph``)."""
    fallback = None
    for text in blocks:
        doc = _load_json(text)
        if doc is None:
            continue
        stack = [doc]
        while stack:
            node = stack.pop(0)
            if isinstance(node, list):
                stack.extend(node)
            elif isinstance(node, dict):
                types = node.get("@type")
                types = types if isinstance(types, list) else [types]
                names = [t for t in types if isinstance(t, str)]
                if any(_ARTICLE_TYPES.fullmatch(t) for t in names):
                    if any(t.lower() != "webpage" for t in names):
                        return node
                    fallback = fallback or node  # a WebPage only when nothing better exists
                if isinstance(node.get("@graph"), list):
                    stack.extend(node["@graph"])
    return fallback


def _load_json(text: str) -> Any:
    text = text.strip()
    if text.startswith("<!--"):
        text = text[4:].rsplit("-->", 1)[0]
    for candidate in (text, _TRAILING_COMMA.sub(r"\1", _JSON_CONTROL.sub(" ", text))):
        try:
            return json.loads(candidate)
        except (ValueError, RecursionError):
            continue
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str)), None)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _url_of(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("@id") or value.get("url")
    value = _text(value)
    return value if value and _URL.search(value) else None


def _authors(value: Any) -> list[str]:
    """Names from a JSON-LD ``author``: a string, a Person/Organization object, or a list of them."""
    out: list[str] = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, dict):
            item = item.get("name")
            if isinstance(item, list):
                item = " ".join(x for x in item if isinstance(x, str))
        if isinstance(item, str):
            out.extend(n for n in _split_names(item) if not _URL.search(n))
    seen: set[str] = set()
    return [n for n in out if not (n.casefold() in seen or seen.add(n.casefold()))]


def _split_names(value: str) -> list[str]:
    value = normalize_line(value)
    value = re.sub(r"^by\s+", "", value, flags=re.IGNORECASE)
    return [p.strip() for p in re.split(r"\s*(?:,|;|\band\b|&)\s*", value) if p.strip()]


def _first_text(soup: BeautifulSoup, name: str) -> str | None:
    tag = soup.find(name)
    if isinstance(tag, Tag):
        text = normalize_line(tag.get_text(" "))
        return text or None
    return None


def _language(value: str | None) -> str | None:
    """``en_US`` / ``en-us`` -> ``en-US``; None for empty values."""
    if not value or not isinstance(value, str):
        return None
    parts = value.strip().replace("_", "-").split("-")
    if not parts[0].isalpha() or len(parts[0]) > 8:
        return None
    return "-".join([parts[0].lower(), *(p.upper() if len(p) == 2 else p for p in parts[1:])])
