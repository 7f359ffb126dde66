"""Property-based fuzzing of every parser (properties and strategies: tests/fuzz_properties.py).

A few hundred examples per target, derandomized (profile ``fuzz-ci``); set
``NEWSDEDUP_FUZZ_EXAMPLES`` for more. ``bench/fuzz.py`` runs the same properties at 10,000.
"""

from __future__ import annotations

import pytest
from hypothesis import given

from tests.fuzz_properties import TARGETS, FuzzTarget, ci_settings


@pytest.mark.filterwarnings("ignore")  # bs4 and feedparser warn about hostile markup: expected here
@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_fuzz(target: FuzzTarget):
    ci_settings(target)(given(target.strategy)(target.check))()
