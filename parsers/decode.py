"""Raw bytes of a news dump -> ``str``, or a ``Rejected`` with a stable reason.

Order of attempts (first success wins):

1. byte-order mark: UTF-32 LE/BE (checked before UTF-16, whose BOM is a prefix
   of the UTF-32 LE one), UTF-8-sig, UTF-16 LE/BE;
2. strict UTF-8 -- the hot path, almost every dump;
3. BOM-less UTF-16 recognised by its NUL pattern (every other byte NUL);
4. a Latin code page (cp1252, cp1250, iso-8859-2, cp1254) when the payload is mostly
   ASCII with the high bytes alone or in short runs: Western, Central-European and
   Turkish news saved by Windows tools or in ISO Latin-2. charset-normalizer guesses
   badly on such text (it calls ``caf\\xe9 \\x93quoted\\x94`` cp1125, a BBC article
   with one pound sign cp932, Polish in iso-8859-2 iso8859_14 and Czech in iso-8859-2
   cp1250), so it is settled here. Every candidate decodes such bytes to letters, so
   the one that reads most like one language wins (``_mojibake_score``: letters that
   no single language of ``parsers/alphabets.py`` writes, letters in malformed words,
   symbols glued to letters like ``Rz±d``); a candidate giving C1 controls is out.
   A tie whose readings put different letters in one place (a short Czech ``noční``
   is Italian-looking ``noèní`` in cp1252) goes to chardet's language models, with
   cp1252 kept unless clearly beaten; any other tie to the order above;
5. charset-normalizer's best guess (Cyrillic, Greek, CJK legacy code pages).

Steps 4 and 5 happily give *some* text for any bytes, so their result must also read
as text (``_implausibility``): non-ASCII letters form words (one script, sane case,
mostly more than one letter), few odd symbols, and Han characters are mostly common
ones. Bytes that are mostly well-formed UTF-8 sequences are damaged UTF-8, never a
legacy code page: a few bad bytes become U+FFFD, more are ``undecodable``. So a file
of random or broken bytes behind an ASCII headline is rejected, not stored as mojibake.

Before and after, the payload is checked for being binary (NUL bytes outside
UTF-16/32, or many control characters) and the text is scrubbed: control
characters other than tab/newline/form feed, lone surrogates and U+FFFE/U+FFFF
never leave this module, and line ends become ``\\n``.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections import Counter
from typing import AnyStr

from parsers.alphabets import foreign_letters
from parsers.article import Rejected

# Longest BOM first: the UTF-32 LE BOM starts with the UTF-16 LE BOM.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# Characters that must not reach a line: C0 controls except \t \n \v \f \r,
# DEL, C1 controls, lone surrogates, BOM left inside the text, non-characters.
_BAD_CHARS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufeff\ufffe\uffff]")
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
_CONTROL_CHARS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")

# Above this share (and count) of control characters the payload is not text;
# a handful in a short text is a stray ESC or bell, scrubbed instead.
MAX_CONTROL_SHARE = 0.05
MIN_CONTROL_COUNT = 8
# A Latin code page is tried only when at most this share of bytes is non-ASCII and
# few high bytes sit in runs of four or more: Latin alphabets put one to three
# accented letters together (``é``, ``“À``, Czech ``příští``), while a Cyrillic or
# Greek legacy page is mostly runs of high bytes (whole words) and goes to step 5.
MAX_LATIN_HIGH_SHARE = 0.3
MAX_LATIN_RUN_SHARE = 0.1
_HIGH_RUN = re.compile(rb"[\x80-\xff]{4,}")
# Step 4's candidates, in the order that wins a tie (same score): the most common first.
LATIN_CODE_PAGES = ("cp1252", "cp1250", "iso-8859-2", "cp1254")
# On a tie chardet must give another candidate this many times its confidence in cp1252.
LANGUAGE_MODEL_MARGIN = 1.4
# A guess from charset-normalizer with more chaos than this is no decoding.
MAX_CHAOS = 0.3
# Invalid UTF-8: when at least this share of the high bytes sits in well-formed UTF-8
# sequences, the payload is UTF-8 with damage (a legacy code page almost never forms
# them: cp1252 ``é`` is one lead byte followed by ASCII). Up to MAX_BAD_UTF8_SHARE of
# the high bytes (or MAX_BAD_UTF8_COUNT) may be bad (each becomes U+FFFD); more is undecodable.
UTF8_SEQUENCE_SHARE = 0.5
MAX_BAD_UTF8_SHARE = 0.05
MAX_BAD_UTF8_COUNT = 3  # a stray byte or two in a short UTF-8 text is damage, not an encoding
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|"
    rb"\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
# Plausibility of a legacy decoding (see _implausibility): at most this share of the
# non-ASCII characters may be odd (symbols other than news typography, letters in
# malformed words), and a text with at least PLAUSIBLE_MIN_WORDS words holding non-ASCII
# letters must have words of MIN_MEAN_WORD_LENGTH letters on average (random high bytes
# between spaces make one- and two-letter "words"; real ones average five or more).
MAX_ODD_SHARE = 0.2
MAX_ODD_COUNT = 3  # a short text may hold this many odd characters whatever its share
PLAUSIBLE_MIN_WORDS = 8
MIN_MEAN_WORD_LENGTH = 2.5
MIN_COMMON_HAN_SHARE = 0.9
# Symbols a news text uses; every punctuation (P*) and currency (Sc) character counts too.
_NEWS_SYMBOLS = frozenset("°©®™№½¼¾²³×§¶")
# a word (run of letters) with at least one non-ASCII letter; a non-ASCII non-space character
_NON_ASCII_WORD = re.compile(r"[^\W\d_]*[^\W\d_\x00-\x7f][^\W\d_]*")
_NON_ASCII_OTHER = re.compile(r"(?![^\W\d_])[^\s\x00-\x7f\ufffd]")
# A long text is judged on this many evenly spaced windows of JUDGE_WINDOW characters.
JUDGE_WINDOWS = 8
JUDGE_WINDOW = 8192
_NON_ASCII_CHAR = re.compile(r"[^\x00-\x7f]")
_C1_CONTROL = re.compile("[\x80-\x9f]")
# Non-letters that may sit inside a word (``l’État``, Catalan ``col·legi``, soft hyphen)
# or touch one at its edge (``20°C``, ``Microsoft®``, ``¿Qué``).
_INSIDE_WORD = frozenset("’‘ʼ·‐‑\u00ad")
_AT_WORD_EDGE = frozenset("…°®™©¿¡")
_CJK_SCRIPTS = frozenset({"CJK", "HIRAGANA", "KATAKANA", "HANGUL", "HALFWIDTH", "IDEOGRAPHIC"})


def decode_text(payload: bytes) -> str:
    """Decode the bytes of a text dump.

    Args:
        payload: the raw bytes exactly as read from the source.

    Returns:
        The decoded text with line ends normalised to ``\\n`` and control
        characters, lone surrogates and stray BOMs removed (tab, newline,
        vertical tab and form feed are kept; ``normalize_line`` turns them
        into spaces).

    Raises:
        Rejected: ``"empty"`` for no bytes or only whitespace; ``"binary"`` for
            NUL bytes in a payload that is not UTF-16/32, or a high share of
            control characters; ``"undecodable"`` when no encoding gives
            plausible text.
    """
    if not payload or not payload.strip():
        raise Rejected("empty", "the payload has no bytes other than whitespace")

    text = _decode_with_bom(payload)
    if text is None:
        try:
            text = payload.decode("utf-8")  # the hot path
        except UnicodeDecodeError:
            text = _decode_legacy(payload)
        else:
            if "\x00" in text:
                text = _utf16_without_bom(payload)
                if text is None:
                    raise Rejected("binary", "NUL bytes in a payload that is not UTF-16")

    return _scrub(text)


def _decode_with_bom(payload: bytes) -> str | None:
    """Decode by byte-order mark, or return None when the payload has none."""
    for bom, encoding in _BOMS:
        if payload.startswith(bom):
            body = payload[len(bom) :]
            try:
                return body.decode(encoding)
            except UnicodeDecodeError:
                # A BOM followed by broken units: keep what decodes; the BOM is
                # strong evidence of the encoding, and bad units become U+FFFD.
                return body.decode(encoding, errors="replace")
    return None


def _utf16_without_bom(payload: bytes) -> str | None:
    """Recognise BOM-less UTF-16 by its NULs: mostly-ASCII text has one in every
    other byte, all on the same side. Returns None when the pattern is absent."""
    if len(payload) < 4 or len(payload) % 2:
        return None
    even, odd = payload[0::2], payload[1::2]
    n = len(even)
    even_nul, odd_nul = even.count(0), odd.count(0)
    if odd_nul >= 0.5 * n and even_nul <= 0.02 * n:
        encoding = "utf-16-le"
    elif even_nul >= 0.5 * n and odd_nul <= 0.02 * n:
        encoding = "utf-16-be"
    else:
        return None
    try:
        return payload.decode(encoding)
    except UnicodeDecodeError:
        return None


def _decode_legacy(payload: bytes) -> str:
    """Decode a payload that is not valid UTF-8 (steps 3-5 of the module doc)."""
    if b"\x00" in payload:
        text = _utf16_without_bom(payload)
        if text is None:
            raise Rejected("binary", "NUL bytes in a payload that is not UTF-16")
        return text
    if _control_share_bytes(payload) > MAX_CONTROL_SHARE:
        raise Rejected("binary", "too many control bytes for text")

    high = len(payload) - len(payload.translate(None, bytes(range(0x80, 0x100))))
    sample = _windows(payload)
    sample_high = len(sample) - len(sample.translate(None, bytes(range(0x80, 0x100))))
    in_sequences = sum(len(m) for m in _UTF8_SEQUENCE.findall(sample))
    if in_sequences >= UTF8_SEQUENCE_SHARE * sample_high:
        bad = sample_high - in_sequences
        if bad > MAX_BAD_UTF8_COUNT and bad > MAX_BAD_UTF8_SHARE * sample_high:
            raise Rejected("undecodable", f"damaged UTF-8: {bad} of {sample_high} non-ASCII bytes are not UTF-8")
        return payload.decode("utf-8", errors="replace")

    in_runs = sum(len(run) for run in _HIGH_RUN.findall(sample))
    problem = ""
    if high <= MAX_LATIN_HIGH_SHARE * len(payload) and in_runs <= MAX_LATIN_RUN_SHARE * sample_high:
        text, problem = _decode_latin(payload)
        if text is not None:
            return text

    from charset_normalizer import from_bytes  # imported lazily: off the hot path

    # charset-normalizer's candidates, best first; the first that reads as text wins
    for guess in from_bytes(payload):
        if guess.chaos > MAX_CHAOS:
            continue
        text = str(guess)
        problem = _implausibility(text)
        if not problem:
            return text
    raise Rejected("undecodable", f"no encoding gives plausible text ({problem or 'every guess is chaos'})")


def _decode_latin(payload: bytes) -> tuple[str | None, str]:
    """Step 4: the Latin code page whose decoding reads most like one language.

    Returns ``(text, "")``, or ``(None, why no candidate reads as text)``.
    """
    candidates: list[tuple[int, str, str]] = []  # (mojibake score, text, encoding), in LATIN_CODE_PAGES order
    problem = "no Latin code page decodes it"
    for encoding in LATIN_CODE_PAGES:
        try:
            text = payload.decode(encoding)
        except UnicodeDecodeError:
            continue  # a byte this code page leaves undefined
        if any(text == seen for _, seen, _ in candidates):
            continue  # same text as a candidate before it, which wins the tie
        if _C1_CONTROL.search(text):
            # an ISO page's C1 range: the Windows page of the same script defines these bytes
            problem = f"{encoding} gives C1 control characters"
            continue
        problem = _implausibility(text)
        if problem:
            continue
        candidates.append((_mojibake_score(text), text, encoding))
    if not candidates:
        return None, problem
    best = min(score for score, _, _ in candidates)
    tied = [(text, encoding) for score, text, encoding in candidates if score == best]
    first = tied[0][0]
    if len(tied) > 1 and any(_letter_clash(first, text) for text, _ in tied[1:]):
        return _by_language_model(payload, tied), ""
    return first, ""


def _by_language_model(payload: bytes, tied: list[tuple[str, str]]) -> str:
    """Of decodings that fit an alphabet equally well and put different letters in the
    same place (a short Czech ``noční`` reads as Italian ``noèní`` in cp1252), the one
    chardet's bigram language models like best. cp1252, the most common legacy page,
    is kept unless another beats it by LANGUAGE_MODEL_MARGIN: on a sentence of Western
    text chardet's margin for a Central-European reading is a few per cent, on real
    Central-European or Turkish text it is one and a half times or more."""
    import chardet  # imported lazily: off the hot path

    confidence = {
        codecs.lookup(guess["encoding"]).name: guess["confidence"]
        for guess in chardet.detect_all(
            payload, include_encodings=[encoding for _, encoding in tied], ignore_threshold=True, compat_names=False
        )
        if guess["encoding"]
    }

    def weight(candidate: tuple[str, str]) -> float:
        conf = confidence.get(codecs.lookup(candidate[1]).name, 0.0)
        return conf * LANGUAGE_MODEL_MARGIN if candidate[1] == LATIN_CODE_PAGES[0] else conf

    return max(tied, key=weight)[0]  # max keeps the first of equals: LATIN_CODE_PAGES order


def _letter_clash(text: str, other: str) -> bool:
    """Whether two single-byte decodings of the same bytes put different letters in
    the same place (not only a symbol in one where the other has a letter: ``£``/``Ł``)."""
    return any(a != b and a.isalpha() and b.isalpha() for a, b in zip(_windows(text), _windows(other)))


def _mojibake_score(text: str) -> int:
    """How much a Latin decoding reads like mojibake; 0 for text in one language's alphabet.

    Counts non-ASCII letters that the best-fitting language (``parsers/alphabets.py``)
    does not write, letters in malformed words, and symbols glued to letters: ``Rz±d``
    (iso-8859-2 ``ą`` read as cp1250) counts; an apostrophe or middle dot inside a word
    does not; quotes, dashes, currency signs and ``° ® ™ © … ¿ ¡`` count only inside a
    word (``20°C``, ``¿Qué`` are text).
    """
    text = _windows(text)
    letters: Counter[str] = Counter()
    glued = 0
    for match in _NON_ASCII_CHAR.finditer(text):
        ch, i = match.group(), match.start()
        if ch.isalpha():
            letters[ch] += 1
            continue
        cat = unicodedata.category(ch)
        if ch in _INSIDE_WORD or cat[0] in "MZC" or ch.isspace():
            continue
        before = i > 0 and text[i - 1].isalpha()
        after = i + 1 < len(text) and text[i + 1].isalpha()
        if ch in _AT_WORD_EDGE or cat in ("Pi", "Pf", "Ps", "Pe", "Pd", "Sc"):
            glued += before and after
        else:
            glued += before or after
    malformed = sum(
        sum(1 for ch in word if not ch.isascii()) for word in _NON_ASCII_WORD.findall(text) if not _well_formed(word)
    )
    return foreign_letters(letters)[0] + malformed + glued


def _implausibility(text: str) -> str:
    """Why a legacy decoding does not read as text, or '' when it does.

    Only the non-ASCII characters are judged (the ASCII ones read the same in every
    candidate encoding): punctuation, currency and a few news symbols are neutral;
    a non-ASCII letter is fine inside a word (a run of letters) of one script --
    Latin words may borrow ASCII letters, CJK scripts count as one -- whose case is
    lower, upper or title (an ASCII-only word is not judged: ``McDonald``, ``iPhone``).
    """
    text = _windows(text)
    odd = judged = letters = n_words = word_letters = han = common_han = 0
    for word in _NON_ASCII_WORD.findall(text):
        non_ascii = [ch for ch in word if not ch.isascii()]
        letters += len(non_ascii)
        n_words += 1
        word_letters += len(word)
        if not _well_formed(word):
            odd += len(non_ascii)
        for ch in non_ascii:
            if "\u4e00" <= ch <= "\u9fff":
                han += 1
                common_han += _common_han(ch)
    judged = letters
    for ch in _NON_ASCII_OTHER.findall(text):
        judged += 1
        cat = unicodedata.category(ch)
        if not (cat[0] == "P" or cat == "Sc" or cat[0] == "M" or ch in _NEWS_SYMBOLS):
            odd += 1
    if odd > MAX_ODD_COUNT and odd > MAX_ODD_SHARE * judged:
        return f"{odd} of {judged} non-ASCII characters are odd symbols or letters in malformed words"
    if n_words >= PLAUSIBLE_MIN_WORDS and word_letters < MIN_MEAN_WORD_LENGTH * n_words:
        return f"{n_words} words with non-ASCII letters average {word_letters / n_words:.1f} letters"
    if han >= 10 and common_han < MIN_COMMON_HAN_SHARE * han:
        return f"only {common_han} of {han} Han characters are common ones"
    return ""


def _windows(data: AnyStr) -> AnyStr:
    """``data`` itself, or for a long one JUDGE_WINDOWS evenly spaced windows of it joined
    by newlines: bounded work for judging a 10 MB file (mojibake and damage are spread out)."""
    if len(data) <= JUDGE_WINDOWS * JUDGE_WINDOW:
        return data
    step = len(data) // JUDGE_WINDOWS
    newline = b"\n" if isinstance(data, bytes) else "\n"
    return newline.join(data[i * step : i * step + JUDGE_WINDOW] for i in range(JUDGE_WINDOWS))


def _script(ch: str) -> str:
    if ch.isascii():
        return "LATIN"
    name = unicodedata.name(ch, "?").split(" ", 1)[0]
    return "CJK" if name in _CJK_SCRIPTS else name


def _well_formed(word: str) -> bool:
    """A run of letters that can be a word: few script changes and a sane case pattern."""
    switches = sum(1 for a, b in zip(word, word[1:]) if _script(a) != _script(b))
    if switches > max(1, len(word) // 8):
        return False
    rest = word[1:]
    # lower, UPPER or Title; a case-less script (CJK, Arabic, Hebrew) is all "lower"
    return not rest or not any(ch.isupper() for ch in rest) or not any(ch.islower() for ch in rest)


def _common_han(ch: str) -> bool:
    """A Han character among the commonly used ones of GB 2312 (level 1), Big5 or JIS (level 1).

    Text decoded from random bytes lands all over the code space; real text stays here.
    """
    for encoding, lo, hi in (("gb2312", 0xB0, 0xD7), ("big5", 0xA4, 0xC6), ("shift_jis", 0x88, 0x98)):
        try:
            code = ch.encode(encoding)
        except UnicodeEncodeError:
            continue
        if len(code) == 2 and lo <= code[0] <= hi:
            return True
    return False


def _control_share_bytes(payload: bytes) -> float:
    n_ctl = len(_CONTROL_BYTES.findall(payload))
    return n_ctl / len(payload) if n_ctl >= MIN_CONTROL_COUNT else 0.0


def _scrub(text: str) -> str:
    """Normalise line ends and drop characters that must never leak out."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _BAD_CHARS.search(text) is not None:
        n_ctl = len(_CONTROL_CHARS.findall(text))
        if n_ctl >= MIN_CONTROL_COUNT and n_ctl > MAX_CONTROL_SHARE * len(text):
            raise Rejected("binary", f"{n_ctl} control characters in {len(text)} characters")
        text = _BAD_CHARS.sub("", text)
    if not text.strip():
        raise Rejected("empty", "no text other than whitespace after decoding")
    return text
