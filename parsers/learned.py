"""Learned per-source boilerplate: the pure part (keys, candidates, stripping).

A line that many stories of one source carry word for word ("Sign up for the
Morning Brief", a sign-off, a standard disclaimer) is boilerplate for that
source even when no rule names it. The database counts, per source and
``line_key``, how many distinct stories carry each candidate line; this module
only computes the keys, lists an article's candidate lines, and strips the
lines the counts have confirmed.

Keys are a stable signed 64-bit integer: the first 8 bytes of
``blake2b(fold_for_matching(line))``, read as big-endian signed. They are the
same in every process and Python version (unlike ``hash()``), and fit a DuckDB
BIGINT. Folding makes the key blind to case, punctuation and typography.
"""

from __future__ import annotations

from collections.abc import Sequence
import hashlib
from dataclasses import replace

from parsers.article import Article, RemovedLine
from parsers.normalize import fold_for_matching, word_count

LEARNABLE_MAX_WORDS = 30
LEARNED_RULE = "learned_boilerplate"


def line_key(line: str) -> int:
    """Stable signed 64-bit key of a line (blake2b of its folded text).

    Args:
        line: a body line or paragraph.

    Returns:
        An int in [-2**63, 2**63).
    """
    return _folded_key(fold_for_matching(line))


def _folded_key(folded: str) -> int:
    digest = hashlib.blake2b(folded.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def learnable_lines(article: Article, max_words: int = LEARNABLE_MAX_WORDS) -> list[tuple[int, str]]:
    """The article's candidate boilerplate lines, to be counted per source.

    Args:
        article: a parsed article.
        max_words: only paragraphs of at most this many (folded) words are
            candidates; long paragraphs are reporting, not furniture.

    Returns:
        ``(line_key, paragraph)`` for each short paragraph with at least one
        word, one entry per distinct key, in body order.
    """
    out: list[tuple[int, str]] = []
    seen: set[int] = set()
    for paragraph in article.paragraphs:
        n_words = word_count(paragraph)
        folded = None
        # folding only drops punctuation-only tokens, so it can only lower the count:
        # fold the few paragraphs near the limit, skip the long ones unfolded
        if n_words > max_words:
            if n_words > max_words + 8:
                continue
            folded = fold_for_matching(paragraph)
        elif not any(ch.isalnum() for ch in paragraph):
            folded = fold_for_matching(paragraph)
        if folded is not None:
            n_words = folded.count(" ") + 1 if folded else 0  # folded words are joined by one space
        if n_words == 0 or n_words > max_words:
            continue
        key = _folded_key(folded if folded is not None else fold_for_matching(paragraph))
        if key not in seen:
            seen.add(key)
            out.append((key, paragraph))
    return out


def strip_learned(
    article: Article,
    learned: dict[int, int],
    min_stories: int = 1,
    keyed: Sequence[tuple[int, str]] | None = None,
) -> Article:
    """Remove paragraphs that the source's learned boilerplate confirms.

    Args:
        article: a parsed article (not modified).
        learned: ``line_key -> number of stories of the source carrying the line``,
            as counted in the database (already filtered by the caller's threshold,
            or filtered here by ``min_stories``).
        min_stories: a key counts only when its story count is at least this.
        keyed: the article's ``learnable_lines`` if already computed: only those
            paragraphs can be learned lines, so no other paragraph is hashed.

    Returns:
        A copy of the article without the matching paragraphs; each one is
        recorded as ``RemovedLine(text, rule="learned_boilerplate", evidence=n)``
        (position = its index among the article's paragraphs, offset by 1 for
        the headline). The last remaining paragraph is never stripped, so an
        article always keeps a body.
    """
    if not learned or not article.paragraphs:
        return article
    kept: list[str] = []
    removed: list[RemovedLine] = []
    key_of = {line: key for key, line in keyed} if keyed is not None else None
    for i, paragraph in enumerate(article.paragraphs):
        if key_of is None:
            count = learned.get(line_key(paragraph))
        else:
            key = key_of.get(paragraph)
            count = None if key is None else learned.get(key)
        if count is not None and count >= min_stories:
            removed.append(RemovedLine(text=paragraph, rule=LEARNED_RULE, position=i + 1, evidence=count, kind=LEARNED_RULE))
        else:
            kept.append(paragraph)
    if not removed:
        return article
    if not kept:
        # Never empty a body: give back the longest stripped paragraph.
        back = max(removed, key=lambda r: len(r.text))
        removed.remove(back)
        kept = [back.text]
    return replace(article, paragraphs=kept, removed=[*article.removed, *removed])
