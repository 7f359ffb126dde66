"""Property-based fuzzing of every parser: the strategies, the properties, one runner.

Shared by ``tests/test_fuzz.py`` (a few hundred examples per target in CI) and
``bench/fuzz.py`` (10,000 per target, failures counted instead of stopping at the first).

Each ``FuzzTarget`` is a hypothesis strategy of inputs and a ``check(value)`` that raises
``AssertionError`` (or anything else: a crash) when a property fails. The properties:

* **Refusal is the only failure.** A parser given any input returns its typed result or
  raises ``Rejected`` with a known reason and a non-empty detail; archive and JSONL
  sources yield ``RawArticle | Rejection`` and never raise.
* **Clean text out.** Every string of a parsed ``Article`` (title, paragraphs, dateline,
  byline, captions, removed lines) encodes to UTF-8 (no lone surrogates), holds no NUL
  or other control character, and each paragraph is a normalised line.
* **Normaliser.** ``normalize_line`` and ``fold_for_matching`` are idempotent;
  ``normalize_line`` leaves no odd space, invisible or control character, no doubled or
  edge space; ``fold_for_matching`` leaves no punctuation and agrees with
  ``words_for_matching``.
* **Cleaning partitions the body.** ``strip_boilerplate`` keeps some lines and removes
  the others, each exactly once, in order. **No removed line survives in the body**: a
  line removed by any rule but ``duplicate_line`` is not kept anywhere else (bodies of at
  most ``DUPLICATE_SPAN`` lines: a later copy is a duplicate, an earlier kept copy would
  have made this one a duplicate); ``duplicate_line`` removes later copies only, so its
  line survives as the first copy by design. Checked on articles too (dump, record, HTML
  line rules; not on HTML blocks, whose recorded text is cut at 200 characters).
* **Cleaning a cleaned body removes nothing more.** ``strip_boilerplate(kept)`` removes
  nothing when ``kept`` is what ``strip_boilerplate`` kept, for the default rules and a
  body of at most ``DUPLICATE_SPAN`` lines; and ``clean`` is a fixed point once the
  headline is put back: ``clean(headline + cleaned) == cleaned``. (``clean(clean(x))``
  itself is not: ``clean`` reads its first line as the headline.) This holds only because
  no default regex rule is scoped ``head``/``tail``: a user rule scoped ``tail`` may fire
  again, since removing lines moves others into its window (``test_fuzz.py`` shows one),
  and a body longer than ``DUPLICATE_SPAN`` may bring two copies of a line within reach.
  The edge rules are stable: their pass is repeated on the kept lines until it removes
  nothing (furniture that separated blocks is gone on a second pass, so blocks may join).
* **Rule matching.** ``CompiledRules.match`` (prefilters, joined groups, buckets) gives
  the same rule as a plain loop over the rules in match order.
* **Feeds and sitemaps** give entries with string URLs and aware datetimes, or
  ``Rejected("hostile" | "malformed_feed")``; a document declaring entities is always
  ``hostile``.
* **Archives** never write a file: the temporary tree holds only the archive after
  expansion; no item's identity escapes the archive (``..``, absolute paths).
"""

from __future__ import annotations

import codecs
import io
import json
import os
import re
import stat
import tarfile
import tempfile
import time
import traceback
import unicodedata
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from parsers.article import Article, RawArticle, Rejected, Rejection
from parsers.clean import DUPLICATE_SPAN, clean, strip_boilerplate
from parsers.dump import parse_raw
from parsers.feeds import SourceDocument, parse_source_document
from parsers.normalize import fold_for_matching, normalize_line, words_for_matching
from parsers.rules import RuleSet, match_form

# Every reason a parser or source may give (``Rejected`` docstring, ``flows/sources.py``).
KNOWN_REASONS = frozenset(
    {
        "empty", "binary", "undecodable", "too_large", "no_body", "malformed_jsonl", "unsafe_member",
        "bad_archive", "unreadable", "not_html", "hostile", "malformed_feed",
    }
)
_ROOT = str(Path(__file__).resolve().parent.parent)
RULES = RuleSet()
COMPILED = RULES.for_source(None)
# Every line rule but duplicate_line (which keeps the first copy of a line): a line one of
# them removes is never kept elsewhere in the body.
_NOT_KEPT_ELSEWHERE = frozenset(COMPILED.kinds) - {"duplicate_line"}
_POSITIONAL_REGEX = frozenset(r.name for r in COMPILED.rules if r.scope != "line")
# Characters that must never leave a parser: C0/C1 controls (tab/newline are not line
# content either), lone surrogates, non-characters, BOM.
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufeff\ufffe\uffff]")
_ODD_SPACE = re.compile("[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\u2028\u2029\u0085]")

# --------------------------------------------------------------------------- strategies

# Characters that break naive text handling: odd spaces, invisibles, controls, NUL, BOM,
# lone surrogates, non-characters, case-folding traps, combining marks, typography.
ODD_CHARS = (
    "\u00a0\u202f\u2009\u3000\u2028\u2029\u0085\t\r\n\v\f"  # spaces and line breaks
    "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"  # invisibles
    "\x00\x01\x07\x1b\x7f\x80\x9f"  # controls
    "\ud800\udbff\udc00\udfff\ufffe\uffff\ufffd"  # lone surrogates, non-characters
    "\u0130\u0131\u017f\u212a\u00df\ufb01\u03a3\u03c2"  # case traps: İ ı ſ K ß ﬁ Σ ς
    "\u0301\u0308\u0327"  # combining marks
    "\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u00ab\u00bb\u2212"  # typography
    "<>&;\"'/\\()[]|•·:"
)
_ODD = st.sampled_from(ODD_CHARS)
# odd characters dense enough that sequences (letter + invisible + combining mark) occur
odd_text = st.text(alphabet=st.one_of(_ODD, _ODD, st.characters(), st.sampled_from("ae o")), max_size=40)

_WORDS = (
    "minister council harbour vote budget river court school energy police market strike union farmers "
    "railway bridge hospital election mayor senate treaty border drought festival museum research vaccine"
).split()
HEADLINES = [
    "EXCLUSIVE – Hamas Paying Off Islamic State to Smuggle Weapons into Gaza",
    "Council approves harbour budget after a long night",
    "‘We will not back down’, says union leader",
    "Café owners in Zürich fear the new rent rules",
]
DATELINES = ["TEL AVIV –", "WASHINGTON (AP) —", "LONDON, Nov 24 (Reuters) -", "PARIS\u00a0–", "BERLIN —", "GAZA CITY, Gaza Strip (AP) —"]
BYLINES = ["By Jane Doe", "By JANE DOE and John Roe, Reuters", "By Aaron Klein", "By María José Núñez | Staff writer"]
CREDITS = ["Abid Katib/Getty Images", "(AP Photo/Evan Vucci)", "REUTERS/Kevin Lamarque", "Photo: Damian Dovarganes, AP",
           "Image source, Getty Images", "Getty Images", "Image 1 of 23"]
FOOTERS = ["Join the discussion", "Please let us know if you’re having issues with commenting.", "Comments (12)",
           "Sign up for our newsletter", "Follow us on Twitter", "Read more: Tencent profit falls as Alibaba threat weighs",
           "Share this article", "Facebook Twitter Email", "Advertisement", "Most Popular",
           "Copyright 2024 The Associated Press. All rights reserved.", "© 2024 Reuters",
           "Privacy Policy | Terms of Service", "Reuters November 18, 2019 11:03 PM", "Subscribe Sign In"]
PROSE = [
    "Top Hamas official Ismail Haniyeh declared earlier this week that the movement’s military wing will “stun the whole world.”",
    "The council voted 7–2 to approve the budget, which sets aside £30,000 for the harbour wall.",
    "A sentence that merely mentions Getty Images, comments and a newsletter stays in the story.",
    "“We’re building our strength above and below the ground,” Haniyeh said during a ceremony.",
]
STRAY_MARKUP = [
    "<p>A <b>bold</b> claim &amp; a &quot;quote&quot;</p>", "<script>var x = '<p>';</script>", "&nbsp;&#8212;&#x2019;",
    "<div><div><span>nested", "<!-- comment --> text", "<br/><br>Line<br />", "&bogus; &#99999999; &#xD800; &#0;",
]
# strategies are built once: building them inside composites costs more than drawing
_S_WORDS = st.lists(st.sampled_from(_WORDS), min_size=3, max_size=30)
_S_END = st.sampled_from([".", "!", "?", "", ":", "…", ".”"])
_S_PROSE = st.sampled_from(PROSE)
_S_HEADLINE = st.sampled_from(HEADLINES)
_S_DATELINE = st.sampled_from(DATELINES)
_S_BYLINE = st.sampled_from(BYLINES)
_S_CREDIT = st.sampled_from(CREDITS)
_S_FOOTER = st.sampled_from(FOOTERS)
_S_FURNITURE = st.sampled_from(FOOTERS + CREDITS + BYLINES)
_S_POOL = st.sampled_from(["prose", "prose", "prose", "head", "date", "by", "credit", "footer", "odd"])
_S_SPACE = st.sampled_from([" ", "\u00a0", "  ", "\u202f", " \u200b"])
_S_CASE = st.sampled_from([str.upper, str.lower, str.title])
_S_SEP = st.sampled_from(["\n\n", "\n", "\r\n", "\r\n\r\n", "\n \n", "\u2028"])
_S_MARKUP = st.sampled_from(STRAY_MARKUP)
_S_ENCODING = st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32",
                               "cp1252", "latin-1", "surrogates", "koi8-r"])
_S_DAMAGE = st.sampled_from(["none", "none", "none", "insert", "nul", "truncate", "bom", "junk-tail"])
_S_BOM = st.sampled_from([codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE])
_S_SHORT_BYTES = st.binary(min_size=1, max_size=16)
_S_TAIL_BYTES = st.binary(min_size=1, max_size=400)


@st.composite
def prose_line(draw) -> str:
    return " ".join(draw(_S_WORDS)).capitalize() + draw(_S_END)


_S_ANY_PROSE = st.one_of(prose_line(), _S_PROSE)


def _typographic(draw, line: str) -> str:
    """The same line as another tool would save it: NBSP, en dashes, curly or straight
    quotes, odd characters dropped in, case changed."""
    if draw(st.booleans()):
        line = line.replace(" ", draw(_S_SPACE))
    if draw(st.booleans()):
        line = line.replace("-", "–").replace("'", "’").replace('"', "“")
    if draw(st.booleans()):
        line = line.replace("’", "'").replace("“", '"').replace("”", '"').replace("–", "-").replace("—", "-")
    if draw(st.integers(0, 2)) == 0:
        at = draw(st.integers(0, len(line)))
        line = line[:at] + draw(odd_text) + line[at:]
    if draw(st.integers(0, 6)) == 0:
        line = draw(_S_CASE)(line)
    return line


@st.composite
def typographic(draw, line: str) -> str:
    return _typographic(draw, line)


@st.composite
def news_line(draw) -> str:
    pool = draw(_S_POOL)
    if pool == "prose":
        line = draw(_S_ANY_PROSE)
    elif pool == "head":
        line = draw(_S_HEADLINE)
    elif pool == "date":
        line = draw(_S_DATELINE) + " " + draw(_S_ANY_PROSE)
    elif pool == "by":
        line = draw(_S_BYLINE)
    elif pool == "credit":
        line = draw(_S_CREDIT)
    elif pool == "footer":
        line = draw(_S_FOOTER)
    else:
        line = draw(odd_text)
    return _typographic(draw, line)


_S_NEWS_LINE = news_line()
# Composition traps for the normaliser: decomposed accents, invisibles and odd spaces
# between a letter and its combining mark, compatibility characters, case traps.
composition_text = st.text(
    alphabet=st.sampled_from("aeioAEI \u00a0\u2009\u200b\u200d\u00ad\u2060\ufeff\u0301\u0308\u0327\u0323\u00e9"
                             "\u212b\u1e9b\u0130\u03a3\u1100\u1161\u11a8\x00\t\u0085"),
    max_size=12,
)
_S_FURNITURE_TYPO = _S_FURNITURE.flatmap(typographic)


@st.composite
def dump_text(draw, max_lines: int = 25) -> str:
    """A raw dump: headline, maybe credit/dateline/byline, paragraphs, footers; some stray markup."""
    lines = [draw(st.one_of(_S_HEADLINE, _S_NEWS_LINE))]
    lines += draw(st.lists(st.one_of(_S_CREDIT, _S_BYLINE), max_size=2))
    lines += draw(st.lists(_S_NEWS_LINE, max_size=max_lines))
    lines += draw(st.lists(_S_FOOTER, max_size=4))
    if draw(st.integers(0, 5)) == 0:  # stray HTML: tags, entities, a script
        lines.insert(draw(st.integers(0, len(lines))), draw(_S_MARKUP))
    return draw(_S_SEP).join(lines)


def _encode(draw, text: str) -> bytes:
    """Text as bytes the way files arrive: UTF-8 (with BOM), UTF-16 (with or without BOM),
    UTF-32, cp1252/latin-1, lone surrogates kept, or damaged: random bytes, NULs, truncation."""
    how = draw(_S_ENCODING)
    if how in ("surrogates", "utf-8"):
        payload = text.encode("utf-8", "surrogatepass")
    else:
        payload = text.encode(how, "replace")
    damage = draw(_S_DAMAGE)
    if damage == "insert" and payload:
        at = draw(st.integers(0, len(payload)))
        payload = payload[:at] + draw(_S_SHORT_BYTES) + payload[at:]
    elif damage == "nul":
        at = draw(st.integers(0, len(payload)))
        payload = payload[:at] + b"\x00" * draw(st.integers(1, 3)) + payload[at:]
    elif damage == "truncate":
        payload = payload[: draw(st.integers(0, len(payload)))]
    elif damage == "bom":
        payload = draw(_S_BOM) + payload
    elif damage == "junk-tail":
        payload += draw(_S_TAIL_BYTES)
    return payload


@st.composite
def encoded(draw, text: str) -> bytes:
    return _encode(draw, text)


_S_DUMP_TEXT = dump_text()
_S_SHORT_DUMP_TEXT = dump_text(max_lines=8)


@st.composite
def dump_payload(draw) -> bytes:
    shape = draw(st.integers(0, 5))
    if shape == 0:
        return draw(st.binary(max_size=300))  # random bytes
    if shape == 1:  # an ASCII headline, then random bytes
        return draw(_S_HEADLINE).encode() + b"\n\n" + draw(st.binary(max_size=300))
    return _encode(draw, draw(_S_DUMP_TEXT))


# --- JSONL

json_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), odd_text, _S_SHORT_DUMP_TEXT)
_S_JSON_ANY = st.one_of(json_scalar, st.lists(json_scalar, max_size=3), st.dictionaries(st.text(max_size=5), json_scalar, max_size=2))
_S_PUBLISHED = st.sampled_from(["2025-11-24T15:45:00Z", "Mon, 24 Nov 2025 15:45:00 GMT", "2025-13-45", "yesterday",
                                "2025-11-24 15:45+01:00", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+14:00"])
_S_RECORD_DAMAGE = st.integers(0, 9)


@st.composite
def jsonl_record(draw) -> bytes:
    fields: dict[str, Any] = {}
    for key in ("title", "body", "text", "url", "published", "source", "html"):
        choice = draw(st.integers(0, 5))
        if choice == 0 or key == "html" and choice < 5:
            continue
        if key in ("body", "text") and choice > 1:
            fields[key] = draw(_S_SHORT_DUMP_TEXT)
        elif key == "html":
            fields[key] = draw(_S_HTML_TEXT)
        elif key == "published" and choice > 2:
            fields[key] = draw(_S_PUBLISHED)
        elif key == "url" and choice > 2:
            fields[key] = draw(_S_LINK)
        elif key in ("title", "source") and choice > 2:
            fields[key] = draw(st.one_of(_S_HEADLINE, odd_text))
        else:
            fields[key] = draw(_S_JSON_ANY)
    line = json.dumps(fields, ensure_ascii=draw(st.booleans()))  # ensure_ascii: lone surrogates as \ud800
    payload = line.encode("utf-8", "surrogatepass")
    damage = draw(_S_RECORD_DAMAGE)
    if damage == 0:
        payload = payload[: draw(st.integers(0, len(payload)))]
    elif damage == 1:
        payload = draw(st.binary(max_size=80))
    elif damage == 2:
        payload = b'"just a string"' if draw(st.booleans()) else b"[1, 2, 3]"
    elif damage == 3:
        payload = b"[" * 5000 + b"]" * 5000  # deep nesting: json's RecursionError
    return payload


@st.composite
def jsonl_file(draw) -> bytes:
    lines = draw(st.lists(jsonl_record(), min_size=1, max_size=4))
    sep = b"\r\n" if draw(st.booleans()) else b"\n"
    data = sep.join(lines)
    if draw(st.booleans()):
        data += sep
    if draw(st.integers(0, 4)) == 0:
        data = codecs.BOM_UTF8 + data
    return data


# --- HTML

_TAGS = ["div", "p", "span", "article", "section", "nav", "footer", "header", "aside", "figure", "figcaption", "h1",
         "h2", "a", "ul", "li", "table", "tr", "td", "b", "i", "blockquote", "main", "time", "em", "strong", "form", "button"]
_CLASSES = ["article-body", "story", "share", "related", "comments", "newsletter", "ad", "byline", "caption", "content",
            "footer", "hidden", "promo", "article__text", "post-content", "social", "teaser", "card"]
_S_TAG = st.sampled_from(_TAGS)
_S_CLASSES = st.lists(st.sampled_from(_CLASSES), min_size=1, max_size=3)
_S_SPECIAL_ATTR = st.sampled_from(['style="display:none"', 'itemprop="articleBody"', 'role="navigation"', "hidden",
                                   'aria-hidden="true"', 'id="main"', 'data-x="<p>"'])
_S_LD_JSON = st.one_of(
    st.just('{"@type": "NewsArticle", "headline": "H", "articleBody": "Body text of the story that is long enough."}'),
    st.just('{"@graph": [{"@type": ["Article"], "author": [{"name": 5}], "datePublished": "not a date"}]}'),
    st.just('{"@type": "NewsArticle", "datePublished": "2025-11-24T10:00:00+99:00", "author": {"name": "\\ud800"}}'),
    odd_text.map(json.dumps), st.text(max_size=30),
)


def _attr_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def _html_attrs(draw) -> str:
    attrs = []
    if draw(st.booleans()):
        attrs.append(f'class="{" ".join(draw(_S_CLASSES))}"')
    if draw(st.integers(0, 6)) == 0:
        attrs.append(draw(_S_SPECIAL_ATTR))
    if draw(st.integers(0, 8)) == 0:
        attrs.append(f'title="{_attr_escape(draw(odd_text))}"')
    return (" " + " ".join(attrs)) if attrs else ""


html_leaf = st.one_of(
    _S_NEWS_LINE.map(lambda s: s.replace("<", "&lt;")),
    _S_PROSE,
    odd_text,
    st.sampled_from(["&amp;", "&nbsp;", "&#8212;", "&bogus;", "&#0;", "&#xD800;", "<br>", "<img src=x alt='Getty Images'>",
                     "<!-- c -->", "<![CDATA[x]]>", "<script>document.write('<p>x</p>')</script>", "<style>p{}</style>",
                     "</div>", "<p>", "<svg><text>x</text>", "<template><p>t</p></template>", "<noscript>n</noscript>"]),
)


def _element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    @st.composite
    def build(draw) -> str:
        tag = draw(_S_TAG)
        inner = "".join(draw(st.lists(children, max_size=4)))
        close = "" if draw(st.integers(0, 9)) == 0 else f"</{tag}>"  # some unclosed tags
        return f"<{tag}{_html_attrs(draw)}>{inner}{close}"

    return build()


html_body = st.recursive(html_leaf, _element, max_leaves=30)


@st.composite
def html_text(draw) -> str:
    title = draw(st.one_of(_S_HEADLINE, odd_text))
    head = f"<title>{title}</title>"
    if draw(st.booleans()):
        head += f'<meta property="og:title" content="{_attr_escape(title)}"><meta name="author" content="{draw(_S_BYLINE)}">'
    if draw(st.integers(0, 3)) == 0:
        head += f'<script type="application/ld+json">{draw(_S_LD_JSON)}</script>'
    body = "".join(draw(st.lists(html_body, min_size=1, max_size=3)))
    if draw(st.integers(0, 10)) == 0:  # deep nesting, closed or not
        depth = draw(st.integers(100, 3000))
        body = "<div>" * depth + body + "</div>" * draw(st.integers(0, depth))
    doc = f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"
    if draw(st.integers(0, 8)) == 0:
        doc = '<?xml version="1.0" encoding="utf-8"?>\n' + doc
    return doc


_S_HTML_TEXT = html_text()


@st.composite
def html_payload(draw) -> bytes:
    shape = draw(st.integers(0, 5))
    if shape == 0:
        return draw(st.binary(max_size=200))
    if shape == 1:
        return _encode(draw, draw(_S_SHORT_DUMP_TEXT))
    return _encode(draw, draw(_S_HTML_TEXT))


# --- feeds and sitemaps

LINKS = [
    "https://news.example/world/2025/11/24/story.html", "/local/path.html", "story?id=1&amp;b=2",
    "file:///etc/passwd", "ftp://files.example/a.txt", "javascript:alert(1)", "data:text/html,<p>x</p>",
    "//cdn.example/x", "http://169.254.169.254/latest/meta-data/", "http://[::1]/", "https://ex ample.com/",
    "http://127.0.0.1:0/x", "mailto:desk@news.example", "  https://news.example/padded  ", "#only-fragment",
    "http://xn--caf-dma.example/é", "https://news.example/%00%ff", "http://a:b@news.example:99999/", "http://[::1",
]
_S_LINK = st.one_of(st.sampled_from(LINKS), st.sampled_from(LINKS), odd_text)
_S_FEED_KIND = st.sampled_from(["rss", "atom", "sitemap", "index", "urls"])
_S_DATE_TEXT = st.sampled_from(["Mon, 24 Nov 2025 10:00:00 GMT", "2025-11-24T12:00:00Z", "garbage", "",
                                "2025-02-30T25:61:00+99:00", "Tue, 31 Feb 1900 99:99:99 XYZ", "9999-12-31T23:59:59-23:59"])
_S_TITLE = st.one_of(_S_HEADLINE, odd_text)


def _xml_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;")


@st.composite
def feed_document(draw) -> tuple[str, bytes]:
    kind = draw(_S_FEED_KIND)
    n = draw(st.integers(0, 5))
    esc = _xml_escape if draw(st.integers(0, 4)) else (lambda s: s)  # sometimes unescaped: broken XML
    items = []
    for i in range(n):
        url, title, date = esc(draw(_S_LINK)), esc(draw(_S_TITLE)), esc(draw(_S_DATE_TEXT))
        if kind == "rss":
            items.append(f"<item><title>{title}</title><link>{url}</link><pubDate>{date}</pubDate></item>")
        elif kind == "atom":
            items.append(f'<entry><title>{title}</title><id>urn:{i}</id><link href="{url}"/><updated>{date}</updated></entry>')
        elif kind in ("sitemap", "index"):
            tag = "sitemap" if kind == "index" else "url"
            news = (f"<news:news><news:publication_date>{date}</news:publication_date><news:title>{title}</news:title></news:news>"
                    if draw(st.booleans()) else f"<lastmod>{date}</lastmod>")
            items.append(f"<{tag}><loc>{url}</loc>{news}</{tag}>")
        else:
            items.append(url)
    body = "\n".join(items)
    if kind == "rss":
        doc = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>{body}</channel></rss>'
    elif kind == "atom":
        doc = f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>{body}</feed>'
    elif kind == "sitemap":
        doc = ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
               f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{body}</urlset>')
    elif kind == "index":
        doc = f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</sitemapindex>'
    else:
        doc = "# comment\n" + body
    twist = draw(st.integers(0, 9))
    if twist == 0 and doc.startswith("<?xml"):  # an entity declaration: the bomb's shape
        doc = doc.replace("?>", '?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>', 1)
    elif twist == 1 and doc.startswith("<?xml"):  # an external DTD
        doc = doc.replace("?>", '?><!DOCTYPE r SYSTEM "file:///etc/passwd">', 1)
    natural = {"rss": "feed", "atom": "feed", "index": "sitemap"}.get(kind, kind)
    source_kind = natural if draw(st.integers(0, 3)) else draw(st.sampled_from(["feed", "sitemap", "urls"]))
    return source_kind, _encode(draw, doc)


# --- archives


_MEMBER_NAMES = [
    "wire/a.txt", "b.txt", "page.html", "export.jsonl", "deep/er/c.txt", "ünï/çãø.txt", "../escape.txt", "/etc/abs.txt",
    "a/../../up.txt", "..\\win.txt", "C:\\drive.txt", "C:/drive2.txt", "./dot.txt", ".hidden.txt", "__MACOSX/._a.txt",
    "nested.zip", "inner.tar.gz", "README.md", "dir/", "x" * 200 + ".txt", "sp ace/tab\t.txt", "feed.jsonl.gz",
]
_MEMBER_TYPES = ["file", "file", "file", "file", "symlink", "hardlink", "chardev", "fifo", "dir"]
_S_MEMBER = st.tuples(st.sampled_from(_MEMBER_NAMES), st.sampled_from(_MEMBER_TYPES),
                      st.one_of(dump_payload(), jsonl_file(), _S_HTML_TEXT.map(lambda s: s.encode("utf-8", "surrogatepass"))))
_S_ARCHIVE_FORMAT = st.sampled_from(["zip", "tar", "tar.gz", "tgz", "tar.bz2"])
_S_ARCHIVE_DAMAGE = st.sampled_from(["none", "none", "none", "truncate", "flip", "junk"])


@st.composite
def archive(draw) -> tuple[str, bytes, list[tuple[str, str]]]:
    """(file name, archive bytes, [(member name, member type)])."""
    fmt = draw(_S_ARCHIVE_FORMAT)
    members = draw(st.lists(_S_MEMBER, max_size=4))
    buf = io.BytesIO()
    listed = []
    if fmt == "zip":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # duplicate member names are allowed: part of the test
            with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED if draw(st.booleans()) else zipfile.ZIP_STORED) as zf:
                for name, kind, payload in members:
                    info = zipfile.ZipInfo(name)
                    info.create_system = 3
                    mode = {"symlink": stat.S_IFLNK, "chardev": stat.S_IFCHR, "fifo": stat.S_IFIFO, "dir": stat.S_IFDIR}.get(kind, stat.S_IFREG)
                    info.external_attr = (mode | 0o644) << 16
                    zf.writestr(info, b"../../etc/passwd" if kind in ("symlink", "hardlink") else payload)
                    listed.append((name, kind))
    else:
        mode = {"tar": "w", "tar.gz": "w:gz", "tgz": "w:gz", "tar.bz2": "w:bz2"}[fmt]
        with tarfile.open(fileobj=buf, mode=mode, format=tarfile.GNU_FORMAT) as tf:
            for name, kind, payload in members:
                info = tarfile.TarInfo(name)
                info.type = {"symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE, "chardev": tarfile.CHRTYPE,
                             "fifo": tarfile.FIFOTYPE, "dir": tarfile.DIRTYPE}.get(kind, tarfile.REGTYPE)
                if kind in ("symlink", "hardlink"):
                    info.linkname = "../../etc/passwd"
                if kind == "file":
                    info.size = len(payload)
                    tf.addfile(info, io.BytesIO(payload))
                else:
                    tf.addfile(info)
                listed.append((name, kind))
    data = buf.getvalue()
    damage = draw(_S_ARCHIVE_DAMAGE)
    if damage == "truncate":
        data = data[: draw(st.integers(0, len(data)))]
    elif damage == "flip" and data:
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
    elif damage == "junk":
        data = draw(st.binary(max_size=200))
    return f"bundle.{fmt}", data, listed


# --------------------------------------------------------------------------- properties


def check_rejected(err: Rejected) -> None:
    assert err.reason in KNOWN_REASONS, f"unknown rejection reason {err.reason!r}"
    assert err.detail and err.detail.strip(), f"rejection {err.reason!r} without a detail"


def check_rejection(item: Rejection) -> None:
    assert item.reason in KNOWN_REASONS, f"unknown rejection reason {item.reason!r}"
    assert item.detail.strip(), f"rejection {item.reason!r} of {item.source_uri!r} without a detail"
    for s in (item.source, item.source_uri, item.detail):
        s.encode("utf-8")  # stored in DuckDB: a lone surrogate would fail the write


def check_clean_string(s: str | None, what: str) -> None:
    if s is None:
        return
    assert isinstance(s, str), f"{what} is {type(s).__name__}"
    s.encode("utf-8")  # raises on lone surrogates
    bad = _FORBIDDEN.search(s)
    assert bad is None, f"{what} holds {bad.group()!r}: {s[:80]!r}"


def check_article(article: Article, line_rules_removed_only: bool = True) -> None:
    """Invariants of any parsed article (dump, record or HTML)."""
    assert isinstance(article, Article)
    assert article.paragraphs, "an article without paragraphs must be rejected as no_body"
    check_clean_string(article.title, "title")
    check_clean_string(article.dateline, "dateline")
    check_clean_string(article.byline, "byline")
    check_clean_string(article.url, "url")
    for p in article.paragraphs:
        check_clean_string(p, "paragraph")
        assert p and normalize_line(p) == p, f"paragraph not normalised: {p!r}"
    for c in article.captions:
        check_clean_string(c, "caption")
    for r in article.removed:
        check_clean_string(r.text, f"removed line ({r.rule})")
        assert r.rule, "a removed line without its rule"
    for when in (article.published_at, article.modified_at):
        assert when is None or when.tzinfo is not None, "naive datetime"
    # a removed line does not also stay in the body (the first paragraph lost its dateline)
    first_is_whole = article.dateline is None
    body = set(article.paragraphs if first_is_whole else article.paragraphs[1:])
    for r in article.removed:
        if r.rule in _NOT_KEPT_ELSEWHERE:
            assert r.text not in body, f"{r.text!r} removed by {r.rule} but kept in the body"


def parse_or_reject(raw: RawArticle) -> None:
    try:
        article = parse_raw(raw, RULES)
    except Rejected as err:
        check_rejected(err)
    else:
        check_article(article)


def check_dump(payload: bytes) -> None:
    parse_or_reject(RawArticle("fuzz", "fuzz.txt", payload, "dump"))


def check_html(payload: bytes) -> None:
    parse_or_reject(RawArticle("fuzz", "fuzz.html", payload, "html", {"url": "https://news.example/a"}))


def check_normalize(text: str) -> None:
    line = normalize_line(text)
    assert normalize_line(line) == line, f"normalize_line not idempotent: {line!r} -> {normalize_line(line)!r}"
    assert line == line.strip() and "  " not in line, f"edge or doubled space in {line!r}"
    assert _ODD_SPACE.search(line) is None, f"odd space left in {line!r}"
    for ch in "\u200b\u200c\u200d\u2060\ufeff\u00ad":
        assert ch not in line, f"invisible {ch!r} left in {line!r}"
    assert not re.search("[\x00-\x1f\x7f-\x9f]", line), f"control character left in {line!r}"
    folded = fold_for_matching(text)
    assert fold_for_matching(folded) == folded, f"fold_for_matching not idempotent: {folded!r}"
    assert folded.split() == words_for_matching(text)
    assert not any(unicodedata.category(ch).startswith("P") for ch in folded), f"punctuation left in {folded!r}"
    assert fold_for_matching(line) == fold_for_matching(normalize_line(line))


def check_clean(lines: list[str]) -> None:
    """strip_boilerplate partitions the body; a second pass removes nothing; clean() gives normalised lines
    and is a fixed point with the headline put back."""
    body = [ln for ln in (normalize_line(x) for x in lines) if ln]
    kept, removed = strip_boilerplate(body, RULES)
    positions = [r.position for r in removed]
    assert positions == sorted(set(positions)), "removed positions repeat or are out of order"
    removed_at = set(positions)
    assert kept == [ln for i, ln in enumerate(body) if i not in removed_at], "kept + removed is not a partition"
    for r in removed:
        assert body[r.position] == r.text, "a removed line's text is not the line at its position"
        if r.rule == "duplicate_line":  # the first copy stays, unless a rule of its own took it
            assert r.text.casefold() in {ln.casefold() for ln in body[: r.position]}, f"{r.text!r} has no earlier copy"
        elif len(body) <= DUPLICATE_SPAN:
            assert r.text not in kept, f"{r.text!r} removed by {r.rule} but kept"
    assert not _POSITIONAL_REGEX, "a default rule is scoped head/tail: the second-pass property no longer holds"
    if len(body) <= DUPLICATE_SPAN:
        _, again = strip_boilerplate(kept, RULES)
        assert not again, f"second pass removed {[(r.text, r.rule) for r in again]}"
    text = "\n".join(lines)
    out = clean(text)
    for line in out.split("\n\n") if out else []:
        assert line and normalize_line(line) == line, f"clean() gave an unnormalised line {line!r}"
    text_lines = [ln for ln in (normalize_line(x) for x in text.splitlines()) if ln]
    if out and len(text_lines) > 1:  # clean() reads the first line as the headline
        assert clean(text_lines[0] + "\n\n" + out) == out, "clean is not a fixed point with the headline put back"


def _reference_match(line: str, position: int, n_lines: int):
    """The rule a plain loop picks: groups (flags, max_words, scope, window) in order of
    their first rule, members in order, the first whose pattern matches the whole line."""
    n_words = len(line.split())
    groups: dict[tuple, list] = {}
    for rule in COMPILED.rules:
        groups.setdefault((rule.flags, rule.max_words, rule.scope, rule.window), []).append(rule)
    text = match_form(line)
    for (flags, max_words, scope, window), members in groups.items():
        if max_words is not None and n_words > max_words:
            continue
        if scope == "head" and position >= window or scope == "tail" and position < n_lines - window:
            continue
        for rule in members:
            if re.fullmatch(rule.pattern, text, flags):
                return rule
    return None


def check_rules(case: tuple[str, int, int]) -> None:
    line, position, n_lines = case
    line = normalize_line(line)
    got = COMPILED.match(line, position, n_lines)
    want = _reference_match(line, position, n_lines)
    assert got == want, f"match({line!r}, {position}, {n_lines}) = {got and got.name}, plain loop: {want and want.name}"


def check_feed(case: tuple[str, bytes]) -> None:
    kind, body = case
    try:
        doc = parse_source_document(kind, body, "https://news.example/feed.xml")
    except Rejected as err:
        check_rejected(err)
        assert err.reason in ("hostile", "malformed_feed"), err.reason
        return
    assert kind == "urls" or b"<!ENTITY" not in body.upper().replace(b"\x00", b""), "entity declarations accepted"
    assert isinstance(doc, SourceDocument)
    for entry in doc.entries:
        assert isinstance(entry.url, str) and entry.url, f"entry URL {entry.url!r}"
        assert entry.published is None or (isinstance(entry.published, datetime) and entry.published.tzinfo is not None)
        assert entry.title is None or isinstance(entry.title, str)
    assert all(isinstance(u, str) for u in doc.sitemaps)


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _expand_and_parse(name: str, data: bytes) -> list[RawArticle | Rejection]:
    from flows.sources import count_inputs, iter_inputs

    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        root = Path(tmp)
        where = root / "a" / "b" / "c" / "in"  # '../../..' members would land inside root
        where.mkdir(parents=True)
        (where / name).write_bytes(data)
        before = _tree(root)
        items = list(iter_inputs([str(where / name)], max_bytes=200_000, max_archive_bytes=2_000_000))
        total = count_inputs([str(where / name)])  # the CLI's progress bar reads the archive too
        assert total is None or total >= 0
        after = _tree(root)
        assert after == before, f"expansion wrote files: {sorted(after - before)}"
    for item in items:
        if isinstance(item, Rejection):
            check_rejection(item)
        else:
            assert isinstance(item, RawArticle), type(item)
            parse_or_reject(item)
    return items


def check_archive(case: tuple[str, bytes, list[tuple[str, str]]]) -> None:
    name, data, _members = case
    for item in _expand_and_parse(name, data):
        if isinstance(item, RawArticle) and "!" in item.uri:
            inner = item.uri.split("!", 1)[1].split("#", 1)[0]
            parts = inner.replace("\\", "/").split("/")
            assert ".." not in parts and not inner.startswith("/") and not re.match(r"^[A-Za-z]:", inner), (
                f"member identity escapes the archive: {item.uri!r}")


def check_jsonl(data: bytes) -> None:
    items = _expand_and_parse("export.jsonl", data)
    assert items or not data.strip(b"\r\n\xef\xbb\xbf \t"), "a non-blank JSONL file yielded nothing"


# --------------------------------------------------------------------------- targets and runner


@dataclass(frozen=True)
class FuzzTarget:
    name: str
    strategy: st.SearchStrategy
    check: Callable[[Any], None]
    # examples relative to the others in CI (slow targets run fewer)
    ci_share: float = 1.0


_rule_case = st.tuples(
    st.one_of(_S_NEWS_LINE, _S_FURNITURE_TYPO),
    st.integers(0, 30),
    st.integers(1, 31),
).filter(lambda c: c[1] < c[2])

TARGETS: list[FuzzTarget] = [
    FuzzTarget("dump", dump_payload(), check_dump),
    FuzzTarget("jsonl", jsonl_file(), check_jsonl, 0.7),
    FuzzTarget("html", html_payload(), check_html),
    FuzzTarget("feeds", feed_document(), check_feed),
    FuzzTarget("archives", archive(), check_archive, 0.7),
    FuzzTarget("normalize", st.one_of(odd_text, _S_NEWS_LINE, composition_text), check_normalize),
    FuzzTarget("clean", st.lists(st.one_of(_S_NEWS_LINE, _S_FURNITURE_TYPO), max_size=40), check_clean),
    FuzzTarget("rules", _rule_case, check_rules),
]
TARGETS_BY_NAME = {t.name: t for t in TARGETS}

_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much, HealthCheck.large_base_example]
# CI: a few hundred examples per target, no example database (CI starts fresh anyway),
# derandomized so a red CI run is reproducible.
settings.register_profile("fuzz-ci", max_examples=300, deadline=None, suppress_health_check=_HEALTH,
                          database=None, derandomize=True, print_blob=True)


def ci_settings(target: FuzzTarget) -> settings:
    base = settings.get_profile("fuzz-ci")
    n = int(os.environ.get("NEWSDEDUP_FUZZ_EXAMPLES", base.max_examples))
    return settings(base, max_examples=max(10, int(n * target.ci_share)))


@dataclass
class FuzzReport:
    name: str
    examples: int = 0
    failures: int = 0
    seconds: float = 0.0
    first_failures: list[str] = field(default_factory=list)


def run_counting(target: FuzzTarget, n: int, seed: int, keep: int = 3) -> FuzzReport:
    """Run ``target`` on ``n`` generated examples and count failures instead of stopping
    at the first (for the bench); the first ``keep`` failures are kept with their input."""
    report = FuzzReport(target.name)

    def body(value: Any) -> None:
        report.examples += 1
        try:
            target.check(value)
        except Exception as exc:  # noqa: BLE001 - counting is the point: any exception is a failure
            report.failures += 1
            if len(report.first_failures) < keep:
                what = traceback.format_exception_only(type(exc), exc)[-1].strip()
                frames = traceback.extract_tb(exc.__traceback__)
                ours = [f for f in frames if f.filename.startswith(_ROOT) and "/.venv/" not in f.filename] or frames
                at = " <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in (ours[-1], frames[-1]))
                report.first_failures.append(f"{what}\n    at {at}\n    input: {value!r:.300}")

    test = settings(max_examples=n, deadline=None, suppress_health_check=_HEALTH, database=None)(given(target.strategy)(body))
    test = hypothesis_seed(seed)(test)
    t0 = time.perf_counter()
    test()
    report.seconds = time.perf_counter() - t0
    return report
