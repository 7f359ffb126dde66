"""Input references: where each input item is, so a Prefect task reads the bytes itself.

The `ingest` flow hands its tasks names, not data (passing thousands of payloads into a task
costs seconds of pickling, and with Dask it ships them over the network). Two kinds of task
read the input files:

1. *identify* gets a few files (``read_units``: up to a batch of plain files, or one archive /
   JSONL / WARC file) and returns, per item, an :class:`ItemRef` (file, position in that file's
   item stream, article id) or the item's rejection. Only ids travel back, so the flow can
   skip stored articles before anything is parsed.
2. *parse-and-sign* gets a batch of ``(article_id, ItemRef)`` and reads those items again
   (``read_refs``), then parses and signs them. A file that changed in between gives the
   item's rejection (``unreadable``), never another article under the old id.

Positions count the items ``flows.sources.read_input_file`` yields for one file, so the
refs in order are exactly the stream ``iter_inputs`` gives the CLI engine: same batches,
same database.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

from flows.pipeline import article_id_for
from flows.sources import InputFile, input_files, is_container, read_input_file
from parsers.article import RawArticle, Rejection


@dataclass(frozen=True, slots=True)
class ItemRef:
    """One input item by reference: the ``position``-th item of ``file``, with its identity."""

    file: InputFile
    position: int
    source: str
    uri: str
    content_hash: str
    article_id: str
    n_bytes: int = 0  # size of the raw item, for byte-bounded batches


def item_id(ref: ItemRef) -> str:
    """The article id of a referenced item (what ``IngestRun.prepare`` keys on)."""
    return ref.article_id


def read_units(paths: list[str], source: str | None, files_per_unit: int) -> Iterator[list[InputFile]]:
    """The input files in ``iter_inputs`` order, cut into units for *identify* tasks.

    Plain files (one item each) go ``files_per_unit`` to a unit; a container file (archive,
    JSONL, WARC) is a unit of its own. Paths are made absolute, for workers whose working
    directory differs.

    Raises:
        FileNotFoundError: a path names nothing (raised by this call, before anything is read).
    """
    files = input_files(paths, source)

    def units() -> Iterator[list[InputFile]]:
        unit: list[InputFile] = []
        for found in files:
            found = InputFile(os.path.abspath(found.path), found.source, found.uri)
            if is_container(found):
                if unit:
                    yield unit
                    unit = []
                yield [found]
                continue
            unit.append(found)
            if len(unit) >= files_per_unit:
                yield unit
                unit = []
        if unit:
            yield unit

    return units()


def identify(unit: list[InputFile], source: str | None, max_bytes: int) -> list[ItemRef | Rejection]:
    """Read a unit's files and return a reference (or the rejection) for each item, in order."""
    out: list[ItemRef | Rejection] = []
    for found in unit:
        for position, item in enumerate(read_input_file(found, source, max_bytes)):
            if isinstance(item, Rejection):
                out.append(item)
            else:
                out.append(ItemRef(found, position, item.source, item.uri, item.content_hash, article_id_for(item), len(item.payload)))
    return out


def read_refs(
    refs: list[tuple[str, ItemRef]], source: str | None, max_bytes: int
) -> tuple[list[tuple[str, RawArticle]], list[Rejection]]:
    """Read the referenced items back: ``(article_id, raw item)`` pairs, in order, and rejections.

    Each file is read once for all its refs in the batch, only as far as the last position
    wanted. An item whose bytes (or place) differ from the reference -- the file changed
    after it was identified -- becomes an ``unreadable`` rejection.
    """
    raws: list[tuple[str, RawArticle]] = []
    rejections: list[Rejection] = []
    i = 0
    while i < len(refs):
        found = refs[i][1].file
        group = []
        while i < len(refs) and refs[i][1].file == found:
            group.append(refs[i])
            i += 1
        wanted = {ref.position: (aid, ref) for aid, ref in group}
        last = max(wanted)
        got: dict[int, RawArticle | Rejection] = {}
        for position, item in enumerate(read_input_file(found, source, max_bytes)):
            if position in wanted:
                got[position] = item
            if position >= last:
                break
        for position, (aid, ref) in sorted(wanted.items()):
            item = got.get(position)
            if isinstance(item, RawArticle) and item.content_hash == ref.content_hash and item.uri == ref.uri:
                raws.append((aid, item))
            else:
                rejections.append(Rejection(ref.source, ref.uri, "unreadable",
                                            f"{found.path} changed while the run read it; ingest it again",
                                            ref.content_hash))
    return raws, rejections
