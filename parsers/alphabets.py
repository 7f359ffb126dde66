"""Which non-ASCII letters each language written in a Latin single-byte code page uses.

Used by ``parsers/decode.py`` to tell apart the Latin code pages (cp1252, cp1250,
iso-8859-2, cp1254), which all decode any mostly-ASCII payload to letters: Czech
read as cp1252 comes out as ``pondìlí opatøení`` -- letters, well-formed words --
but no language writes both ``ì`` and ``ø`` (or ``ø`` and ``š``). The right code page
gives letters that all belong to one language; a wrong one mixes alphabets.

The sets are the lower-case non-ASCII letters of each language's main exemplar set
in Unicode CLDR (``//ldml/characters/exemplarCharacters``), plus the accented letters
its news prose commonly borrows (German ``é`` in ``Café``, Turkish ``â î û`` in
``hâlâ``, Romanian's legacy cedilla forms ``ş ţ`` that cp1250 holds). Upper case is
derived; Turkish ``İ`` is listed because its lower case is two characters.
Only languages these code pages can write are listed; a language added here makes
its letters count as real text in every candidate decoding. Letters alone cannot
settle a short text: a Czech sentence read as cp1252 can fit Italian (``noèní``);
``decode.py`` then asks chardet's language models.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

LATIN_ALPHABETS: Mapping[str, str] = {
    # cp1252 / latin-1
    "de": "äöüßé",
    "fr": "àâæçéèêëîïôœùûüÿ",
    "es": "áéíñóúüªº",
    "pt": "áàâãçéêíóôõúªº",
    "it": "àèéìíîòóùúªº",
    "ca": "àçèéíïòóúüªº",
    "nl": "áäéëíïóöúü",
    "da": "åæøé",
    "no": "åæøéóòêô",
    "sv": "åäöé",
    "fi": "åäöšž",
    "is": "áðéíóúýþæö",
    "fo": "áðíóúýæø",
    "ga": "áéíóú",
    "et": "šžõäöü",
    "sq": "çë",
    # cp1250 / iso-8859-2
    "pl": "ąćęłńóśźż",
    "cs": "áčďéěíňóřšťúůýž",
    "sk": "áäčďéíĺľňóôŕšťúýž",
    "hu": "áéíóöőúüű",
    "sl": "čšžćđ",
    "hr": "čćđšž",
    "ro": "ăâîșțşţ",
    # cp1254
    "tr": "çğıİöşüâîû",
}


def _with_upper(letters: str) -> frozenset[str]:
    return frozenset(letters) | {ch.upper() for ch in letters if len(ch.upper()) == 1}


_SETS: dict[str, frozenset[str]] = {lang: _with_upper(letters) for lang, letters in LATIN_ALPHABETS.items()}


def foreign_letters(letters: Counter[str]) -> tuple[int, str]:
    """How many of ``letters`` (non-ASCII letters with their counts) the best-fitting
    language does not write, and that language.

    Returns ``(0, lang)`` when one language writes them all (``(0, "")`` for no
    letters); ``(sum(letters.values()), "")`` when no listed language writes any of
    them. Ties go to the language listed first.
    """
    best, best_lang = sum(letters.values()), ""
    for lang, alphabet in _SETS.items():
        missing = sum(n for ch, n in letters.items() if ch not in alphabet)
        if missing < best:
            best, best_lang = missing, lang
    return best, best_lang
