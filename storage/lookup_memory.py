"""Room for a writer's lookup that does not fit in its DuckDB budget.

The writer keeps DuckDB's budget small (``storage.store.memory_limit``) so that a long run's
memory stays level. What a lookup can use is what the budget leaves after the blocks DuckDB
must keep pinned: the rows written since the last checkpoint (and, before schema v10, the
``articles`` key index).
That margin grows thin as a long first backfill grows the store: a one-run ingest of 360k
synthetic dumps failed at ~280k articles in one of two runs, in an exact-hash lookup, with
"could not allocate block of size 256.0 KiB (65.8 MiB/65.8 MiB used)" (2026-12-03).

``with_lookup_headroom`` wraps the lookups of a batch's linking phase: when DuckDB runs out
of memory in one, the budget is raised by half (kept for the rest of the run) and the
lookup runs again, up to ``LOOKUP_BUDGET_CEILING``. Lookups
only read, so running one again is safe; they run outside the batch's write transaction
(an out-of-memory error inside a transaction aborts it, and that is not retried here).
A budget fixed by $NEWSDEDUP_DUCKDB_MEMORY is the user's: it is never raised.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TypeVar

import duckdb

from storage.store import READER_MEMORY, memory_budget_bytes, set_memory_limit, size_in_bytes, user_memory_budget

log = logging.getLogger("newsdedup")

LOOKUP_BUDGET_CEILING = size_in_bytes(READER_MEMORY)  # what a reader gets by default
RAISE_FACTOR = 1.5

F = TypeVar("F", bound=Callable)


def with_lookup_headroom(lookup: F) -> F:
    """Run ``lookup(con, ...)``; on DuckDB's out-of-memory error raise ``con``'s budget by
    half and run it again, until it fits or the budget would pass ``LOOKUP_BUDGET_CEILING``
    (then the last error is raised). Not for statements inside a transaction."""

    @functools.wraps(lookup)
    def run(con: duckdb.DuckDBPyConnection, *args, **kwargs):
        while True:
            try:
                return lookup(con, *args, **kwargs)
            except duckdb.OutOfMemoryException:
                budget = memory_budget_bytes(con)
                raised = int(budget * RAISE_FACTOR)
                if user_memory_budget() or raised > LOOKUP_BUDGET_CEILING:
                    raise
                set_memory_limit(con, f"{raised}B")
                log.warning(
                    "DuckDB ran out of its %.0f MB budget in %s; raised it to %.0f MB for the rest of "
                    "this run (NEWSDEDUP_DUCKDB_MEMORY fixes a budget)",
                    budget / 1e6, lookup.__name__, raised / 1e6,
                )

    return run  # type: ignore[return-value]
