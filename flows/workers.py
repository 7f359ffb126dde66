"""Worker-process side of ingestion: parse, clean and sign batches; verify candidate pairs.

Everything here runs in a process pool (both cores) and is pure apart from the pool itself:
raw items in, signed articles or rejections out. The main process (`flows.pipeline`) owns
the DuckDB connection.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import signal
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from parsers.article import Article, RawArticle, Rejected, Rejection
from parsers.dump import parse_raw
from parsers.learned import learnable_lines, strip_learned
from parsers.normalize import fold_for_matching
from parsers.rules import RuleSet
from parsers.signature import DedupConfig, sign_with_shingles, text_hash

log = logging.getLogger("newsdedup")


@dataclass(slots=True)
class SignedArticle:
    """A parsed article with everything dedup needs, as returned by a worker.

    ``learnable`` holds the article's short lines (line key, text) before any learned
    boilerplate was stripped: each story counts them once towards its source's evidence.
    """

    article_id: str
    article: Article
    folded: str
    text_hash: str
    learnable: list[tuple[int, str]]
    word_count: int
    shingles: np.ndarray | None = None  # sorted unique 64-bit shingle hashes, for verification


@dataclass(slots=True)
class SignedBatch:
    articles: list[SignedArticle]
    signatures: np.ndarray  # (n, num_perm) uint32
    rejections: list[Rejection]


Learned = dict[str, dict[int, int]]  # source -> line_key -> number of stories carrying the line


def parse_and_sign(
    raws: list[tuple[str, RawArticle]], rules: RuleSet, config: DedupConfig, learned: Learned | None = None
) -> SignedBatch:
    """Parse, clean and sign a chunk of raw items (runs in a worker process).

    Args:
        raws: (article_id, raw item) pairs.
        rules: the cleaning rules.
        config: the pinned MinHash settings.
        learned: each source's learned boilerplate lines, stripped before signing.

    Returns:
        The signed articles in input order, their signatures as one array, and the
        items that could not become articles, each with its reason.
    """
    done: list[SignedArticle] = []
    rejections: list[Rejection] = []
    learned = learned or {}
    for article_id, raw in raws:
        try:
            article = parse_raw(raw, rules)
        except Rejected as why:
            rejections.append(Rejection(raw.source, raw.uri, why.reason, why.detail, raw.content_hash))
            continue
        except RecursionError:
            rejections.append(Rejection(raw.source, raw.uri, "hostile", "markup nested too deeply to parse", raw.content_hash))
            continue
        except Exception as exc:  # a parser bug must cost one input, not the run: record it for a bug report
            log.exception("parser failed on %s", raw.uri)
            rejections.append(Rejection(raw.source, raw.uri, "parser_error", f"{type(exc).__name__}: {exc}", raw.content_hash))
            continue
        learnable = learnable_lines(article)
        known = learned.get(article.source)
        if known:
            hits = {key: known[key] for key, _ in learnable if key in known}
            if hits:
                article = strip_learned(article, hits, keyed=learnable)
        folded = fold_for_matching(article.body)
        done.append(SignedArticle(article_id, article, folded, text_hash(folded), learnable, article.word_count))
    folded = [a.folded for a in done]
    signatures, hash_sets = sign_with_shingles(folded, config)
    for a, hashes in zip(done, hash_sets):
        a.shingles = hashes
    return SignedBatch(done, signatures, rejections)


def relax_gc() -> None:
    """Make the cyclic garbage collector rare during a run.

    Parsing and shingling allocate millions of short-lived strings and tuples but build no
    reference cycles, and CPython's default gen-0 threshold (700) made the collector take
    about a quarter of the run (measured on 10k dumps: 12.9 s -> 9.1 s with it disabled).
    Objects alive at start-up are frozen out of collection; the collector still runs.
    """
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this worker when the process that forked it dies.

    A run killed with SIGKILL cannot shut its pool down, and forked workers hold the pool's
    pipes open themselves, so without this they would wait for work forever.
    """
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the pool's own shutdown is all there is
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def _init_worker() -> None:
    die_with_parent()
    # Ctrl-C reaches the whole process group; the main process stops the run and shuts the
    # pool down, so a worker that also raised KeyboardInterrupt only printed its traceback
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The main process links and writes each batch serially and is the pipeline's
    # bottleneck; parse workers yield the CPU to it and soak up what is left.
    os.nice(5)
    relax_gc()


@contextmanager
def relaxed_gc() -> Iterator[None]:
    """`relax_gc` for the duration of a block, then the caller's settings again."""
    before = gc.get_threshold()
    relax_gc()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def _split(chunk: list, parts: int) -> list[list]:
    size = max(1, -(-len(chunk) // max(1, parts)))
    return [chunk[i : i + size] for i in range(0, len(chunk), size)]


class ParsePool:
    """Runs `parse_and_sign` in a process pool, keeping a batch in flight ahead of the writer."""

    def __init__(self, workers: int, rules: RuleSet, config: DedupConfig):
        self.rules, self.config, self.workers = rules, config, workers
        # forked, explicitly: a segment process (flows/segments.py) is itself spawned, and its
        # default start method is then spawn, which re-imports everything in every worker
        self.pool = ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("fork"), initializer=_init_worker,
        ) if workers > 0 else None

    def submit(self, raws: list[tuple[str, RawArticle]], learned: Learned) -> list[Future] | SignedBatch:
        if self.pool is None:
            return parse_and_sign(raws, self.rules, self.config, learned)
        # several small chunks per worker keep both cores busy to the end of the batch
        return [
            self.pool.submit(parse_and_sign, part, self.rules, self.config, learned)
            for part in _split(raws, self.workers * 2)
        ]

    def collect(self, pending: list[Future] | SignedBatch) -> SignedBatch:
        if isinstance(pending, SignedBatch):
            return pending
        parts = [f.result() for f in pending]
        arrays = [p.signatures for p in parts if len(p.articles)]
        sigs = np.vstack(arrays) if arrays else np.empty((0, self.config.num_perm), dtype=np.uint32)
        return SignedBatch([a for p in parts for a in p.articles], sigs, [r for p in parts for r in p.rejections])

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


