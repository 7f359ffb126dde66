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

# Regexes rather than str.translate: translate does a dict lookup per character
# on non-ASCII text, about 5x slower on a typical dump line.
_ODD_SPACE_RE = re.compile(f"[{_ODD_SPACES}]")
# C0/C1 control characters other than whitespace never belong in a news line, nor do lone
# surrogates (JSON's "\\ud800" escapes decode to them; UTF-8 cannot store them).
_DROP_RE = re.compile(f"[{_INVISIBLE}\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff]")
_MULTI_SPACE = re.compile(r" {2,}")
# Lone surrogates: JSON's "\\ud800" escapes decode to them, and no UTF-8 store can hold them.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")

# Exactly the benchmark's deletion set: every code point of category P*. Every punctuation
# character Unicode has assigned lies below U+20000 (planes 2 and up hold ideographs, tags and
# private use), so the scan stops there: 0.015 s at start-up instead of 0.17 s for all 1.1M
# code points. tests/test_normalize.py checks the full range for this Python's Unicode.
PUNCT_SCAN_END = 0x20000
_PUNCT_CHARS = frozenset(
    chr(cp) for cp in range(PUNCT_SCAN_END) if unicodedata.category(chr(cp)).startswith("P")
)
# ASCII punctuation is deleted from UTF-8 bytes with bytes.translate: multi-byte sequences
# hold no ASCII bytes, so no other character is touched.
_ASCII_PUNCT = bytes(cp for cp in range(128) if chr(cp) in _PUNCT_CHARS)
# str.split() splits ASCII text on \x1c-\x1f too, bytes.split() does not: make them spaces
_ASCII_SEPARATORS = bytes.maketrans(b"\x1c\x1d\x1e\x1f", b"    ")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
# The punctuation that keeps most news text from being ASCII.
_COMMON_PUNCT = ("\u2019", "\u201c", "\u201d", "\u2018", "\u2014", "\u2013", "\u2026", "\u00ab", "\u00bb")
_CAPITAL_SIGMA = "\u03a3"


def _delete_punctuation(s: str) -> str:
    if s.isascii():
        return s.encode("ascii").translate(None, _ASCII_PUNCT).decode("ascii")
    s = s.encode("utf-8", "surrogatepass").translate(None, _ASCII_PUNCT).decode("utf-8", "surrogatepass")
    # A text holds few distinct non-ASCII characters: find them, keep the punctuation
    # ones, delete each with str.replace (~3x faster than translate() with a 1.1M-entry table).
    for ch in _PUNCT_CHARS.intersection(_NON_ASCII.findall(s)):
        s = s.replace(ch, "")
    return s


def normalize_line(s: str) -> str:
    """Normalise one line of article text for storage and display.

    Args:
        s: a line (or short paragraph) of decoded text.

    Returns:
        The line in Unicode NFC with NBSP / narrow NBSP / thin / figure /
        ideographic and other odd spaces turned into a plain space, zero-width
        characters, soft hyphens, control characters and lone surrogates removed, runs of
        whitespace collapsed to one space, and leading/trailing space stripped.
        Curly quotes, dashes and letter case are kept.
    """
    if not s:
        return ""
    if not s.isprintable():
        # every odd space, invisible and control character is non-printable: a printable
        # line (most lines) has none of them and skips both scans
        s = _ODD_SPACE_RE.sub(" ", s)
        s = _DROP_RE.sub("", s)
    if not s.isascii():
        # NFC so that composed and decomposed accents hash alike later; after the drop,
        # since a soft hyphen or zero-width space between "e" and U+0301 blocks composing
        # (found by tests/test_fuzz.py: the line was not a fixed point)
        s = unicodedata.normalize("NFC", s)
    if "  " in s:
        s = _MULTI_SPACE.sub(" ", s)
    return s.strip()


def word_count(s: str) -> int:
    """``len(s.split())``, counted without building the words when ``s`` is normalised.

    Every whitespace character but the space is non-printable, so a printable text
    without doubled, leading or trailing spaces has one word more than spaces.
    """
    if s.isprintable() and "  " not in s and s[:1] != " " and s[-1:] != " ":
        return s.count(" ") + 1 if s else 0
    return len(s.split())


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
    if not text.isascii() and _CAPITAL_SIGMA not in text:
        # Deleting curly quotes and dashes before lower() usually leaves ASCII text, which
        # lower(), translate and split handle ~5x faster. Same result: lower() maps each
        # character on its own, except capital sigma, whose form depends on its neighbours.
        for ch in _COMMON_PUNCT:
            if ch in text:
                text = text.replace(ch, "")
    s = text.lower()
    if s.isascii():
        return b" ".join(s.encode("ascii").translate(_ASCII_SEPARATORS, _ASCII_PUNCT).split()).decode("ascii")
    return " ".join(_delete_punctuation(s).split())


def words_for_matching(text: str) -> list[str]:
    """The folded word list of ``text`` (same as ``fold_for_matching(text).split()``)."""
    return _delete_punctuation(text.lower()).split()
