"""The typed records that travel through the pipeline: source -> parse/clean -> dedup -> store."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


def content_hash(payload: bytes) -> str:
    """SHA-256 hex digest of the raw bytes, the identity of one version of an input."""
    return hashlib.sha256(payload).hexdigest()


@dataclass(frozen=True, slots=True)
class RawArticle:
    """One input item as a source yields it, before any parsing.

    Attributes:
        source: source name (an outlet, feed or dump name); learned boilerplate is per source.
        uri: stable identity inside the source: a relative path, ``archive.zip!member``,
            ``export.jsonl#L12`` or a URL.
        payload: the raw bytes exactly as read (a whole text dump, or one JSONL line).
        kind: ``"dump"`` for a raw text dump, ``"record"`` for pre-split fields (JSONL).
        fields: for ``kind="record"``: ``title``, ``body``/``text``, ``url``, ``published``, ``source``.
    """

    source: str
    uri: str
    payload: bytes
    kind: str = "dump"
    fields: Mapping[str, Any] | None = None

    @property
    def content_hash(self) -> str:
        return content_hash(self.payload)


@dataclass(frozen=True, slots=True)
class RemovedLine:
    """A line taken out of an article body, with the name of the rule that took it.

    ``rule`` names the exact rule (``photo_credit_agency_slash``), ``kind`` what kind of
    boilerplate it is (``photo_credit``, ``comment_footer``, ``promo``...). ``evidence`` is set
    for learned boilerplate: how many stories of the source carry the line.
    """

    text: str
    rule: str
    position: int = 0
    evidence: int | None = None
    kind: str = ""


@dataclass(slots=True)
class Article:
    """A parsed and cleaned article, ready to be signed and stored."""

    source: str
    source_uri: str
    content_hash: str
    title: str
    paragraphs: list[str]
    dateline: str | None = None
    byline: str | None = None
    published_at: datetime | None = None
    url: str | None = None
    removed: list[RemovedLine] = field(default_factory=list)
    # Optional fields appended for HTML pages (defaults keep dump/record parsing unchanged).
    captions: list[str] = field(default_factory=list)
    site_name: str | None = None
    language: str | None = None
    modified_at: datetime | None = None

    @property
    def body(self) -> str:
        return "\n\n".join(self.paragraphs)

    @property
    def word_count(self) -> int:
        return sum(len(p.split()) for p in self.paragraphs)


class Rejected(Exception):
    """Raised by a parser or source when an input cannot become an article.

    ``reason`` is a short stable code stored in ``rejected_inputs.reason`` (``empty``,
    ``binary``, ``undecodable``, ``too_large``, ``no_body``, ``malformed_jsonl``,
    ``unsafe_member``, ``bad_archive``, ``unreadable``, ``not_html``, ``hostile``); ``detail`` is a sentence for humans.
    """

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Rejection:
    """An input that did not become an article, as recorded in ``rejected_inputs``."""

    source: str
    source_uri: str
    reason: str
    detail: str
    content_hash: str | None = None
