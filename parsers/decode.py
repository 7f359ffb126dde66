"""Raw bytes of a news dump -> ``str``, or a ``Rejected`` with a stable reason.

Order of attempts (first success wins):

1. byte-order mark: UTF-32 LE/BE (checked before UTF-16, whose BOM is a prefix
   of the UTF-32 LE one), UTF-8-sig, UTF-16 LE/BE;
2. strict UTF-8 -- the hot path, almost every dump;
3. BOM-less UTF-16 recognised by its NUL pattern (every other byte NUL);
4. cp1252 when the payload is mostly ASCII and decodes strictly: Western news
   saved by Windows tools; charset-normalizer guesses badly on such text (it
   calls ``caf\\xe9 \\x93quoted\\x94`` cp1125 and a BBC article with one pound
   sign cp932), so the common case is settled here;
5. charset-normalizer's best guess (Cyrillic, Greek, CJK legacy code pages).

Before and after, the payload is checked for being binary (NUL bytes outside
UTF-16/32, or many control characters) and the text is scrubbed: control
characters other than tab/newline/form feed, lone surrogates and U+FFFE/U+FFFF
never leave this module, and line ends become ``\\n``.
"""

from __future__ import annotations

import codecs
import re

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
# cp1252 is assumed only when at most this share of bytes is non-ASCII and the
# high bytes come alone or in pairs (``é``, ``“À``): a Cyrillic or Greek legacy
# page is mostly runs of high bytes (whole words) and goes to step 5.
MAX_CP1252_HIGH_SHARE = 0.3
_HIGH_RUN = re.compile(rb"[\x80-\xff]{3,}")
# A guess from charset-normalizer with more chaos than this is no decoding.
MAX_CHAOS = 0.3


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
    in_runs = sum(len(run) for run in _HIGH_RUN.findall(payload))
    if high <= MAX_CP1252_HIGH_SHARE * len(payload) and in_runs <= 0.1 * high:
        try:
            return payload.decode("cp1252")
        except UnicodeDecodeError:
            pass  # one of the five bytes cp1252 leaves undefined: not cp1252

    from charset_normalizer import from_bytes  # imported lazily: off the hot path

    best = from_bytes(payload).best()
    if best is None or best.chaos > MAX_CHAOS:
        raise Rejected("undecodable", "no encoding gives plausible text")
    return str(best)


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
