"""decode_text: BOMs, strict UTF-8, legacy code pages, and the three rejections."""

import codecs
from pathlib import Path

import pytest

from parsers.article import Rejected
from parsers.decode import decode_text

SEED = Path(__file__).parent / "fixtures" / "seed_dump.txt"
TEXT = "Café “quoted” – naïve £10\nsecond line"


def test_utf8_seed_round_trips():
    raw = SEED.read_bytes()
    assert decode_text(raw) == raw.decode("utf-8")


@pytest.mark.parametrize(
    "payload",
    [
        TEXT.encode("utf-8"),
        codecs.BOM_UTF8 + TEXT.encode("utf-8"),
        codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
        codecs.BOM_UTF32_LE + TEXT.encode("utf-32-le"),
        codecs.BOM_UTF32_BE + TEXT.encode("utf-32-be"),
        TEXT.encode("utf-16-le"),  # BOM-less UTF-16, recognised by its NUL pattern
        TEXT.encode("utf-16-be"),
    ],
    ids=["utf8", "utf8-sig", "utf16le-bom", "utf16be-bom", "utf32le-bom", "utf32be-bom", "utf16le", "utf16be"],
)
def test_unicode_encodings(payload):
    assert decode_text(payload) == TEXT


def test_cp1252_short_text():
    assert decode_text(b"caf\xe9 \x93quoted\x94") == "café “quoted”"


def test_cp1252_bbc_pound_sign():
    raw = b"Chelsea sack Mutu\n\nThe fine was \xa330,000 and the club said so."
    assert "£30,000" in decode_text(raw)


def test_cyrillic_legacy_page_goes_to_charset_normalizer():
    text = "Правительство России объявило о новых мерах поддержки экономики в понедельник. " * 3
    assert decode_text(text.encode("cp1251")) == text


def test_crlf_becomes_newline_and_controls_are_dropped():
    assert decode_text(b"a\r\nb\rc\x07d\x1b") == "a\nb\ncd"


def test_c1_controls_and_stray_bom_dropped():
    assert decode_text("x\u0085y\ufeffz".encode("utf-8")) == "xyz"


@pytest.mark.parametrize("payload", [b"", b"   \n\t\r\n ", codecs.BOM_UTF8 + b"  \n"])
def test_empty(payload):
    with pytest.raises(Rejected) as exc:
        decode_text(payload)
    assert exc.value.reason == "empty"


@pytest.mark.parametrize(
    "payload",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00\x00\x00\x01\x00\x08\x06\x00\x00\x00",
        b"plain ascii text\x00with a NUL inside it",
        bytes([1, 2, 3, 4, 5, 6, 7, 8]) * 20 + b"some text",
    ],
    ids=["png", "nul-in-utf8", "control-bytes"],
)
def test_binary(payload):
    with pytest.raises(Rejected) as exc:
        decode_text(payload)
    assert exc.value.reason == "binary"


def test_undecodable():
    with pytest.raises(Rejected) as exc:
        decode_text(bytes(range(0x80, 0x100)) * 3)
    assert exc.value.reason == "undecodable"


def test_utf8_is_fast():
    import time

    raw = SEED.read_bytes()
    t0 = time.perf_counter()
    for _ in range(1000):
        decode_text(raw)
    assert (time.perf_counter() - t0) / 1000 < 2e-4
