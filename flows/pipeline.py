"""The ingestion engine: raw items -> parsed, cleaned, signed articles -> story clusters -> DuckDB.

One batch at a time (thousands of articles): parsing and MinHash signing run in a process
pool (both cores), while the main process owns the single DuckDB connection and does the
cheap, order-dependent part: look-ups against the store, linking to story clusters, learned
boilerplate, and one transaction per batch. The Prefect flow (`flows/ingest.py`) and the CLI
(`flows/cli.py`) both drive this module, so they write identical databases.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import chain, islice
from pathlib import Path
from typing import Any

from flows.batch_linking import RecentShingles, store_batch
from flows.sources import InputFile, input_files, iter_inputs, read_input_file
from flows.workers import (  # noqa: F401  (re-exported for flows.ingest)
    Learned,
    ParsePool,
    SignedBatch,
    parse_and_sign,
    relaxed_gc,
)
from parsers.article import RawArticle, Rejection
from parsers.rules import RuleSet, load_rules
from parsers.signature import DedupConfig
from storage import articles as store_articles
from storage import runs
from storage.boilerplate import learned_boilerplate
from storage.crashpoints import crashpoint
from storage.dedup_config import ensure_dedup_config
from storage.records import BatchWrite
from storage.locking import open_store_when_free, writer_lock, writer_timeout
from storage.store import is_interrupt, is_out_of_memory, out_of_memory_detail, store_errors
from storage.snapshot import SnapshotPublisher

log = logging.getLogger("newsdedup")

VERSION = "0.1.0"


@dataclass(frozen=True)
class IngestSettings:
    """Everything one ingestion run needs besides its inputs.

    Attributes:
        db_path: the DuckDB file (created with its schema if missing).
        source: source name for every item; None derives it from the paths (see `flows.sources`).
        threshold: Jaccard similarity at or above which two articles are one story.
        batch_size: articles per transaction (and per unit of parallel work).
        workers: processes that parse and sign; 0 parses in the main process.
        max_bytes: inputs larger than this are rejected as ``too_large``.
        rules_path: optional TOML file with extra or per-source cleaning rules.
        learn_min_stories: a short line carried by this many stories of one source is
            that source's learned boilerplate.
        files_per_process: a run over more input files than this (or over more than
            ``SEGMENT_BYTES_PER_FILE`` times as many bytes) is ingested by a fresh process
            per segment of that many files, so its peak memory does not grow with its length
            (``flows.segments``); 0 keeps every run in one process.
    """

    db_path: Path
    source: str | None = None
    threshold: float = 0.8
    batch_size: int = 2000
    workers: int = field(default_factory=lambda: min(2, os.cpu_count() or 1))
    max_bytes: int = 10 * 1024 * 1024
    rules_path: Path | None = None
    learn_min_stories: int = 4
    files_per_process: int = 20_000


@dataclass
class IngestSummary:
    """Counts of one run, as printed by the CLI and published as a Prefect artifact.

    ``rejected`` counts every input the run rejected; ``rejected_new`` those recorded for the
    first time (an input rejected by an earlier run and still in place is counted, not recorded
    again). A run is ``partial`` only when ``rejected_new`` is not zero.
    """

    run_id: str
    read: int = 0
    new: int = 0
    new_stories: int = 0
    already_stored: int = 0
    exact_dups: int = 0
    near_dups: int = 0
    rejected: int = 0
    rejected_new: int = 0
    clusters_merged: int = 0
    learned_lines_removed: int = 0
    seconds: float = 0.0
    rejected_by_reason: Counter = field(default_factory=Counter)
    status: str = "running"

    def add(self, part: IngestSummary) -> None:
        """Add the counts of a part of this run (a segment ingested by another process)."""
        for name in _ADDITIVE_COUNTS:
            setattr(self, name, getattr(self, name) + getattr(part, name))
        self.rejected_by_reason.update(part.rejected_by_reason)

    @property
    def rejected_before(self) -> int:
        """Inputs this run rejected that an earlier run had already recorded."""
        return self.rejected - self.rejected_new

    def as_counts(self) -> dict[str, int]:
        return {
            "n_read": self.read,
            "n_new": self.new,
            "n_already_stored": self.already_stored,
            "n_exact_dups": self.exact_dups,
            "n_near_dups": self.near_dups,
            "n_rejected": self.rejected,
            "n_clusters_merged": self.clusters_merged,
            "n_rejected_new": self.rejected_new,
        }


_ADDITIVE_COUNTS = (
    "read", "new", "new_stories", "already_stored", "exact_dups", "near_dups", "rejected",
    "rejected_new", "clusters_merged", "learned_lines_removed",
)


def article_id_for(raw: RawArticle) -> str:
    """Stable id of one version of one input: same bytes at the same place -> same id."""
    key = f"{raw.source}\x00{raw.uri}\x00{raw.content_hash}".encode()
    return hashlib.sha256(key).hexdigest()[:16]


def new_run_id() -> str:
    """Run ids sort by start time, so `ORDER BY run_id` is chronological."""
    now = datetime.now(timezone.utc)
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"

RAMP_UP = (250, 250)


# Raw bytes per batch, beside the article count: a batch is written in one transaction whose
# memory grows with its text (storage/batch.py), as do the workers' results in the main
# process. 2,000 typical dumps (~5 KB) stay under it; a run of multi-megabyte files is cut
# into smaller batches (20 dumps of 4 MB in one batch ran DuckDB out of memory).
BATCH_BYTES = 16 << 20


def item_bytes(item: object) -> int:
    """Raw size of a stream item: a raw article's payload, an item reference's recorded size."""
    payload = getattr(item, "payload", None)
    if isinstance(payload, (bytes, bytearray, str)):
        return len(payload)
    return int(getattr(item, "n_bytes", 0) or 0)


def batches(items: Iterable, size: int, max_bytes: int = BATCH_BYTES, ramp: bool = True) -> Iterator[list]:
    """Cut the item stream into batches: two small ones first, then `size` each, every batch
    also ending once its items reach `max_bytes` of raw input (at least one item each).

    Workers strip the learned boilerplate committed before their batch was dispatched, and
    a batch is dispatched while the one before it is still being written, so the first two
    batches only learn, and their lines are stripped in the main process at extra cost.
    Small first batches learn a source's furniture early and cheaply. The schedule depends
    only on the items, so the same input always gives the same batches (and the same database).
    ``ramp=False`` starts with full batches (a later segment of a run, ``flows.segments``).
    """
    it = iter(items)
    limits = [min(r, size) for r in RAMP_UP] if ramp else []
    chunk: list = []
    held = 0
    for item in it:
        chunk.append(item)
        held += item_bytes(item)
        if len(chunk) >= (limits[0] if limits else size) or held >= max_bytes:
            yield chunk
            chunk, held = [], 0
            if limits:
                limits.pop(0)
    if chunk:
        yield chunk


def _run_error(exc: BaseException) -> str:
    """What ``ingest_runs.error`` says about a run that stopped on ``exc``."""
    if is_interrupt(exc):
        return "interrupted (Ctrl-C or SIGINT); the batches committed before it are kept"
    if is_out_of_memory(exc):  # DuckDB's own text goes on with a screen of generic advice
        return f"DuckDB ran out of memory ({out_of_memory_detail(exc)}); raise or unset NEWSDEDUP_DUCKDB_MEMORY and run again"[:1000]
    return f"{type(exc).__name__}: {exc}"[:1000]


class IngestRun:
    """One ingestion run against one open store: the steps both the CLI and the Prefect flow call.

    Use as a context manager; the run row is finished (ok / partial / failed) on exit.
    """

    def __init__(self, settings: IngestSettings, paths: list[str], run_id: str | None = None, *, segment: bool = False):
        self.settings = settings
        # a segment of a run (``flows.segments``): the run's own process holds the writer turn
        # and the run row, and this one only writes batches under the run's id
        self.segment = segment
        self.paths = [str(p) for p in paths]
        self.rules = load_rules(settings.rules_path) if settings.rules_path else RuleSet()
        self.config = DedupConfig.for_threshold(settings.threshold)
        self.summary = IngestSummary(run_id=run_id or new_run_id())
        self.started = time.perf_counter()
        # ids of the last batches prepared: they may not be committed yet when the next is
        # prepared; older ones are in the store. Bounded, so memory stays flat on long runs.
        self._recent_ids: deque[set[str]] = deque(maxlen=4)
        self._recent_shingles = RecentShingles()  # of the last batches stored: candidates verified without a fetch
        self.con = None
        self.first_commit_seconds: float | None = None  # from the run's start to its first commit

    def __enter__(self) -> IngestRun:
        if self.segment:
            self._lock = ExitStack()
            self.con = open_store_when_free(self.settings.db_path, time.monotonic() + writer_timeout())
            self.publisher = SnapshotPublisher(self.settings.db_path)
            return self
        # writers take turns (storage/locking.py); readers use the snapshot we publish
        self._lock = ExitStack()
        deadline = self._lock.enter_context(writer_lock(self.settings.db_path, what=f"run {self.summary.run_id}"))
        try:
            self.con = open_store_when_free(self.settings.db_path, deadline)
        except BaseException:
            self._lock.close()
            raise
        self.started = time.perf_counter()  # waiting for our turn is not part of the run
        self.publisher = SnapshotPublisher(self.settings.db_path)
        try:
            ensure_dedup_config(self.con, self.config.to_dict())
            # we hold the writer lock, so a run still marked running died before its finish
            if interrupted := runs.close_interrupted_runs(self.con):
                log.warning("%d earlier run(s) had stopped without finishing; marked failed (interrupted)", interrupted)
            runs.start_run(self.con, self.summary.run_id, self.settings.source, self.paths, self.settings.threshold, VERSION)
            crashpoint("run.after_start")
        except BaseException:
            self.con.close()
            self._lock.close()
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.segment:
            self.con.close()
            return
        error = None
        if exc_type is not None:
            self.summary.status = "failed"
            error = _run_error(exc)
        else:
            self.summary.status = "partial" if self.summary.rejected_new else "ok"
        self.summary.seconds = time.perf_counter() - self.started
        try:
            if self.con is None:  # released to a segment process that failed: take it back
                self.con = open_store_when_free(self.settings.db_path, time.monotonic() + writer_timeout())
            crashpoint("run.before_finish")
            runs.finish_run(self.con, self.summary.run_id, self.summary.as_counts(), self.summary.status, self.summary.seconds, error)
            self.publisher.publish(self.con)
        finally:
            if self.con is not None:
                self.con.close()
            self._lock.close()

    @contextmanager
    def store_released(self) -> Iterator[None]:
        """Close the store for the block, in which other processes write this run's segments,
        then open it again (the writer turn stays ours throughout)."""
        self.con.close()
        self.con = None
        yield
        self.con = open_store_when_free(self.settings.db_path, time.monotonic() + writer_timeout())

    def items(self) -> Iterator[RawArticle | Rejection]:
        """The run's input items in a stable order (raises FileNotFoundError for a missing path)."""
        return iter_inputs(self.paths, source=self.settings.source, max_bytes=self.settings.max_bytes)

    def prepare(self, chunk: list, id_of: Callable = article_id_for) -> tuple[list[tuple[str, Any]], list[Rejection]]:
        """Split a chunk into items still to parse (with their ids) and rejections; skip stored ones.

        Items are raw articles, or anything ``id_of`` gives the article id of (the Prefect flow
        passes references to items that its tasks read themselves, ``flows.input_refs``).
        """
        raws, rejections = [], []
        for item in chunk:
            if isinstance(item, Rejection):
                rejections.append(item)
            else:
                raws.append((id_of(item), item))
        self.summary.read += len(chunk)
        stored = store_articles.existing_article_ids(self.con, [i for i, _ in raws])
        fresh = []
        batch_ids: set[str] = set()
        for aid, raw in raws:
            if aid in stored or aid in batch_ids or any(aid in ids for ids in self._recent_ids):
                self.summary.already_stored += 1
            else:
                batch_ids.add(aid)
                fresh.append((aid, raw))
        self._recent_ids.append(batch_ids)
        return fresh, rejections

    def learned(self) -> Learned:
        """The learned boilerplate committed so far, for workers to strip before signing."""
        return learned_boilerplate(self.con, self.settings.learn_min_stories)

    def store(self, signed: SignedBatch | None, rejections: list[Rejection]) -> BatchWrite:
        """Link a parsed batch to story clusters and write it in one transaction."""
        batch = store_batch(self.con, signed, rejections, self.config, self.settings, self.summary, self._recent_shingles)
        if self.first_commit_seconds is None:
            self.first_commit_seconds = time.perf_counter() - self.started
        self.publisher.after_batch(self.con)
        return batch


def ingest(
    paths: list[str],
    settings: IngestSettings,
    on_progress: Callable[[int], None] | None = None,
    run_id: str | None = None,
) -> IngestSummary:
    """Ingest every item under `paths` into the store; return the run's counts.

    Re-running on the same inputs adds nothing. A batch is written in one transaction, so a
    run killed at any point leaves whole batches only; the next run skips what is stored.
    Parsing of the next batch overlaps the writing of the current one. A run over more than
    ``settings.files_per_process`` files is written by a fresh process per segment of that
    many files (``flows.segments``): one run, one run row, the same database.

    Args:
        paths: files, directories, globs, archives or JSONL exports.
        settings: see `IngestSettings`.
        on_progress: called with the number of items finished after each batch.
        run_id: id for the run (a new time-ordered id if None).

    Raises:
        FileNotFoundError: a path does not exist (nothing is written).
        storage.store.StoreError: the database cannot be opened, is in use or is damaged.
    """
    from flows.segments import ingest_segments, segments

    run = IngestRun(settings, paths, run_id)
    parts = segments(input_files(paths, settings.source), settings.files_per_process)  # FileNotFoundError here
    first = next(parts, [])
    second = next(parts, None)
    if second is not None:
        with store_errors(settings.db_path, only_damage=True), run:
            ingest_segments(run, chain([first, second], parts), on_progress)
        return run.summary
    stream = read_input_files(first, settings.source, settings.max_bytes)
    with store_errors(settings.db_path, only_damage=True), run, relaxed_gc():
        ingest_stream(run, stream, on_progress)
    return run.summary


def read_input_files(files: Iterable[InputFile], source: str | None, max_bytes: int) -> Iterator[RawArticle | Rejection]:
    """The items of `files` in order: what ``iter_inputs`` yields for the paths they came from."""
    return chain.from_iterable(read_input_file(f, source, max_bytes) for f in files)


def ingest_stream(run: IngestRun, stream: Iterable, on_progress: Callable[[int], None] | None = None, ramp: bool = True) -> None:
    """Parse, sign, link and store the items of `stream` batch by batch, into the open `run`.

    Parsing of the next batch overlaps the writing of the current one.
    """
    settings = run.settings
    parser = ParsePool(settings.workers, run.rules, run.config)
    try:
        in_flight: deque = deque()

        def dispatch(chunk: list) -> None:
            fresh, rejections = run.prepare(chunk)
            in_flight.append((len(chunk), rejections, parser.submit(fresh, run.learned()) if fresh else None))

        chunks = batches(stream, settings.batch_size, ramp=ramp)
        for chunk in islice(chunks, 2):
            dispatch(chunk)
        while in_flight:
            n_items, rejections, pending = in_flight.popleft()
            signed = parser.collect(pending) if pending is not None else None
            run.store(signed, rejections)
            nxt = next(chunks, None)
            if nxt is not None:
                dispatch(nxt)
            if on_progress:
                on_progress(n_items)
    finally:
        parser.close()
