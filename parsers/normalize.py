"""Line normalisation for display and storage, and text folding for matching.

Two different jobs, kept apart on purpose:

* ``normalize_line`` keeps the text readable: Unicode NFC, odd spaces become a
  plain space, invisible characters go, whitespace is collapsed. Curly quotes,
  dashes and case are kept because they are part of the article as published.
* ``fold_for_matching`` produces the key text used for exact-duplicate hashing
  and shingling. It must give the same word list as the benchmark's single
  definition of shingling (``../shared/bench/dedup/shingles.py``): ``str.lower``
  (not ``casefold``: ``"ß".casefold() == "ss"`` but ``"ß".lower() == "ß"``),
  every Unicode punctuation character (category ``P*``) deleted, symbols
  (``S*``: ``$``, ``£``, ``%``, ``+``) kept, whitespace split.
"""

from __future__ import annotations

import re
import sys
import unicodedata

# Spaces a scraper leaves behind that should read as one ordinary space:
# NBSP, narrow NBSP, figure/thin/hair/en/em spaces, ideographic space, ...
_ODD_SPACES = (
    "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u202f\u205f\u3000\t\r\n\f\v\x85\u2028\u2029"
)
# Invisible characters that only split words when left in: zero-width space /
# joiners, word joiner, BOM used as ZWNBSP, soft hyphen, Mongolian vowel separator.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"

_LINE_TABLE: dict[int, str | None] = {ord(c): " " for c in _ODD_SPACES}
_LINE_TABLE.update({ord(c): None for c in _INVISIBLE})
# C0/C1 control characters other than whitespace never belong in a news line.
_LINE_TABLE.update({cp: None for cp in range(0x20) if chr(cp) not in _ODD_SPACES})
_LINE_TABLE.update({cp: None for cp in range(0x7F, 0xA0) if chr(cp) not in _ODD_SPACES})

_MULTI_SPACE = re.compile(r" {2,}")

# Exactly the benchmark's deletion table: every code point of category P*.
_PUNCT_TABLE: dict[int, None] = {
    cp: None for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)).startswith("P")
}


def normalize_line(s: str) -> str:
    """Normalise one line of article text for storage and display.

    Args:
        s: a line (or short paragraph) of decoded text.

    Returns:
        The line in Unicode NFC with NBSP / narrow NBSP / thin / figure /
        ideographic and other odd spaces turned into a plain space, zero-width
        characters, soft hyphens and control characters removed, runs of
        whitespace collapsed to one space, and leading/trailing space stripped.
        Curly quotes, dashes and letter case are kept.
    """
    if not s:
        return ""
    if not s.isascii():
        # NFC first so that composed and decomposed accents hash alike later.
        s = unicodedata.normalize("NFC", s)
    s = s.translate(_LINE_TABLE)
    if "  " in s:
        s = _MULTI_SPACE.sub(" ", s)
    return s.strip()


def fold_for_matching(text: str) -> str:
    """Fold text into the key used for exact-duplicate hashing and shingling.

    Args:
        text: any text (a headline, a line, or a whole body).

    Returns:
        The text lower-cased with ``str.lower``, every Unicode punctuation
        character (category ``P*``: quotes, dashes, apostrophes, ``.``, ``,``)
        deleted, symbols kept, and split on whitespace into words joined by one
        space. ``fold_for_matching(t).split()`` equals the benchmark's
        ``shingles.words(t)`` for any text ``t``.
    """
    return " ".join(text.lower().translate(_PUNCT_TABLE).split())


def words_for_matching(text: str) -> list[str]:
    """The folded word list of ``text`` (same as ``fold_for_matching(text).split()``)."""
    return text.lower().translate(_PUNCT_TABLE).split()
