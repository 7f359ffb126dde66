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

    Raises:
        StoreError: a segment failed with it, or its process died (``SegmentDied``).
        KeyboardInterrupt: Ctrl-C (the segment under way stopped first).
    """
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: the point of a segment
    with run.store_released():
        for number, files in enumerate(parts, 1):
            _run_segment(ctx, run, files, number, on_progress)


def _run_segment(ctx, run: IngestRun, files: list[InputFile], number: int, on_progress) -> None:
    """Run one segment process to its end; add the counts of what it committed to the run's,
    also when it fails or dies (it reports them after every batch)."""
    committed = IngestSummary(run.summary.run_id)
    try:
        _watch_segment(ctx, run, files, number, on_progress, committed)
    finally:
        run.summary.add(committed)


def _watch_segment(ctx, run: IngestRun, files: list[InputFile], number: int, on_progress, committed: IngestSummary) -> None:
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(
        target=segment_main, name=f"newsdedup-segment-{number}",
        args=(sender, run.settings, run.paths, files, run.summary.run_id, number == 1),
    )
    proc.start()
    sender.close()  # the child's end: recv() then ends with EOFError when the child is gone
    try:
        while True:
            try:
                kind, value = receiver.recv()
            except EOFError:
                break
            if kind == "progress":
                n_items, counts = value
                committed.__dict__.update(counts.__dict__)
                if on_progress:
                    on_progress(n_items)
            elif kind == "done":
                committed.__dict__.update(value.__dict__)
                proc.join()
                return
            else:  # "failed"
                proc.join()
                raise value
    except KeyboardInterrupt:
        _stop(proc)
        raise
    finally:
        receiver.close()
    proc.join()
    raise SegmentDied(
        f"the process writing segment {number} ({len(files)} files from {files[0].uri}) "
        f"{_how_it_ended(proc.exitcode)}; the batches committed before it are kept, "
        "run the same command again to go on"
    )


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


def segment_main(sender, settings: IngestSettings, paths: list[str], files: list[InputFile], run_id: str, ramp: bool) -> None:
    """Entry point of a segment process: ingest `files` into the run `run_id`, then report."""
    from flows.workers import die_with_parent

    die_with_parent()
    run = IngestRun(settings, paths, run_id, segment=True)
    try:
        stream = read_input_files(files, settings.source, settings.max_bytes)
        with store_errors(settings.db_path, only_damage=True), run, relaxed_gc():
            # the counts so far go with each batch's progress: the run's process keeps what
            # was committed even if this process dies before it reports its end
            ingest_stream(run, stream, lambda n: sender.send(("progress", (n, run.summary))), ramp=ramp)
        sender.send(("done", run.summary))
    except BaseException as exc:  # reported to the run's process, which records and raises it
        try:
            sender.send(("failed", exc))
        except Exception:  # an exception that does not pickle
            sender.send(("failed", RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        sender.close()
