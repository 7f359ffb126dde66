"""What a copy of a story changed compared with the canonical article, in words."""

from __future__ import annotations

import difflib
from collections.abc import Mapping


def describe_changes(canonical: Mapping, copy: Mapping) -> str:
    """Summarise how `copy` differs from `canonical` (both with ``title`` and ``body``).

    Paragraphs are compared as units: a paragraph present only in the copy is "added", one
    missing from it "dropped", a pair aligned by difflib but not equal "edited".

    Returns:
        e.g. ``"new headline; 2 paragraphs dropped; 1 edited"``, or ``"identical text"``.
    """
    parts: list[str] = []
    if (copy.get("title") or "").strip() != (canonical.get("title") or "").strip():
        parts.append("new headline")
    a = [p for p in (canonical.get("body") or "").split("\n\n") if p]
    b = [p for p in (copy.get("body") or "").split("\n\n") if p]
    added = dropped = edited = 0
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "insert":
            added += j2 - j1
        elif op == "delete":
            dropped += i2 - i1
        elif op == "replace":
            common = min(i2 - i1, j2 - j1)
            edited += common
            dropped += (i2 - i1) - common
            added += (j2 - j1) - common
    for n, word in ((added, "added"), (dropped, "dropped"), (edited, "edited")):
        if n:
            parts.append(f"{n} paragraph{'s' if n != 1 else ''} {word}")
    if not parts:
        return "identical text"
    return "; ".join(parts)
