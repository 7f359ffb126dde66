"""Strip boilerplate lines from an article body; every removal names its rule.

``strip_boilerplate`` applies, in order:

1. the regex rules of the source's ``RuleSet`` (``parsers.rules``), whole-line matches;
2. ``byline``: ``By Jane Doe``-style lines (``parsers.byline``);
3. ``date_stamp``: a line that is only a date/time stamp, optionally with a
   short name beside it (``Reuters November 18, 2019 11:03 PM``,
   ``Chris Davies - Nov 19, 2019, 10:31 pm CST``);
4. ``duplicate_line``: the second and later copies of a line (gallery
   captions and share bars repeat; article paragraphs do not);
   ``duplicate_text``: a long line (>= 20 words) that opens like an earlier
   line and at least 90% of whose word trigrams appeared earlier (the story
   run together again from the page's metadata, a print copy), or a line that
   is the same text twice;
5. ``edge_nonprose_head`` / ``edge_nonprose_tail``: short non-sentence lines
   before the first or after the last prose line of the body (section labels,
   author names, related-story headlines, navigation), except short plain
   sentences right after the last prose line, the story's closing lines ("The
   trial continues Monday."). The body proper is the
   span between the first and the last prose line; short lines inside it
   (sub-headings, list items) stay. When a long run of non-prose lines splits
   the text (lines already removed as furniture count towards the run; credits,
   captions and ads, which sit between paragraphs, do not), prose blocks after
   it that are much smaller than the main block are page furniture too
   (``edge_minor_block``: teasers of other stories, reader comments);
6. ``related_list``: the lines that are not prose under a related-stories
   heading (``Trending News``, ``More from Sports``), up to the next prose line;
7. ``comment_thread``: a block that opens right after a reader-comment header
   (``Jane on November 15, 2018 at 10:12 am said:``) is a reader comment: it is
   never taken for the story and is removed.

Structural rules can be disabled per source like regex rules (``disable = [...]``).
``clean(text)`` is the entry point of the shared cleaning scorer (window mode:
headline line, then dump lines; returns the body text).
"""

from __future__ import annotations

import re

from parsers.article import RemovedLine
from parsers.byline import byline_of
from parsers.normalize import normalize_line, word_count
from parsers.rules import CompiledRules, RuleSet, match_form

# A prose line: a sentence or paragraph rather than a label, name or headline.
PROSE_MIN_WORDS = 6  # with sentence-final punctuation
PROSE_ANY_WORDS = 16  # without it
PROSE_MIN_CHARS_UNSPACED = 60  # CJK and other scripts without spaces
# A long line with no sentence punctuation and more than this share of capitalised
# words is not prose (see _is_title_run).
TITLE_RUN_SHARE = 0.5
_PUNCTUATION = re.compile(r"[.!?,;:。，、！？]")
_SENTENCE_END = re.compile(r"""[.!?…:;。！？]["'”’»)\]]*$""")
# A run of this many consecutive non-prose lines separates prose blocks. Lines already
# removed by a rule count towards the run, except those of IN_BODY_KINDS: credits,
# captions, ads and gallery counters sit between the paragraphs of one story, while
# the rest (share bars, date stamps, related labels, menus) mark page furniture.
BLOCK_GAP = 3
IN_BODY_KINDS = frozenset({"photo_credit", "caption", "advertisement", "gallery"})
# A heading of a list of links to other stories ("Trending News", "More from Sports", "You
# may also like"), removed by one of RELATED_HEADING_RULES: the non-prose lines under it
# are that list (rule ``related_list``).
RELATED_HEADING_RULES = frozenset({"related_label"})
_RELATED_HEADING = re.compile(
    r"(?:related(?: articles?| stories| news| posts?| content| coverage| videos?| items)?|"
    r"more (?:from|on|in|about|news|stories|articles|like this|to explore)(?: [\w.'&-]{1,30}){0,3}|"
    r"you (?:may|might) (?:also )?(?:like|be interested in|enjoy)(?:\.\.\.)?|"
    r"most (?:popular|read|viewed|shared|emailed|discussed|commented|watched)(?: videos| stories| articles| news| now)?|"
    r"trending(?: now| news| stories| topics)?|top stories|latest(?: news| stories| videos| headlines)?|"
    r"recommended(?: for you| stories| articles| videos)?|what to read next|up next|editor'?s'? picks|"
    r"don'?t miss|must read|more stories|in other news|read more|see also|recent (?:articles|posts|stories|news))"
    r"\s*[:.!]?\s*",
    re.IGNORECASE,
)
# Rules whose line opens a reader comment (see comment_thread).
COMMENT_HEADER_RULES = frozenset({"comment_footer_header"})
# A block after (or before) such a gap is kept if it has at least this share of
# the main block's words.
BLOCK_KEEP_SHARE = 0.2
# A repeated line is dropped when its previous copy is at most this many lines
# back (gallery captions, share bars and teasers repeat; measured on the cleaning
# benchmark, a short span kept 0.4 more junk lines per page for no F1 gain).
DUPLICATE_SPAN = 400

# A long line that opens like an earlier line and most of whose word trigrams already
# appeared earlier repeats text the page already holds (the story run together again from
# a page's metadata, a print copy): rule ``duplicate_text``. Pieces are lines of at least
# DUPLICATE_TEXT_PIECE_WORDS words; the opening compared is _OPENING characters.
DUPLICATE_TEXT_MIN_WORDS = 20
SAID_TWICE_MAX_WORDS = 60
DUPLICATE_TEXT_SHARE = 0.9
DUPLICATE_TEXT_PIECE_WORDS = 6
_OPENING = 24
_WORD = re.compile(r"\w+")

_MONTHS = (
    r"jan(?:uary|\.)?|feb(?:ruary|\.)?|mar(?:ch|\.)?|apr(?:il|\.)?|may|june?|july?|aug(?:ust|\.)?|"
    r"sep(?:t(?:ember)?)?\.?|oct(?:ober|\.)?|nov(?:ember|\.)?|dec(?:ember|\.)?|"
    r"janeiro|fevereiro|março|abril|maio|junho|julho|agosto|setembro|outubro|novembro|dezembro|"
    r"gennaio|febbraio|marzo|aprile|maggio|giugno|luglio|settembre|ottobre|dicembre|"
    r"enero|febrero|mayo|junio|julio|septiembre|octubre|noviembre|diciembre|maret|mei|agustus|desember"
)
_WEEKDAYS = (
    r"mon(?:day)?|tue(?:s|sday)?|wed(?:nesday)?|thu(?:r|rs|rsday)?|fri(?:day)?|sat(?:urday)?|sun(?:day)?|"
    r"segunda(?:-feira)?|terça(?:-feira)?|quarta(?:-feira)?|quinta(?:-feira)?|sexta(?:-feira)?|sábado|domingo"
)
_STRONG_DATE = re.compile(
    rf"\b(?:{_MONTHS})\.?\s*\d{{1,2}}\b|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:de\s+)?(?:{_MONTHS})\b|"
    r"\b\d{1,2}:\d{2}\b|\b\d{1,4}[/.-]\d{1,2}[/.-]\d{2,4}\b|\b\d+\s*(?:min(?:ute)?s?|hours?|hrs?|days?|[hmd])\s+ago\b|"
    r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}",  # ISO 8601 (a page's machine-readable time left as text)
    re.IGNORECASE,
)
_DATE_PIECE = re.compile(
    rf"\b(?:{_MONTHS})\b\.?|\b(?:{_WEEKDAYS})\b\.?|\d{{1,2}}:\d{{2}}(?::\d{{2}})?\s*(?:[ap]\.?m\.?)?|"
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?|"
    r"\d{1,4}[/.-]\d{1,2}[/.-]\d{2,4}|\d+(?:st|nd|rd|th|am|pm|[hmd])?\b|"
    r"\b(?:[ap]\.?m\.?|et|est|edt|cst|cdt|mst|mdt|pst|pdt|gmt|utc|bst|cet|cest|ist|hrs|at|on|the|of|de|às|as|"
    r"alle|um|le|el|by|updated|published|posted|min|mins|minutes?|hours?|days?|ago|read|"
    r"local time|time)\b\.?|[,/|•·;:()\[\]–—-]+",
    re.IGNORECASE,
)


def is_prose(line: str, n_words: int | None = None) -> bool:
    """Whether a line reads as article prose (a sentence or paragraph).

    Args:
        line: a normalised line.
        n_words: its word count if already known.

    Returns:
        True for lines of >= 16 words (unless they are a Title Case run without
        any punctuation: another story's headline, a menu or a tag list), lines
        of >= 6 words ending a sentence, and long lines in scripts written
        without spaces.
    """
    if n_words is None:
        n_words = len(line.split())
    if n_words >= PROSE_ANY_WORDS:
        return not _is_title_run(line)
    if n_words >= PROSE_MIN_WORDS and _SENTENCE_END.search(line):
        return True
    return n_words < PROSE_MIN_WORDS and len(line) >= PROSE_MIN_CHARS_UNSPACED and not line.isascii()


def _is_title_run(line: str) -> bool:
    """A long line without any sentence punctuation whose words are mostly capitalised:
    a Title Case headline of another story, or a menu or tag list run together."""
    if _PUNCTUATION.search(line):
        return False
    words = line.split()
    return sum(1 for w in words if w[:1].isupper()) > TITLE_RUN_SHARE * len(words)


def is_date_stamp(line: str, n_words: int | None = None) -> bool:
    """Whether a line is only a date/time stamp, maybe with up to three capitalised
    name words (an author or outlet) beside it.

    Args:
        line: a normalised line.
        n_words: its word count if already known.
    """
    if n_words is None:
        n_words = len(line.split())
    if n_words > 16 or not _STRONG_DATE.search(line):
        return False
    rest = _DATE_PIECE.sub(" ", line).split()
    return len(rest) <= 3 and all(w[:1].isupper() or w[:1] == "@" for w in rest)


def strip_boilerplate(
    lines: list[str], rules: RuleSet | CompiledRules, source: str | None = None
) -> tuple[list[str], list[RemovedLine]]:
    """Remove boilerplate lines from an article body.

    Args:
        lines: the body lines (normalised, non-empty; the headline excluded).
        rules: a ``RuleSet`` (its rules for ``source`` are used) or rules
            already compiled for one source.
        source: the source name, for per-source extra/disabled rules.

    Returns:
        ``(kept, removed)``: the kept lines in order, and one ``RemovedLine`` per
        removed line with the name of the rule that removed it and its index in
        ``lines``, in order of position.
    """
    compiled = rules.for_source(source) if isinstance(rules, RuleSet) else rules
    n = len(lines)
    reason: list[str | None] = [None] * n
    n_words = [word_count(line) for line in lines]
    check_byline = compiled.enabled("byline")
    check_date = compiled.enabled("date_stamp")
    check_duplicates = compiled.enabled("duplicate_line")
    check_repeats = compiled.enabled("duplicate_text")
    seen: dict[str, int] = {}
    earlier = _EarlierText()

    for i, line in enumerate(lines):
        rule = compiled.match(line, i, n, n_words[i])
        if rule is not None:
            reason[i] = rule.name
        elif check_byline and n_words[i] <= 16 and byline_of(line) is not None:
            reason[i] = "byline"
        elif check_date and n_words[i] <= 16 and is_date_stamp(line, n_words[i]):
            reason[i] = "date_stamp"
        if check_duplicates:
            key = line.casefold()  # lines are normalised already; case-blind is enough
            first = seen.get(key)
            if first is not None and reason[i] is None and i - first <= DUPLICATE_SPAN:
                reason[i] = "duplicate_line"
            seen[key] = i
        if check_repeats:
            if reason[i] is None and (
                n_words[i] >= DUPLICATE_TEXT_MIN_WORDS and earlier.repeats(line) or _said_twice(line, n_words[i])
            ):
                reason[i] = "duplicate_text"
            earlier.add(line, n_words[i])

    _trim_edges(lines, n_words, reason, compiled)
    kept = [line for line, why in zip(lines, reason) if why is None]
    kinds = compiled.kinds
    removed = [
        RemovedLine(text=line, rule=why, position=i, kind=kinds.get(why, "other"))
        for i, (line, why) in enumerate(zip(lines, reason))
        if why
    ]
    return kept, removed


def _said_twice(line: str, n_words: int) -> bool:
    """A line that is the same text twice (a teaser's image caption and link text run together:
    short, so a long paragraph that happens to repeat itself is left to the reader)."""
    half = len(line) // 2  # "A A": an odd length with a space in the middle
    if n_words < 6 or n_words > SAID_TWICE_MAX_WORDS or n_words % 2 or not len(line) % 2 or line[half] != " ":
        return False
    return line[:half].casefold() == line[half + 1 :].casefold()


class _EarlierText:
    """The lines seen so far (of at least DUPLICATE_TEXT_PIECE_WORDS words), to tell whether a
    long line is made of them: the story run together again."""

    def __init__(self) -> None:
        self.lines: dict[str, None] = {}  # distinct, in order
        self.openings: set[str] = set()  # their first _OPENING characters
        self.trigrams: set[tuple[str, str, str]] = set()  # their word trigrams, built when first needed
        self.indexed = 0  # lines already in self.trigrams

    def add(self, line: str, n_words: int) -> None:
        if n_words >= DUPLICATE_TEXT_PIECE_WORDS:
            self.lines[line] = None
            self.openings.add(line[:_OPENING])

    def repeats(self, line: str) -> bool:
        """Whether the line opens like an earlier line and DUPLICATE_TEXT_SHARE of its word
        trigrams appeared earlier."""
        if line[:_OPENING] not in self.openings:
            return False  # a run-together copy starts where one of its lines starts
        for earlier in list(self.lines)[self.indexed :]:
            words = _WORD.findall(earlier.casefold())
            self.trigrams.update(zip(words, words[1:], words[2:]))
        self.indexed = len(self.lines)
        words = _WORD.findall(line.casefold())
        trigrams = set(zip(words, words[1:], words[2:]))
        return bool(trigrams) and len(trigrams & self.trigrams) >= DUPLICATE_TEXT_SHARE * len(trigrams)


def _trim_edges(lines: list[str], n_words: list[int], reason: list[str | None], compiled: CompiledRules) -> None:
    """Mark non-prose lines outside the main prose span and minor prose blocks (rules ``edge_*``).

    The first pass sees the furniture already removed (it separates blocks). Cleaning the
    kept lines again must remove nothing (the cleaner's stability promise), and those lines
    no longer carry that furniture: blocks it separated may join and outweigh a side block.
    So the pass is repeated on the kept lines alone until it removes nothing more (when
    no furniture, comment header or related list decided anything, one pass is enough).
    """
    prose = [is_prose(line, k) for line, k in zip(lines, n_words)]
    recheck = _mark_edges(lines, n_words, prose, reason, compiled)
    if compiled.enabled("related_list"):
        recheck = _mark_related_lists(lines, prose, reason) or recheck
    while recheck:
        alive = [i for i, why in enumerate(reason) if why is None]
        sub_reason: list[str | None] = [None] * len(alive)
        _mark_edges([lines[i] for i in alive], [n_words[i] for i in alive], [prose[i] for i in alive], sub_reason, compiled)
        changed = False
        for k, why in enumerate(sub_reason):
            if why is not None:
                reason[alive[k]] = why
                changed = True
        recheck = changed


def _mark_related_lists(lines: list[str], prose: list[bool], reason: list[str | None]) -> bool:
    """Mark the links under a related-stories heading (rule ``related_list``): the lines
    still kept after the heading that are not prose, up to the next prose line.

    Returns:
        Whether any line was marked.
    """
    marked = False
    i, n = 0, len(lines)
    while i < n:
        if reason[i] not in RELATED_HEADING_RULES or not _RELATED_HEADING.fullmatch(match_form(lines[i])):
            i += 1
            continue
        i += 1
        while i < n and (reason[i] is not None or not prose[i]):
            if reason[i] is None:
                reason[i] = "related_list"
                marked = True
            i += 1
    return marked


def _mark_edges(
    lines: list[str], n_words: list[int], is_prose_line: list[bool], reason: list[str | None], compiled: CompiledRules
) -> bool:
    """One pass of the edge rules over the lines not yet removed.

    Returns:
        Whether removed lines (furniture, a comment header) decided where a block ends, so
        that a pass over the kept lines alone may decide differently.
    """
    alive = [i for i, why in enumerate(reason) if why is None]
    prose = {i for i in alive if is_prose_line[i]}
    if not prose:
        return False  # nothing reads as prose: a very short item; keep it whole

    # Prose blocks: maximal runs of alive lines without BLOCK_GAP consecutive non-prose lines
    # (removed furniture lines count towards the gap; see IN_BODY_KINDS).
    blocks: list[list[int]] = []
    current: list[int] = []
    gap = alive_gap = 0  # non-prose lines since the last prose line: all counted, and alive ones
    split_by_removed = False
    kinds = compiled.kinds
    comment_blocks: set[int] = set()  # blocks that open right after a reader-comment header
    comments_on = compiled.enabled("comment_thread")
    after_comment_header = False
    for i, why in enumerate(reason):
        if why is not None:
            if why in COMMENT_HEADER_RULES and comments_on:
                after_comment_header = True
                gap = max(gap, BLOCK_GAP)
            if current and kinds.get(why, "other") not in IN_BODY_KINDS:
                gap += 1
            continue
        if i in prose:
            if current and gap >= BLOCK_GAP:
                blocks.append(current)
                current = []
                split_by_removed = split_by_removed or alive_gap < BLOCK_GAP
            if not current and after_comment_header:
                comment_blocks.add(len(blocks))
            after_comment_header = False
            current.append(i)
            gap = alive_gap = 0
        elif current:
            current.append(i)
            gap += 1
            alive_gap += 1
        # non-prose lines before the first prose line belong to no block
    if current:
        blocks.append(current)

    def words(block: list[int]) -> int:
        return sum(n_words[i] for i in block if i in prose)

    story = [b for b in range(len(blocks)) if b not in comment_blocks]
    if not story:  # comments only: nothing to tell them from
        story, comment_blocks = list(range(len(blocks))), set()
    main = max(story, key=lambda b: words(blocks[b]))
    threshold = BLOCK_KEEP_SHARE * words(blocks[main])
    keep = [b for b in story if b == main or words(blocks[b]) >= threshold]
    lo, hi = blocks[min(keep)][0], max(i for i in blocks[max(keep)] if i in prose)

    in_kept_block = set()
    for b in keep:
        in_kept_block.update(blocks[b])
    in_comment = {i for b in comment_blocks for i in blocks[b]}
    head_on, tail_on = compiled.enabled("edge_nonprose_head"), compiled.enabled("edge_nonprose_tail")
    minor_on = compiled.enabled("edge_minor_block")
    # the lines right after the story's last prose line may be its short closing sentences
    closing: set[int] = set()
    for i in (j for j in alive if j > hi):
        if not _closing_sentence(lines[i], n_words[i]):
            break
        closing.add(i)
    for i in alive:
        if i in in_comment:
            reason[i] = "comment_thread"
        elif i in prose:
            if i not in in_kept_block and minor_on:
                reason[i] = "edge_minor_block"
        elif i < lo:
            if head_on:
                reason[i] = "edge_nonprose_head"
        elif i > hi or i not in in_kept_block:
            if tail_on and i not in closing:
                reason[i] = "edge_nonprose_tail"
    return split_by_removed or bool(comment_blocks)


_CLOSING = re.compile(r"""^["“‘']?[A-Z][^|@#/:]*[a-z0-9][.!?]["'”’)]*$""")


def _closing_sentence(line: str, n_words: int) -> bool:
    """A short plain sentence, which right after the story's last prose line is one of its
    closing lines: a capital, then mostly lower-case words, a full stop, no link, handle or
    separator."""
    if not 3 <= n_words < PROSE_MIN_WORDS or not _CLOSING.match(line):
        return False
    return sum(w[:1].isupper() for w in line.split()) * 2 <= n_words


_DEFAULT_RULESET: RuleSet | None = None


def clean(text: str) -> str:
    """Clean one scraped article for the shared cleaning scorer.

    Args:
        text: the headline line, then the dump lines (blank lines between them).

    Returns:
        The body text: kept lines joined by blank lines, headline excluded.
    """
    global _DEFAULT_RULESET  # compiled once per process; RuleSet is immutable data
    if _DEFAULT_RULESET is None:
        _DEFAULT_RULESET = RuleSet()
    lines = [ln for ln in (normalize_line(x) for x in text.splitlines()) if ln]
    body = lines[1:] if len(lines) > 1 else lines
    kept, _removed = strip_boilerplate(body, _DEFAULT_RULESET)
    return "\n\n".join(kept)


if __name__ == "__main__":  # `python -m parsers.clean < dump.txt` for the --cmd scorer mode
    import sys

    sys.stdout.write(clean(sys.stdin.read()) + "\n")
