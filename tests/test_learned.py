"""Learned per-source boilerplate: stable keys, candidate lines, stripping with evidence."""

import subprocess
import sys

from parsers.article import Article
from parsers.learned import learnable_lines, line_key, strip_learned


def article(*paragraphs: str) -> Article:
    return Article(source="s", source_uri="u", content_hash="h", title="T", paragraphs=list(paragraphs))


def test_line_key_is_stable_signed_64_bit_and_folded():
    key = line_key("Sign up for the Morning Brief.")
    assert -(2**63) <= key < 2**63
    assert key == line_key("SIGN UP for the   morning brief")  # case, punctuation, spaces folded
    assert key != line_key("Sign up for the Evening Brief.")
    # same value in a fresh interpreter (not Python's randomised hash())
    out = subprocess.run(
        [sys.executable, "-c", "from parsers.learned import line_key; print(line_key('Sign up for the Morning Brief.'))"],
        capture_output=True, text=True, check=True,
    )
    assert int(out.stdout) == key


def test_learnable_lines_short_and_distinct():
    long = " ".join(["word"] * 31)
    a = article("Sign up for the Morning Brief.", long, "Sign up for the morning brief", "—", "Short line")
    got = learnable_lines(a)
    assert [line for _, line in got] == ["Sign up for the Morning Brief.", "Short line"]
    assert learnable_lines(a, max_words=40)[1][1] == long


def test_strip_learned_records_evidence():
    a = article("Real news paragraph one.", "Sign up for the Morning Brief.", "Real news paragraph two.")
    out = strip_learned(a, {line_key("Sign up for the Morning Brief."): 57})
    assert out.paragraphs == ["Real news paragraph one.", "Real news paragraph two."]
    assert [(r.text, r.rule, r.evidence, r.position) for r in out.removed] == [
        ("Sign up for the Morning Brief.", "learned_boilerplate", 57, 2)
    ]
    assert a.paragraphs[1] == "Sign up for the Morning Brief."  # input untouched


def test_strip_learned_min_stories_and_never_empties():
    a = article("Only line.")
    assert strip_learned(a, {line_key("Only line."): 99}).paragraphs == ["Only line."]
    b = article("x one", "y two")
    assert strip_learned(b, {line_key("x one"): 2}, min_stories=3).paragraphs == ["x one", "y two"]
    c = article("short", "a bit longer")
    out = strip_learned(c, {line_key("short"): 5, line_key("a bit longer"): 5})
    assert out.paragraphs == ["a bit longer"]
    assert [r.text for r in out.removed] == ["short"]
