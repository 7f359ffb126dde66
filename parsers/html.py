"""News HTML page -> ``Article``: decode, metadata, main-text extraction, boilerplate rules.

Pure: ``parse_html(raw, rules)`` reads only ``raw.payload`` and returns an ``Article``
or raises ``Rejected``. ``clean_html(html)`` is the entry point of the shared cleaning
scorer (``--mode html``).

Steps:

1. **decode** (``decode_html``): BOM; strict UTF-8 (valid UTF-8 wins over a stale
   ``charset=iso-8859-1``); the ``<meta charset>`` the page declares (Latin-1 read
   as windows-1252, like browsers); then ``parsers.decode.decode_text``. Binary
   and non-HTML bytes are rejected (``binary``, ``not_html``).
2. **parse** with BeautifulSoup on lxml, after cutting scripts (JSON-LD kept),
   styles, inline SVG and comments out of the markup (``strip_raw_elements``:
   a quarter of a page's nodes, and parsing is most of the time). Metadata from
   JSON-LD, OpenGraph and meta tags (``parsers.html_metadata``).
3. **blocks**: one iterative walk of ``<body>`` (no recursion: 5,000-deep markup is
   fine) turns the tree into text blocks (the text between two block boundaries:
   ``p``, ``li``, ``h2``, ``div``, ``br``...), each with its link characters and
   owning element; every element keeps the contiguous range of blocks it holds.
   Form controls, media and hidden elements give no text.
4. **furniture**: elements that are page furniture by tag (``nav``, ``header``,
   ``footer``, ``aside``, ``form``), ARIA role, or class/id/aria-label word
   (``share``, ``newsletter``, ``related``, ``comment``, ``advert``, ``sidebar``,
   ``breadcrumb``, ``cookie``...) are dropped whole; each one with text becomes one
   ``RemovedLine`` (``html_<kind>_block``, text = its first 200 characters). An
   element is spared when it wraps the article (holds an ``<article>``/``<main>``/
   ``articleBody`` with a fair share of the prose, or most of the page's prose):
   ``has-comments`` or ``sidebar-left`` on a page wrapper must not drop the story.
   Captions and credits (``figure``, ``figcaption``, ``*caption*``/``*credit*``
   classes) go to ``Article.captions``, never to the body.
5. **main element**: every element scores the blocks it holds -- sentence-like
   blocks add their non-link characters (plus a bonus per comma, as readability
   does), other blocks subtract a share of theirs, link text costs most -- plus a
   bonus for article-like class names. Prose in teaser cards (a headline link and
   one summary in a small element: "more stories" streams) counts nothing. The
   best-scoring element is the body; the blocks outside it are recorded as one
   ``html_outside_main``.
6. **lines**: the body's blocks become lines (short link lines go as
   ``html_link_list``, an in-body ``<h1>`` as ``html_headline``) and pass through
   ``parsers.clean.strip_boilerplate`` like a text dump's, except its edge-trimming
   rules (``HTML_SKIPPED_LINE_RULES``): the structure already chose the span, and
   trimming cost 0.018 F1 (list items and sub-headings at the edges). So every
   removed block or line carries its rule.

Measured on the cleaning bench (``bench/cleaning_html.py``): F1 0.972, 0.4 junk
lines per page, ~13 ms/page median (parsing ~2/3 of it).
"""

from __future__ import annotations

import codecs
import itertools
import re
from dataclasses import dataclass, field

from bs4 import BeautifulSoup, NavigableString, Tag

from parsers.article import Article, RawArticle, Rejected, RemovedLine
from parsers.byline import byline_of
from parsers.clean import strip_boilerplate
from parsers.dateline import split_dateline
from parsers.decode import decode_text
from parsers.dump import resolve_markup
from parsers.html_metadata import PageMetadata, extract_metadata
from parsers.normalize import normalize_line
from parsers.rules import CompiledRules, RuleSet

MAX_PAGE_BYTES = 20_000_000  # larger "pages" are dumps of something else
# Building the tree costs ~50 us per element (100,000 nested or flat elements: 4-6 s), so
# a page with more is refused before parsing. The largest of the 181 pages of the
# cleaning bench has 3,229 tags; 60,000 is ~20x that.
MAX_PAGE_TAGS = 60_000
_START_TAG = re.compile(r"<[A-Za-z]")
REMOVED_TEXT_CHARS = 200  # RemovedLine.text of a dropped block: its first 200 characters

# ---------------------------------------------------------------- tags

BLOCK_TAGS = frozenset(
    """address article aside blockquote body br caption center dd details dialog div dl dt
    fieldset figcaption figure footer form h1 h2 h3 h4 h5 h6 header hr html li main nav ol
    p pre section summary table tbody td tfoot th thead tr ul""".split()
)
# Elements whose content is never article text.
SKIP_TAGS = frozenset(
    """script style noscript template svg math iframe object embed canvas map head link meta
    button input select textarea option datalist audio video source track picture img title""".split()
)
# Furniture by tag name: (rule, kind).
FURNITURE_TAGS = {
    "nav": ("html_navigation_block", "navigation"),
    "header": ("html_header_block", "navigation"),
    "footer": ("html_footer_block", "navigation"),
    "aside": ("html_aside_block", "related"),
    "form": ("html_form_block", "other"),
    "dialog": ("html_dialog_block", "other"),
}
FURNITURE_ROLES = {
    "navigation": ("html_navigation_block", "navigation"),
    "banner": ("html_header_block", "navigation"),
    "contentinfo": ("html_footer_block", "navigation"),
    "complementary": ("html_aside_block", "related"),
    "search": ("html_form_block", "other"),
    "dialog": ("html_dialog_block", "other"),
    "alertdialog": ("html_dialog_block", "other"),
    "menu": ("html_navigation_block", "navigation"),
    "menubar": ("html_navigation_block", "navigation"),
    "toolbar": ("html_share_block", "share"),
}
CAPTION_TAGS = frozenset({"figure", "figcaption"})

# Class/id/aria-label patterns, matched at the start of a word of the attribute
# (``social-share``, ``shareBar``, ``article_related``), first match wins.
_W = r"(?:^|(?<=[\s_\-]))"  # the start of a class word or of one of its dash/underscore parts
FURNITURE_PATTERNS: tuple[tuple[str, str, str], ...] = (
    ("html_caption_block", "caption",
     rf"{_W}(?:(?:wp-|image-?|img-?|photo-?|media-?|picture-?)?caption|(?:photo-?|image-?|img-?|media-?)?credits?|"
     rf"figcaption|copyright-?(?:image|photo))"),
    ("html_hidden_block", "other",
     # whole class words only: responsive classes like hidden-xs hide a block on small screens only
     r"(?:^|(?<=\s))(?:hidden|hide|visually-?hidden|sr-?only|screen-?reader-?(?:text|only)?|invisible|"
     r"offscreen|print-?only)(?=$|\s)"),
    ("html_legal_block", "legal",
     rf"{_W}(?:cookie\w*|consent|gdpr|disclaimer|copyright|legal|privacy)"),
    ("html_comments_block", "comment_footer",
     rf"{_W}(?:comments?|commentary-?form|disqus|discussion|respond|replies|reply|livefyre|fb-comments|coral|"
     rf"talk-?stream|viafoura|spot-?im|openweb)"),
    ("html_share_block", "share",
     rf"{_W}(?:share|sharing|shares|social|sociable|addthis|sharethis|shareaholic|a2a|st-?btns|"
     rf"print-?(?:button|link|page)|email-?(?:button|link|share)|tools|toolbar|follow-?us|article-?actions)"),
    ("html_newsletter_block", "newsletter",
     rf"{_W}(?:newsletters?|subscribe|subscription|signup|sign-up|mailing|optin|opt-in|inline-?signup|"
     rf"email-?(?:signup|capture|form))"),
    ("html_related_block", "related",
     rf"{_W}(?:related|recommend\w*|more-?(?:stories|articles|news|from|on|like)|read-?more|readmore|also-?read|"
     rf"trending|popular|most-?(?:read|viewed|popular|shared)|mostread|outbrain|taboola|recirc\w*|"
     rf"you-?may|next-?(?:article|story|post)|prev-?next|post-?navigation|teasers?|tags|tag-?list|"
     rf"keywords|topics|categories|more-?links|see-?also|headlines)"),
    ("html_promo_block", "promo",
     rf"{_W}(?:promo\w*|sponsor\w*|partner\w*|native-?ad|branded|paid-?content|affiliate|offer|deal-?box|"
     rf"banner|marketing|cta|call-?to-?action|app-?download|download-?app|donate|membership|"
     rf"paywall-?(?:prompt|promo))"),
    ("html_advert_block", "advertisement",
     rf"{_W}(?:ad|ads|adv|advert\w*|adslot|ad-?slot|adunit|ad-?unit|ad-?container|ad-?wrapper|adbox|adsense|"
     rf"dfp|gpt|google-?ad\w*|doubleclick|dc-?slot|leaderboard|skyscraper|mpu|billboard|"
     rf"taboola|outbrain)(?:$|(?=[\s_\-\d]))"),
    ("html_sidebar_block", "related", rf"{_W}(?:sidebar|side-?bar|rail|right-?col\w*|left-?col\w*|widget\w*)"),
    ("html_navigation_block", "navigation",
     rf"{_W}(?:nav|navbar|navigation|menu|breadcrumbs?|crumbs|pagination|pager|skip-?link|masthead|"
     rf"top-?bar|site-?header|site-?footer|footer|header|jump-?link|toc)(?:$|(?=[\s_\-]))"),
    ("html_byline_block", "byline_meta",
     rf"{_W}(?:byline|bylines|author-?(?:bio|info|box|card|details|meta|wrap\w*)|about-?(?:the-)?author|"
     rf"dateline|timestamp|date|time|post-?meta|entry-?meta|article-?meta|meta|posted-?on|published)(?:$|(?=[\s_\-]))"),
    ("html_popup_block", "other", rf"{_W}(?:modal|popup|pop-?up|overlay|lightbox|interstitial|lazy-?load-?more)"),
)
_FURNITURE_RE = [(rule, kind, re.compile(pattern, re.IGNORECASE)) for rule, kind, pattern in FURNITURE_PATTERNS]
# Class names of an article body (readability's positive weights, trimmed).
_POSITIVE = re.compile(
    r"article|body|content|entry|main|post|story|text|blog|prose|rich-?text|paragraph", re.IGNORECASE
)
_NEGATIVE = re.compile(
    r"comment|footer|footnote|masthead|meta|outbrain|promo|related|scroll|share|shoutbox|sidebar|"
    r"skyscraper|sponsor|shopping|tags|tool|widget|teaser|card|list|nav|menu", re.IGNORECASE
)
_BODY_PROPS = frozenset({"articlebody", "text", "articletext", "reviewbody"})
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_SENTENCE_END = re.compile(r"""[.!?…:;。！？]["'”’»)\]]*$""")
_COMMAS = re.compile(r"[,，、،]")
_WS = re.compile(r"\s+")

# ---------------------------------------------------------------- decoding

_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]{2,40})""", re.IGNORECASE
)
_HTML_SIGN = re.compile(
    r"<(?:!doctype\s+html|html|head|body|meta|title|p|div|article|main|section|span|a|br|table|h[1-6])[\s>/]",
    re.IGNORECASE,
)
_LATIN = frozenset({"iso8859-1", "ascii"})  # codecs.lookup names


def decode_html(payload: bytes) -> str:
    """Decode the bytes of an HTML page.

    Order: byte-order mark; strict UTF-8 (valid UTF-8 with non-ASCII bytes is
    UTF-8 whatever the page declares: pages saved as UTF-8 keep their old
    ``charset=iso-8859-1`` tag); the ``<meta charset>`` / ``http-equiv`` charset of
    the first 4 KB (Latin-1 and ASCII read as windows-1252, as browsers do); then
    ``decode_text`` (cp1252 heuristics, charset-normalizer).

    Args:
        payload: the raw page bytes.

    Returns:
        The page text.

    Raises:
        Rejected: ``empty``, ``too_large``, ``binary`` (NUL bytes outside UTF-16,
            control characters) or ``undecodable``.
    """
    if not payload or not payload.strip():
        raise Rejected("empty", "the page has no bytes other than whitespace")
    if len(payload) > MAX_PAGE_BYTES:
        raise Rejected("too_large", f"{len(payload)} bytes is more than an HTML page ({MAX_PAGE_BYTES})")
    if b"\x00" in payload or payload.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return decode_text(payload)  # BOMs, UTF-16 without BOM, binary detection live there
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        pass
    m = _META_CHARSET.search(payload, 0, 4096)
    declared = _codec(m.group(1).decode("ascii").lower()) if m else None
    if declared in _LATIN:
        declared = "cp1252"
    if declared and not declared.startswith(("utf-16", "utf-32")):
        try:
            return payload.decode(declared)
        except UnicodeDecodeError:
            pass
    return decode_text(payload)


def _codec(name: str) -> str | None:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


# ---------------------------------------------------------------- blocks


@dataclass(slots=True)
class _Page:
    """The body as text blocks and the elements that hold them (parallel lists).

    Elements are in document (pre-)order; element ``i`` holds blocks
    ``first[i]:end[i]``. A block is owned by the innermost block-level element open
    when its text ends.
    """

    parent: list[int] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    first: list[int] = field(default_factory=list)
    end: list[int] = field(default_factory=list)
    flag: dict[int, tuple[str, str]] = field(default_factory=dict)  # element -> (rule, kind)
    weight: dict[int, int] = field(default_factory=dict)  # element -> class-name bonus
    markers: list[int] = field(default_factory=list)  # <article>, <main>, itemprop=articleBody
    text: list[str] = field(default_factory=list)
    links: list[int] = field(default_factory=list)  # characters of link text per block
    owner: list[int] = field(default_factory=list)


_classify_cache: dict[str, tuple[tuple[str, str] | None, int]] = {}


def _classify(signature: str) -> tuple[tuple[str, str] | None, int]:
    """Furniture (rule, kind) or None, and the article-likeness bonus, of a class/id
    signature (lower-cased). Cached: a page repeats its classes."""
    hit = _classify_cache.get(signature)
    if hit is not None:
        return hit
    found = None
    for rule, kind, rx in _FURNITURE_RE:
        if rx.search(signature):
            found = (rule, kind)
            break
    bonus = (25 if _POSITIVE.search(signature) else 0) - (25 if _NEGATIVE.search(signature) else 0)
    if len(_classify_cache) > 50_000:
        _classify_cache.clear()
    _classify_cache[signature] = (found, bonus)
    return found, bonus


def _walk(body: Tag) -> _Page:
    """Turn the body into blocks and element ranges in one iterative pass (no recursion)."""
    page = _Page()
    parent, name, first, end = page.parent, page.name, page.first, page.end
    texts, links, owners = page.text, page.links, page.owner
    flags, weights, markers = page.flag, page.weight, page.markers
    pieces: list[str] = []
    link_chars = 0
    link_depth = 0
    open_blocks: list[int] = [0]  # stack of open block-level/flagged elements
    ws_sub = _WS.sub

    def flush() -> None:
        nonlocal link_chars
        if pieces:
            text = ws_sub(" ", "".join(pieces)).strip()
            if text:
                texts.append(text)
                links.append(min(link_chars, len(text)))
                owners.append(open_blocks[-1])
            pieces.clear()
        link_chars = 0

    # stack entries: a node to enter, or (element, is_block, is_link) to close
    stack: list[object] = [body]
    current: list[int] = [-1]  # open elements (for parent links)
    string_type = NavigableString
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is string_type:  # not comments, doctype, CDATA (subclasses)
            pieces.append(node)
            if link_depth:
                link_chars += len(node.strip())
            continue
        if kind is tuple:
            idx, is_block, is_link = node
            if is_block:
                flush()
                open_blocks.pop()
            if is_link:
                link_depth -= 1
            end[idx] = len(texts)
            current.pop()
            continue
        if kind is not Tag:
            continue
        tag_name = node.name
        if tag_name in SKIP_TAGS:
            continue
        if tag_name == "br":
            flush()
            continue
        flag = FURNITURE_TAGS.get(tag_name)
        if tag_name in CAPTION_TAGS:
            flag = ("html_caption_block", "caption")
        bonus = 0
        is_marker = tag_name == "article" or tag_name == "main"
        attrs = node.attrs
        if attrs and tag_name != "body" and tag_name != "html":  # page-wide classes say nothing about a block
            if "hidden" in attrs or (attrs.get("aria-hidden") == "true" and not is_marker):
                continue
            style = attrs.get("style")
            if style and _HIDDEN_STYLE.search(style):
                continue
            cls = attrs.get("class")
            if isinstance(cls, list):
                cls = " ".join(cls)
            ident = attrs.get("id")
            if cls or ident:
                found, bonus = _classify(f"{cls or ''} {ident or ''}".lower())
                flag = flag or found
            role = attrs.get("role")
            if flag is None and role:
                flag = FURNITURE_ROLES.get(role.lower())
            label = attrs.get("aria-label")
            if flag is None and label and len(label) < 60:
                flag = _classify(label.lower().replace(" ", "-"))[0]
            prop = attrs.get("itemprop")
            if prop and prop.lower() in _BODY_PROPS:
                is_marker = True
                bonus += 50
        idx = len(name)
        parent.append(current[-1])
        name.append(tag_name)
        is_block = flag is not None or tag_name in BLOCK_TAGS
        if is_block:
            flush()
            open_blocks.append(idx)
        first.append(len(texts))
        end.append(0)
        if flag is not None:
            flags[idx] = flag
        if bonus:
            weights[idx] = bonus
        if is_marker and (flag is None or flag[1] not in ("comment_footer", "related")):
            markers.append(idx)
        is_link = tag_name == "a"
        if is_link:
            link_depth += 1
        current.append(idx)
        stack.append((idx, is_block, is_link))
        stack.extend(reversed(node.contents))
    flush()
    return page


# ---------------------------------------------------------------- main text


@dataclass(slots=True)
class Extraction:
    """The main text of a page: body lines, captions and what was dropped."""

    lines: list[str]
    captions: list[str]
    removed: list[RemovedLine]


# A prose block: long enough, or a sentence, with few links.
PROSE_CHARS = 80
SENTENCE_CHARS = 30
MAX_PROSE_LINK_SHARE = 0.35
# Non-prose text inside a candidate costs this much per character (link lists,
# labels, teaser headlines); prose counts +1 per character.
NONPROSE_COST = 0.3
LINK_COST = 1.0
# Link text inside a sentence-like block (a linked lead sentence in a bullet) costs less.
PROSE_LINK_COST = 0.5
COMMA_BONUS = 10
# Teaser cards (see _teaser_cards): prose in them counts this much.
CARD_MAX_CHARS = 700
CARD_MAX_PROSE = 1
CARD_WEIGHT = 0.0
# A furniture-flagged element is kept when it holds this share of the page's prose.
SPARE_SHARE = 0.6
# An <article>/<main>/articleBody element protects its ancestors when it holds this share of the prose.
MARKER_MIN_SHARE = 0.25


def _is_prose(text: str, n_links: int) -> bool:
    n = len(text)
    if n_links > MAX_PROSE_LINK_SHARE * n:
        return False
    if n >= PROSE_CHARS:
        return True
    return n >= SENTENCE_CHARS and bool(_SENTENCE_END.search(text))


def extract_main(body: Tag) -> Extraction:
    """Pick the main text of a page body.

    Args:
        body: the ``<body>`` (or root) element of the parsed page.

    Returns:
        The body lines (not yet through the line rules), captions and removed blocks.
    """
    page = _walk(body)
    if not page.text:
        return Extraction(lines=[], captions=[], removed=[])
    prose = [_is_prose(t, lk) for t, lk in zip(page.text, page.links)]
    why, removed, captions = _drop_furniture(page, prose)
    best = _choose_main(page, why, prose)
    lines = _body_lines(page, why, best, removed)
    removed.sort(key=lambda r: r.position)
    return Extraction(lines=lines, captions=captions, removed=removed)


Why = list[tuple[str, str] | None]  # per block: (rule, kind) of what dropped it, or None


def _drop_furniture(page: _Page, prose: list[bool]) -> tuple[Why, list[RemovedLine], list[str]]:
    """Mark the blocks of furniture elements; returns (why per block, removed blocks, captions)."""
    texts = page.text
    prose_prefix = [0]
    for t, p in zip(texts, prose):
        prose_prefix.append(prose_prefix[-1] + (len(t) if p else 0))
    total_prose = prose_prefix[-1]

    # Elements that wrap the article are never furniture. A marker counts when it holds
    # a fair share of the page's prose (teaser streams are lists of small <article>s).
    wraps_article: set[int] = set()
    for m in page.markers:
        if prose_prefix[page.end[m]] - prose_prefix[page.first[m]] < MARKER_MIN_SHARE * total_prose:
            continue
        e = page.parent[m]
        while e >= 0 and e not in wraps_article:
            wraps_article.add(e)
            e = page.parent[e]

    why: Why = [None] * len(texts)  # (rule, kind) of a dropped block
    removed: list[RemovedLine] = []
    captions: list[str] = []
    for e in sorted(page.flag):
        a, b = page.first[e], page.end[e]
        if a == b or why[a] is not None:
            continue  # no text, or inside an element already dropped
        rule, kind = page.flag[e]
        if kind != "caption":
            if e in wraps_article:
                continue
            share = prose_prefix[b] - prose_prefix[a]
            if total_prose and share >= SPARE_SHARE * total_prose and kind != "comment_footer":
                continue
        for i in range(a, b):
            why[i] = (rule, kind)
        text = normalize_line(" ".join(texts[a:b]))
        if kind == "caption":
            if text and text not in captions:
                captions.append(text)
        elif text:
            if rule == "html_footer_block" and _COPYRIGHT.search(text):
                kind = "copyright"  # a page footer that carries the copyright notice
            removed.append(RemovedLine(text=text[:REMOVED_TEXT_CHARS], rule=rule, position=a, kind=kind))
    return why, removed, captions


_COPYRIGHT = re.compile(r"©|\(c\)\s*\d{4}|\bcopyright\b|\ball rights reserved\b", re.IGNORECASE)


def _teaser_cards(page: _Page, prose: list[bool]) -> set[int]:
    """Prose blocks that sit in a teaser card: a small element holding a headline link
    and at most ``CARD_MAX_PROSE`` prose blocks -- the summaries of other stories in
    related/latest streams. (Headings without a link do not make a card: listicles
    are sections of a heading and one paragraph.)"""
    texts, links, owner, parent = page.text, page.links, page.owner, page.parent
    chars, titles, proses = [0], [0], [0]
    for i, text in enumerate(texts):
        n = len(text)
        chars.append(chars[-1] + n)
        is_title = n >= 15 and links[i] >= 0.8 * n  # a headline link
        titles.append(titles[-1] + is_title)
        proses.append(proses[-1] + prose[i])
    first, end = page.first, page.end
    cards: set[int] = set()
    for i in range(len(texts)):
        if not prose[i]:
            continue
        e = owner[i]
        while e >= 0:
            a, b = first[e], end[e]
            if chars[b] - chars[a] > CARD_MAX_CHARS or proses[b] - proses[a] > CARD_MAX_PROSE:
                break
            if titles[b] - titles[a] > 0:
                cards.add(i)
                break
            e = parent[e]
    return cards


def _element_scores(page: _Page, why: Why, prose: list[bool]) -> list[float]:
    """Score of every element: prose characters in it minus the cost of its other text."""
    texts, links = page.text, page.links
    cards = _teaser_cards(page, prose)
    prefix = [0.0]
    for i, text in enumerate(texts):
        v = 0.0
        if why[i] is None:
            n, lk = len(text), links[i]
            if n >= PROSE_CHARS or (n >= SENTENCE_CHARS and _SENTENCE_END.search(text)):
                v = n - lk - PROSE_LINK_COST * lk + COMMA_BONUS * len(_COMMAS.findall(text))
                if i in cards:
                    v *= CARD_WEIGHT
            else:
                v = -(NONPROSE_COST * (n - lk) + LINK_COST * lk)
        prefix.append(prefix[-1] + v)
    weight = page.weight
    return [
        prefix[b] - prefix[a] + 4 * weight.get(e, 0) if a < b else float("-inf")
        for e, (a, b) in enumerate(zip(page.first, page.end))
    ]


def _choose_main(page: _Page, why: Why, prose: list[bool]) -> int:
    """The element holding the article body: the best score (ties keep the outer element)."""
    scores = _element_scores(page, why, prose)
    best = 0
    for e, score in enumerate(scores):
        if score > scores[best]:
            best = e
    return best


def _body_lines(page: _Page, why: Why, best: int, removed: list[RemovedLine]) -> list[str]:
    """The lines of the main element; what lies outside it or is a link list is recorded in ``removed``."""
    texts, links, owner = page.text, page.links, page.owner
    a, b = page.first[best], page.end[best]
    outside = [i for i in range(len(texts)) if why[i] is None and not a <= i < b]
    if outside:
        for i in outside:
            why[i] = ("html_outside_main", "other")
        text = normalize_line(" | ".join(texts[i] for i in outside[:20]))
        removed.append(
            RemovedLine(text=text[:REMOVED_TEXT_CHARS], rule="html_outside_main", position=outside[0], kind="other")
        )

    lines: list[str] = []
    for i in range(a, b):
        if why[i] is not None:
            continue
        text = normalize_line(texts[i])
        if not text:
            continue
        if page.name[owner[i]] == "h1":
            why[i] = ("html_headline", "other")
            removed.append(RemovedLine(text=text[:REMOVED_TEXT_CHARS], rule="html_headline", position=i, kind="other"))
            continue
        if links[i] > 0.6 * len(texts[i]) and len(texts[i]) < 200:
            why[i] = ("html_link_list", "related")
            removed.append(
                RemovedLine(text=text[:REMOVED_TEXT_CHARS], rule="html_link_list", position=i, kind="related")
            )
            continue
        lines.append(text)
    return lines


# ---------------------------------------------------------------- entry points


_RAW_OPEN = re.compile(r"<(script|style|svg|noscript|template)\b[^>]*>|<!--", re.IGNORECASE)
_RAW_CLOSE = {
    tag: re.compile(rf"</{tag}\b[^>]*>", re.IGNORECASE) for tag in ("script", "style", "svg", "noscript", "template")
}


def strip_raw_elements(html: str) -> str:
    """Cut scripts (but JSON-LD), styles, inline SVG, noscript, templates and comments
    out of the markup before parsing: they hold no article text and are a quarter of
    a news page's nodes. Linear time: each opening tag is matched with the next
    closing tag (an unclosed one stops the cutting of that element, as it would
    swallow the rest of the page anyway)."""
    out: list[str] = []
    pos = 0
    unclosed: set[str] = set()
    m = _RAW_OPEN.search(html)
    while m is not None:
        tag = (m.group(1) or "!--").lower()
        if tag in unclosed or (tag == "script" and "ld+json" in m.group(0).lower()):
            m = _RAW_OPEN.search(html, m.end())
            continue
        if tag == "!--":
            stop = html.find("-->", m.end())
            stop = stop + 3 if stop >= 0 else -1
        else:
            close = _RAW_CLOSE[tag].search(html, m.end())
            stop = close.end() if close is not None else -1
        if stop < 0:
            unclosed.add(tag)
            m = _RAW_OPEN.search(html, m.end())
            continue
        out.append(html[pos : m.start()])
        pos = stop
        m = _RAW_OPEN.search(html, pos)
    if not out:
        return html
    out.append(html[pos:])
    return "".join(out)


def _markup(text: str) -> str:
    """The page text as it is handed to the HTML parser (prolog and raw elements cut)."""
    if text.startswith("<?xml") or text.lstrip().startswith("<?xml"):
        text = text[text.find("?>") + 2 :]  # XHTML: the prolog only makes bs4 warn; lxml reads the rest as HTML
    return strip_raw_elements(text)


def _soup(text: str, markup: str | None = None) -> BeautifulSoup:
    # multi_valued_attributes=None: class stays one string (we only search it); faster
    return BeautifulSoup(_markup(text) if markup is None else markup, "lxml", multi_valued_attributes=None)


def _too_many_tags(markup: str) -> int:
    """The number of start tags when over MAX_PAGE_TAGS (counting stops there), else 0."""
    n = sum(1 for _ in itertools.islice(_START_TAG.finditer(markup), MAX_PAGE_TAGS + 1))
    return n if n > MAX_PAGE_TAGS else 0


def _ld_json(soup: BeautifulSoup) -> list[str]:
    return [
        s.string or s.get_text()
        for s in soup.find_all("script", attrs={"type": re.compile(r"ld\+json", re.IGNORECASE)})
    ]


def _hint_lines(md: PageMetadata) -> list[str]:
    """Lines of the JSON-LD ``articleBody``: the fallback when the markup holds no main text
    (on the cleaning bench the markup is the better source on every page that has both)."""
    if not md.body_hint:
        return []
    text = resolve_markup(md.body_hint) if "<" in md.body_hint else md.body_hint
    return [line for line in (normalize_line(x) for x in text.splitlines()) if line]


def parse_html(raw: RawArticle, rules: RuleSet) -> Article:
    """Parse one news HTML page into a cleaned ``Article``.

    Args:
        raw: the page; ``raw.payload`` holds its bytes.
        rules: the cleaning rules (per-source rules of ``raw.source`` apply to the lines).

    Returns:
        The article: title, paragraphs, byline (authors), published/modified
        times (UTC), canonical URL, site name, language, captions, and every
        removed block or line with its rule.

    Raises:
        Rejected: ``empty``/``binary``/``undecodable``/``too_large`` (bytes, or
            more than ``MAX_PAGE_TAGS`` elements), ``not_html`` (text without HTML
            markup), ``hostile`` (markup nested too deep to walk), ``no_body`` (no
            main text left).
    """
    text = decode_html(raw.payload)
    if not _HTML_SIGN.search(text, 0, 200_000):
        raise Rejected("not_html", "no HTML tags in the first 200 kB")
    markup = _markup(text)
    if _too_many_tags(markup):
        raise Rejected("too_large", f"more than {MAX_PAGE_TAGS:,} HTML elements, more than a news page has")
    try:
        soup = _soup(text, markup)
        md = extract_metadata(soup, _ld_json(soup))
        body = soup.body or soup
        ext = extract_main(body)
    except RecursionError:
        raise Rejected("hostile", "markup nested too deep to walk") from None
    if not ext.lines:
        ext.lines = _hint_lines(md)  # a page rendered by script may still publish its text in JSON-LD
    if not ext.lines:
        raise Rejected("no_body", "no main text found in the page")
    kept, line_removed = strip_boilerplate(ext.lines, line_rules(rules, raw.source))
    if not kept:
        raise Rejected("no_body", f"all {len(ext.lines)} main-text lines were boilerplate")
    removed = ext.removed + [
        RemovedLine(r.text, r.rule, r.position, r.evidence, r.kind) for r in line_removed
    ]
    byline = ", ".join(md.authors) if md.authors else None
    if byline is None:  # no author in the metadata: a "By ..." line or byline block we removed
        bylines = (byline_of(r.text.split("\n", 1)[0].strip()) for r in (*line_removed, *ext.removed)
                   if r.rule in ("byline", "html_byline_block"))
        byline = next((b for b in bylines if b), None)
    dateline, first = split_dateline(kept[0])
    if dateline is not None:
        kept[0] = first
    return Article(
        source=raw.source,
        source_uri=raw.uri,
        content_hash=raw.content_hash,
        title=md.title or "",
        paragraphs=kept,
        dateline=dateline,
        byline=byline,
        published_at=md.published_at,
        url=md.url,
        removed=removed,
        captions=ext.captions,
        site_name=md.site_name,
        language=md.language,
        modified_at=md.modified_at,
    )


# Structural line rules of parsers.clean that the HTML structure already did better
# (the main element is chosen; short lines at its edges are list items and sub-headings;
# the page's metadata copy of the story, which duplicate_text catches in a text dump,
# is never inside it).
HTML_SKIPPED_LINE_RULES: frozenset[str] = frozenset(
    {"edge_nonprose_head", "edge_nonprose_tail", "edge_minor_block", "comment_thread", "related_list", "duplicate_text"}
)
_LINE_RULES: dict[tuple[int, str | None], tuple[RuleSet, frozenset[str], CompiledRules]] = {}


def line_rules(rules: RuleSet, source: str | None) -> CompiledRules:
    """The source's compiled line rules without ``HTML_SKIPPED_LINE_RULES`` (cached per rule set)."""
    key = (id(rules), source)
    hit = _LINE_RULES.get(key)
    if hit is not None and hit[0] is rules and hit[1] == HTML_SKIPPED_LINE_RULES:
        return hit[2]
    base = rules.for_source(source)
    compiled = CompiledRules(base.rules, base.disabled | HTML_SKIPPED_LINE_RULES)
    if len(_LINE_RULES) > 256:
        _LINE_RULES.clear()
    _LINE_RULES[key] = (rules, HTML_SKIPPED_LINE_RULES, compiled)
    return compiled


_DEFAULT_RULESET: RuleSet | None = None


def clean_html(html: str) -> str:
    """The body text of a page, for the shared cleaning scorer (``--mode html``).

    Args:
        html: the page HTML.

    Returns:
        The kept paragraphs joined by newlines ("" when the page has no main text).
    """
    global _DEFAULT_RULESET  # compiled once per process; RuleSet is immutable data
    if _DEFAULT_RULESET is None:
        _DEFAULT_RULESET = RuleSet()
    try:
        soup = _soup(html)
        ext = extract_main(soup.body or soup)
        if not ext.lines:
            ext.lines = _hint_lines(extract_metadata(soup, _ld_json(soup)))
    except RecursionError:
        return ""
    kept, _ = strip_boilerplate(ext.lines, line_rules(_DEFAULT_RULESET, None))
    return "\n".join(kept)
