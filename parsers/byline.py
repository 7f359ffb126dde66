"""Recognise byline lines (``By Jane Doe``, ``By JANE DOE, Associated Press``).

Conservative on purpose: a byline line is removed from the body, so a sentence
that starts with "By" (``By Monday, officials said ...``) must never match. A
line is a byline when it starts with ``By`` followed by a capitalised name word
that is not a weekday, month or sentence opener, has at most ``MAX_WORDS``
words, and every other lower-case word is a name particle, a job title word
or part of a date stamp. ``Jane Doe | Reuters`` (name, bar, known agency) is
also accepted.
"""

from __future__ import annotations

import re

MAX_WORDS = 16

_BY = re.compile(r"(?i:by|words by|story by|written by|reporting by|por|di|von|par|от)\s+(?P<rest>.+)")
_NOT_NAMES = frozenset(
    """the a an this that these those his her their its our my your then now now, when while
    monday tuesday wednesday thursday friday saturday sunday january february march april may june
    july august september october november december christmas easter noon midnight
    tonight today tomorrow yesterday law contrast comparison far design default""".split()
)
# Lower-case words allowed in a byline besides names (particles, titles, date words).
_ALLOWED_LOWER = frozenset(
    """and & of the for in at on via with de da do dos das di del della van von der den du le la y e el al bin
    staff writer writers reporter reporters correspondent correspondents editor editors contributor
    contributing senior chief special political business sports columnist producer
    updated published posted last modified am pm a.m. p.m. et est edt pst pdt gmt bst cet utc ist
    jan feb mar apr jun jul aug sep sept oct nov dec admin staff"""
    .split()
)
_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec"
_DATE_TOKEN = re.compile(
    rf"[\d:/.,-]+(?:am|pm)?|(?:{_MONTHS})[a-z]*\.?,?|\W+", re.IGNORECASE
)
_AGENCY_BAR = re.compile(
    r"(?P<name>[A-Z][\w'.-]+(?: [A-Z][\w'.-]+){1,3})\s*\|\s*"
    r"(?P<agency>Reuters|AP|AFP|Associated Press|Bloomberg|CNN|BBC News|The Guardian|Xinhua|Agence France-Presse)"
)


def byline_of(line: str) -> str | None:
    """Return the byline text (``Jane Doe, Associated Press``) if ``line`` is a byline, else None.

    Args:
        line: one normalised line.

    Returns:
        The byline without its leading ``By``, or None when the line is not a byline.
    """
    words = line.split()
    if not words or len(words) > MAX_WORDS:
        return None
    m = _AGENCY_BAR.fullmatch(line)
    if m:
        return line
    m = _BY.fullmatch(line)
    if m is None:
        return None
    rest = m.group("rest").strip()
    rest_words = rest.split()
    first = rest_words[0].strip(",:;-–—")
    if not first:
        return None
    if first.lower() in _NOT_NAMES:
        return None
    if not (first[0].isupper() or first.lower() in {"admin", "staff"}):
        return None
    # a sentence ends with a full stop after a lower-case word; bylines do not
    if rest.endswith(".") and not re.search(r"\b[A-Z]\.$|\b[A-Z][a-z]{0,3}\.$", rest):
        return None
    for word in rest_words[1:]:
        bare = word.strip(",;:()|–—-•·")
        if not bare or bare[0].isupper() or bare[0].isdigit() or _DATE_TOKEN.fullmatch(bare):
            continue
        if bare.lower() not in _ALLOWED_LOWER:
            return None
    return rest


def is_byline(line: str) -> bool:
    """Whether ``line`` is a byline (see ``byline_of``)."""
    return byline_of(line) is not None
