"""Raw inputs -> ``Article``: text dumps (``parse_dump``) and JSONL records (``parse_record``).

A dump is the text a scraper stored: the headline on the first non-empty line,
then the body, paragraphs separated by blank lines (single newlines separate
paragraphs too). Steps: decode -> resolve stray HTML tags/entities -> split
into lines -> ``normalize_line`` -> headline -> boilerplate rules (regex and
structural, incl. byline) -> dateline off the first paragraph.

``RemovedLine.position`` is the index of the line among the article's non-empty
lines, the headline (or a record's title) counting as line 0.
"""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from parsers.article import Article, RawArticle, Rejected, RemovedLine
from parsers.byline import byline_of
from parsers.clean import strip_boilerplate
from parsers.dateline import split_dateline
from parsers.decode import decode_text
from parsers.normalize import LONE_SURROGATE, normalize_line
from parsers.rules import RuleSet

_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>|<!--")
_ENTITY = re.compile(r"&(?:#\d{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_BLOCK_TAGS = (
    "address article aside blockquote caption dd div dl dt figcaption figure footer h1 h2 h3 h4 h5 h6 "
    "header hr li main nav ol p pre section table td th tr ul title"
).split()
_DROP_TAGS = ["script", "style", "noscript", "template", "iframe", "svg", "head"]
_NOT_IN_URL = re.compile("[\x00-\x20\x7f-\x9f\ud800-\udfff]")


def resolve_markup(text: str) -> str:
    """Turn stray HTML in a dump into plain text, one block element per line.

    Only text that contains tags or entities is touched (the common dump has
    neither, and the check is one regex search). Entities alone are resolved
    with ``html.unescape``; tags go through BeautifulSoup (lxml).

    Args:
        text: decoded dump text.

    Returns:
        The text with tags removed (block elements and ``<br>`` become line
        breaks; scripts and styles dropped) and entities resolved.
    """
    if "<" in text and _TAG.search(text):
        from bs4 import BeautifulSoup  # lazy: off the hot path

        soup = BeautifulSoup(text, "lxml")
        for tag in soup.find_all(_DROP_TAGS):
            tag.decompose()
        for br in soup.find_all("br"):
            br.replace_with("\n")
        for tag in soup.find_all(_BLOCK_TAGS):
            tag.insert_before("\n")
            tag.insert_after("\n")
        return soup.get_text()
    if "&" in text and _ENTITY.search(text):
        return html.unescape(text)
    return text


def _lines(text: str) -> list[str]:
    """Non-empty normalised lines of a text."""
    out = []
    for raw_line in text.splitlines():
        line = normalize_line(raw_line)
        if line:
            out.append(line)
    return out


def _build_body(
    body_lines: list[str], rules: RuleSet, source: str, offset: int
) -> tuple[list[str], list[RemovedLine], str | None, str | None]:
    """Clean body lines; return paragraphs, removed lines, byline and dateline."""
    kept, removed = strip_boilerplate(body_lines, rules, source)
    removed = [RemovedLine(r.text, r.rule, r.position + offset, r.evidence, r.kind) for r in removed]
    byline = next((byline_of(r.text) for r in removed if r.rule == "byline"), None)
    dateline = None
    if kept:
        dateline, first = split_dateline(kept[0])
        if dateline is not None:
            kept[0] = first
    return kept, removed, byline, dateline


def parse_dump(raw: RawArticle, rules: RuleSet) -> Article:
    """Parse a raw text dump into a cleaned ``Article``.

    Args:
        raw: the input (``kind="dump"``); ``raw.payload`` holds the file bytes.
        rules: the cleaning rules (per-source rules of ``raw.source`` apply).

    Returns:
        The article: headline, paragraphs (boilerplate, byline and dateline
        removed), dateline, byline and every removed line with its rule.

    Raises:
        Rejected: ``empty``/``binary``/``undecodable`` from decoding, or
            ``no_body`` when nothing is left after the headline and cleaning.
    """
    text = resolve_markup(decode_text(raw.payload))
    lines = _lines(text)
    if not lines:
        raise Rejected("empty", "no text lines after decoding")
    headline, body_lines = lines[0], lines[1:]
    if not body_lines:
        raise Rejected("no_body", "the dump has a headline line and nothing else")
    paragraphs, removed, byline, dateline = _build_body(body_lines, rules, raw.source, offset=1)
    if not paragraphs:
        raise Rejected("no_body", f"all {len(body_lines)} body lines were boilerplate")
    return Article(
        source=raw.source,
        source_uri=raw.uri,
        content_hash=raw.content_hash,
        title=headline,
        paragraphs=paragraphs,
        dateline=dateline,
        byline=byline,
        removed=removed,
    )


def url_or_none(value: Any) -> str | None:
    """A URL given with an article, stripped; None when missing or not a URL at all (whitespace,
    control characters or lone surrogates inside: found by the fuzzer in JSONL and page fields)."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if value and not _NOT_IN_URL.search(value) else None


def parse_published(value: Any) -> datetime | None:
    """Parse a publication time into an aware UTC datetime.

    Args:
        value: ISO 8601 (``2025-11-24T15:45:00Z``, ``2025-11-24 15:45+01:00``,
            ``2025-11-24``) or RFC 2822 (``Mon, 24 Nov 2025 15:45:00 GMT``) text,
            or a datetime.

    Returns:
        A timezone-aware datetime in UTC (times without an offset are taken as
        UTC), or None when the value is missing, unparseable or out of range in
        UTC -- a bad date never costs us the article.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
        except ValueError:
            try:
                parsed = parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError):
                return None
    else:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None  # 9999-12-31T23:59-23:59 is past datetime.max in UTC (found by the fuzzer)


def parse_record(raw: RawArticle, rules: RuleSet) -> Article:
    """Parse a JSONL record (pre-split fields) into a cleaned ``Article``.

    ``raw.fields`` (or, when absent, ``raw.payload`` parsed as one JSON object)
    holds ``title``, ``body`` or ``text``, and optionally ``url``, ``published``
    and ``source``. The body goes through the same markup resolution and
    cleaning as a dump. A record's own ``source`` field names the outlet and
    wins over ``raw.source`` (the feed/file), so per-outlet rules apply.
    Without a title, the first body line becomes the headline.

    Args:
        raw: the input (``kind="record"``).
        rules: the cleaning rules.

    Returns:
        The article, with ``published_at`` an aware UTC datetime or None.

    Raises:
        Rejected: ``malformed_jsonl`` when the fields are not a JSON object,
            title/body are not strings, or a text field holds a lone surrogate
            (``"\\ud800"``); ``no_body`` when no body text is left.
    """
    fields = raw.fields
    if fields is None:
        try:
            fields = json.loads(decode_text(raw.payload))
        except (ValueError, Rejected) as exc:
            raise Rejected("malformed_jsonl", f"not a JSON object: {exc}") from None
    if not isinstance(fields, dict):
        raise Rejected("malformed_jsonl", f"a JSONL record must be an object, got {type(fields).__name__}")
    title = fields.get("title") or ""
    body = fields.get("body")
    if body is None:
        body = fields.get("text")
    if body is None:
        body = ""
    if not isinstance(title, str) or not isinstance(body, str):
        raise Rejected("malformed_jsonl", "title and body/text must be strings")
    for key in ("title", "body", "text", "url", "source"):
        value = fields.get(key)
        if isinstance(value, str) and LONE_SURROGATE.search(value):
            # JSON's \ud800 escapes decode to lone surrogates, which no UTF-8 store can hold
            raise Rejected("malformed_jsonl", f"field {key!r} holds a lone surrogate escape: not Unicode text")
    source = fields.get("source") if isinstance(fields.get("source"), str) and fields.get("source") else raw.source

    headline = normalize_line(resolve_markup(title).replace("\n", " "))
    body_lines = _lines(resolve_markup(body))
    if not headline and body_lines:
        headline, body_lines = body_lines[0], body_lines[1:]
    if not body_lines:
        raise Rejected("no_body", "the record has no body text")
    paragraphs, removed, byline, dateline = _build_body(body_lines, rules, source, offset=1)
    if not paragraphs:
        raise Rejected("no_body", f"all {len(body_lines)} body lines were boilerplate")
    return Article(
        source=source,
        source_uri=raw.uri,
        content_hash=raw.content_hash,
        title=headline,
        paragraphs=paragraphs,
        dateline=dateline,
        byline=byline,
        published_at=parse_published(fields.get("published")),
        url=url_or_none(fields.get("url")),
        removed=removed,
    )


def parse_raw(raw: RawArticle, rules: RuleSet) -> Article:
    """Parse any raw input, dispatching on ``raw.kind`` (``dump``, ``record`` or ``html``).

    Raises:
        Rejected: as the parser for the kind does.
        ValueError: an unknown kind (a programming error in a source, not bad data).
    """
    if raw.kind == "dump":
        return parse_dump(raw, rules)
    if raw.kind == "record":
        return parse_record(raw, rules)
    if raw.kind == "html":
        from parsers.html import parse_html  # lazy: the page parser is only needed for pages

        article = parse_html(raw, rules)
        fields = raw.fields or {}  # where the page was fetched, and the feed's date, when the page has none
        article.url = url_or_none(article.url) or url_or_none(fields.get("final_url")) or url_or_none(fields.get("url"))
        article.published_at = article.published_at or parse_published(fields.get("published"))
        return article
    raise ValueError(f"unknown RawArticle.kind {raw.kind!r} (expected 'dump', 'record' or 'html')")
