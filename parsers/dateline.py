"""Split a wire-style dateline off the first paragraph of a story.

Recognised forms (the dash may be -, --, en dash or em dash, with an NBSP or a
plain space before it)::

    TEL AVIV – Hamas has warned ...
    WASHINGTON (AP) — President ...
    LONDON, Nov 24 (Reuters) - Britain ...
    BEIJING, March 3 (Xinhua) -- China ...
    NEW YORK (CNN) — ...
    PARIS — ...

The place must be written in capitals (one to four words, optionally followed by
``, State`` or ``, Nov 24``), and then either an agency in parentheses or a
dash must follow. A sentence that starts with an acronym is not a dateline:
``NASA said on Monday – ...`` has a lower-case word before the dash, and
``NATO – the alliance – ...``-style openings are refused when the place is a
known acronym-only word (``NATO``, ``NASA``, ``FBI`` ...) without an agency tag.

Choice: the dateline is stored separately (``Article.dateline``) and REMOVED
from the first paragraph. Different outlets print the same wire copy with and
without the dateline, or with their own (``WASHINGTON (AP) —`` vs
``WASHINGTON —``); taking it out keeps exact-duplicate hashing of the body
agreeing across them.
"""

from __future__ import annotations

import re

_UP = "A-ZÀ-ÖØ-Þ"  # capitals incl. Latin-1 accented ones (SÃO PAULO, MÜNCHEN)
_PLACE_WORD = rf"[{_UP}][{_UP}'’.\-]*[{_UP}.]|[{_UP}]"
_PLACE = rf"(?:{_PLACE_WORD})(?:\s+(?:{_PLACE_WORD})){{0,3}}"
# ", Calif.", ", Nov 24", ", March 3", ", Ukraine"
_QUALIFIER = r"(?:,\s*[A-Z][A-Za-z.]*(?:\s+[A-Z][A-Za-z.]*)?(?:\s+\d{1,2})?)?"
_AGENCY = r"(?:\s*\((?P<agency>[A-Za-z][\w .&-]{0,30})\))?"
_DASH = r"\s*(?:--|[-–—])\s+"
_DATELINE = re.compile(
    rf"(?P<dateline>(?P<place>{_PLACE}){_QUALIFIER}{_AGENCY}){_DASH}(?P<rest>\S.*)",
    re.DOTALL,
)
# All-caps words that open sentences as subjects, not places.
_ACRONYMS = frozenset(
    """NASA NATO FBI CIA NSA UN EU US USA UK WHO IMF OPEC FIFA UEFA NFL NBA MLB NHL CEO CFO GOP
    BBC CNN AP AFP IBM AT&T ISIS IS IDF EXCLUSIVE BREAKING UPDATE UPDATED WATCH LIVE VIDEO OPINION
    ANALYSIS EDITORIAL REVIEW NOTE PHOTOS""".split()
)


def split_dateline(paragraph: str) -> tuple[str | None, str]:
    """Split ``paragraph`` into its dateline and the rest of the text.

    Args:
        paragraph: the first body paragraph (normalised or not: an NBSP before
            the dash is accepted).

    Returns:
        ``(dateline, rest)``: the dateline (``"TEL AVIV"``, ``"WASHINGTON (AP)"``,
        ``"LONDON, Nov 24 (Reuters)"``) without its dash, and the paragraph text
        after the dash; or ``(None, paragraph)`` when there is no dateline.
    """
    text = paragraph.replace("\u00a0", " ").replace("\u202f", " ")
    m = _DATELINE.match(text)
    if m is None:
        return None, paragraph
    place = m.group("place")
    if sum(c.isalpha() for c in place) < 3:  # "I – for one – agree."
        return None, paragraph
    if m.group("agency") is None and place in _ACRONYMS:
        return None, paragraph
    rest = m.group("rest").strip()
    if not rest:
        return None, paragraph
    return m.group("dateline").strip(), rest
