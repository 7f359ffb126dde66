"""normalize_line (display text) and fold_for_matching (the hashing/shingling key)."""

import sys
from pathlib import Path

import pytest

from parsers.normalize import fold_for_matching, normalize_line, words_for_matching

FIXTURES = Path(__file__).parent / "fixtures"
SHARED_DEDUP = Path(__file__).resolve().parents[2] / "shared" / "bench" / "dedup"


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Gaza\u00a0", "Gaza"),  # trailing NBSP of the seed headline
        ("declared\u00a0earlier", "declared earlier"),
        ("10\u202fkm\u2009away\u2007now\u3000here", "10 km away now here"),
        ("zero\u200bwidth\u200d joiner\u2060x\ufeffy", "zerowidth joinerxy"),
        ("co\u00adoperate", "cooperate"),  # soft hyphen is invisible
        ("  many \t  spaces\n", "many spaces"),
        ("“curly” ‘quotes’ – and — dashes", "“curly” ‘quotes’ – and — dashes"),
        ("Cafe\u0301", "Café"),  # NFC composes the accent
        ("Cafe\u00ad\u0301", "Café"),  # ... also across a soft hyphen (the fuzzer: not idempotent before)
        ("E\u200b\u0327", "Ȩ"),
        ("lone\ud800 sur\udfffrogate", "lone surrogate"),  # from JSON "\\ud800" escapes: UTF-8 cannot store them
        ("bell\x07 and \x85 C1", "bell and C1"),
        ("", ""),
    ],
)
def test_normalize_line(raw, expected):
    assert normalize_line(raw) == expected


def test_fold_for_matching_basics():
    # "$" and "+" are symbols (S*) and stay; "%" is punctuation (Po) and goes,
    # exactly as the benchmark's shingles.py does (its docstring says "%" stays)
    assert fold_for_matching("Don’t say “U.S.” – it cost $1,000 (10%) +2!") == "dont say us it cost $1000 10 +2"
    assert fold_for_matching("  A\u00a0B\n\nC ") == "a b c"
    # lower(), like the benchmark, not casefold(): ß stays ß
    assert fold_for_matching("Straße") == "straße"


def _benchmark_words():
    sys.path.insert(0, str(SHARED_DEDUP))
    try:
        import shingles
    finally:
        sys.path.pop(0)
    return shingles


@pytest.mark.skipif(not (SHARED_DEDUP / "shingles.py").exists(), reason="shared benchmark not present")
@pytest.mark.parametrize("doc", ["seed", "business_001", "sport_199", "tech_001"])
def test_fold_agrees_with_benchmark_shingling(doc):
    shingles = _benchmark_words()
    path = FIXTURES / "seed_dump.txt" if doc == "seed" else SHARED_DEDUP / "bbc" / "docs" / f"{doc}.txt"
    text = shingles.read_text(path)
    assert words_for_matching(text) == shingles.words(text)
    assert fold_for_matching(text) == shingles.normalized_text(text)
    assert fold_for_matching(text).split() == shingles.words(text)


def test_fold_of_normalized_lines_matches_fold_of_raw_seed():
    # normalize_line only changes spaces/invisibles, so folding agrees either way
    text = (FIXTURES / "seed_dump.txt").read_text(encoding="utf-8")
    normalized = "\n".join(normalize_line(line) for line in text.splitlines())
    assert fold_for_matching(normalized) == fold_for_matching(text)


def test_punctuation_set_is_every_p_category_code_point():
    """The deletion set is scanned only below PUNCT_SCAN_END (start-up cost); no punctuation
    may exist above it in this Python's Unicode database, or folding would keep it."""
    import sys
    import unicodedata

    from parsers import normalize

    above = [cp for cp in range(normalize.PUNCT_SCAN_END, sys.maxunicode + 1) if unicodedata.category(chr(cp)).startswith("P")]
    assert above == []
    assert len(normalize._PUNCT_CHARS) > 700  # Unicode 14 has ~800 P* code points
    assert "\u2019" in normalize._PUNCT_CHARS and "\U0001e95e" in normalize._PUNCT_CHARS  # Adlam initial exclamation
