"""Property-based fuzzing of every parser (properties and strategies: tests/fuzz_properties.py).

A few hundred examples per target, derandomized (profile ``fuzz-ci``); set
``NEWSDEDUP_FUZZ_EXAMPLES`` for more. ``bench/fuzz.py`` runs the same properties at 10,000.
"""

from __future__ import annotations

import pytest
from hypothesis import given

from tests.fuzz_properties import TARGETS, FuzzTarget, ci_settings


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore")  # bs4 and feedparser warn about hostile markup: expected here
@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_fuzz(target: FuzzTarget):
    ci_settings(target)(given(target.strategy)(target.check))()


def test_a_tail_scoped_user_rule_is_why_cleaning_twice_can_remove_more():
    """The exception stated in fuzz_properties: removing lines moves another into a tail window."""
    from parsers.clean import strip_boilerplate
    from parsers.rules import rules_from_mapping
    from tests.conftest import prose

    rules = rules_from_mapping({"rule": [{"name": "promo_tail", "kind": "promo", "pattern": "Promo .*", "scope": "tail", "window": 2}]})
    body = [*prose(1, paragraphs=3), "Promo one: subscribe today to read every story from our newsroom.", "Promo two", "Promo three"]
    kept, removed = strip_boilerplate(body, rules)
    assert [r.text for r in removed] == ["Promo two", "Promo three"]
    _, again = strip_boilerplate(kept, rules)
    assert [(r.text, r.rule) for r in again] == [(body[3], "promo_tail")]
