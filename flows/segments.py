"""Writer recycling: a long run is written by a fresh process per segment of its inputs.

The writer's peak memory rose with the length of a run (10k dumps 446 MB, 100k 515, 200k
542, fresh store each) although everything the engine holds is bounded by a batch: what grew
was the process itself (the C heap that DuckDB, pyarrow and the parsers leave fragmented,
DuckDB's buffer-eviction queues, which only closing the database frees; docs/DESIGN.md,
sessions 4-9). Long-running workers are bounded the usual way ("max tasks per child"): a
run over more than ``files_per_process`` input files is cut into segments of that many
files (or ``SEGMENT_BYTES_PER_FILE`` bytes per file, whichever comes first), and each
segment is ingested by a new process that exits when its segment is stored.

The run stays one run. Its own process keeps the writer turn (``storage/locking.py``) and
the run row: it starts the run, hands the store to one segment process at a time (only one
process may hold a DuckDB file), adds up their counts and progress, and finishes the run.
Segment boundaries are batch boundaries, so the store gets the same articles, links and
clusters as from one process (the result does not depend on how items are batched). A
segment that fails stops the run with its error; one that dies (killed, out of memory)
stops it as failed, naming the signal; Ctrl-C stops the segment's batch, as in one process,
and the run is recorded as interrupted. Either way the batches committed before are kept,
and a re-run goes on from there.

A container file (archive, JSONL, WARC) is never split: a single 1M-line JSONL export is
still ingested by one process.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator

from flows.pipeline import IngestRun, IngestSettings, IngestSummary, ingest_stream, read_input_files, relaxed_gc
from flows.sources import InputFile
from storage.store import StoreError, store_errors

log = logging.getLogger("newsdedup")

# A segment also ends at this many bytes of input per allowed file: a typical dump is ~5 KB,
# so HTML pages (~50-100 KB) and JSONL exports are cut by their size instead of their count.
SEGMENT_BYTES_PER_FILE = 8 << 10

# How long a segment process may take to stop after Ctrl-C before it is killed.
STOP_GRACE_SECONDS = 60.0


class SegmentDied(StoreError):
    """A segment's process ended without reporting (killed by a signal, out of memory)."""


def segments(files: Iterable[InputFile], max_files: int) -> Iterator[list[InputFile]]:
    """Cut the run's input files, in order, into segments of at most `max_files` files and
    ``max_files * SEGMENT_BYTES_PER_FILE`` bytes (at least one file each); `max_files` 0
    gives one segment."""
    max_bytes = max_files * SEGMENT_BYTES_PER_FILE
    segment: list[InputFile] = []
    held = 0
    for found in files:
        segment.append(found)
        if not max_files:
            continue
        try:
            held += os.stat(found.path).st_size
        except OSError:  # its reader records why
            pass
        if len(segment) >= max_files or held >= max_bytes:
            yield segment
            segment, held = [], 0
    if segment:
        yield segment


def ingest_segments(run: IngestRun, parts: Iterable[list[InputFile]], on_progress: Callable[[int], None] | None) -> None:
    """Ingest each segment of `parts` in a process of its own, into `run` (entered: it holds
    the writer turn and the run row), adding their counts to ``run.summary``.

    The process for the next segment is started while the current one writes its last
    batches, so its interpreter start-up (~1 s) overlaps with work.

    Raises:
        StoreError: a segment failed with it, or its process died (``SegmentDied``).
        KeyboardInterrupt: Ctrl-C (the segment under way stopped first).
    """
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: the point of a segment
    parts = iter(parts)
    following = next(parts, None)
    waiting: SegmentProcess | None = None
    with run.store_released():
        try:
            number = 0
            while following is not None:
                files, following = following, next(parts, None)
                number += 1
                current = waiting or SegmentProcess(ctx, run)
                waiting = None
                current.start_segment(run, files, number)

                def ahead(done: int) -> None:
                    nonlocal waiting
                    # the last two batches are under way: start the next segment's process
                    if following is not None and waiting is None and done >= len(files) - 2 * run.settings.batch_size:
                        waiting = SegmentProcess(ctx, run)

                committed = IngestSummary(run.summary.run_id)
                try:
                    current.watch(committed, on_progress, ahead)
                finally:
                    run.summary.add(committed)  # what it committed counts, also if it failed
        finally:
            if waiting is not None:
                waiting.dismiss()


class SegmentProcess:
    """A spawned process that waits for a segment of files, ingests it and reports."""

    def __init__(self, ctx, run: IngestRun):
        self.conn, child_end = ctx.Pipe()
        self.proc = ctx.Process(
            target=segment_main, name="newsdedup-segment",
            args=(child_end, run.settings, run.paths, run.summary.run_id),
        )
        # it starts deaf to Ctrl-C (spawn's exec keeps an ignored signal ignored) and listens
        # once it gets its segment: a process still importing or waiting for one has nothing
        # to stop, and a KeyboardInterrupt there only printed a traceback
        quiet = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if quiet else None
        try:
            self.proc.start()
        finally:
            if quiet:
                signal.signal(signal.SIGINT, previous)
        child_end.close()  # recv() then ends with EOFError once the child is gone
        self.number, self.files = 0, []

    def start_segment(self, run: IngestRun, files: list[InputFile], number: int) -> None:
        self.run, self.number, self.files = run, number, files
        try:
            # the snapshot publisher goes along, so mid-run publishes keep their pace across segments
            self.conn.send(("segment", files, number == 1, run.publisher))
        except OSError:  # it died while waiting: watch() says how
            pass

    def watch(self, committed: IngestSummary, on_progress: Callable[[int], None] | None, ahead: Callable[[int], None]) -> None:
        """Relay the segment's progress until it ends; its counts so far go to `committed`."""
        done = 0
        try:
            while True:
                try:
                    kind, value = self.conn.recv()
                except EOFError:
                    break
                if kind == "progress":
                    n_items, counts = value
                    committed.__dict__.update(counts.__dict__)
                    done += n_items
                    if on_progress:
                        on_progress(n_items)
                    ahead(done)
                elif kind == "done":
                    counts, self.run.publisher = value
                    committed.__dict__.update(counts.__dict__)
                    self.proc.join()
                    return
                else:  # "failed"
                    self.proc.join()
                    raise value
        except KeyboardInterrupt:
            _stop(self.proc)
            raise
        finally:
            self.conn.close()
        self.proc.join()
        raise SegmentDied(
            f"the process writing segment {self.number} ({len(self.files)} files from {self.files[0].uri}) "
            f"{_how_it_ended(self.proc.exitcode)}; the batches committed before it are kept, "
            "run the same command again to go on"
        )

    def dismiss(self) -> None:
        """Let a process that got no segment go (it exits when its pipe closes)."""
        self.conn.close()
        self.proc.join(STOP_GRACE_SECONDS)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()


def _stop(proc) -> None:
    """Ctrl-C: let the segment stop its batch (it got the SIGINT too, unless it was sent to
    us alone), then make sure it is gone before the run row is finished."""
    if proc.is_alive():
        try:
            os.kill(proc.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
    proc.join(STOP_GRACE_SECONDS)
    if proc.is_alive():
        proc.kill()
        proc.join()


def _how_it_ended(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        hint = " (out of memory?)" if -exitcode == signal.SIGKILL else ""
        return f"was killed by {name}{hint}"
    return f"exited with code {exitcode} without reporting"


def segment_main(conn, settings: IngestSettings, paths: list[str], run_id: str) -> None:
    """Entry point of a segment process: wait for a segment, ingest it into the run `run_id`
    (the store is free by then: the previous segment has ended), then report."""
    from flows.workers import die_with_parent

    die_with_parent()
    try:
        _, files, ramp, publisher = conn.recv()
    except (EOFError, KeyboardInterrupt):  # dismissed, or the run stopped first
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C now stops this segment's batch
    run = IngestRun(settings, paths, run_id, segment=True)
    try:
        stream = read_input_files(files, settings.source, settings.max_bytes)
        with store_errors(settings.db_path, only_damage=True), run, relaxed_gc():
            run.publisher = publisher
            # the counts so far go with each batch's progress: the run's process keeps what
            # was committed even if this process dies before it reports its end
            ingest_stream(run, stream, lambda n: conn.send(("progress", (n, run.summary))), ramp=ramp)
        conn.send(("done", (run.summary, run.publisher)))
    except BaseException as exc:  # reported to the run's process, which records and raises it
        try:
            conn.send(("failed", exc))
        except Exception:  # an exception that does not pickle
            conn.send(("failed", RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        conn.close()
