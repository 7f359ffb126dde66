"""Typed parameters of the deployed flows, so the Prefect UI's "Custom run" form explains itself.

Each field has a title, a description, a default and validation; Prefect builds the form and
validates a run's parameters from these models before the flow starts. The deployments
themselves are declared in ``prefect.yaml``; ``writer_turn`` is how every deployed writer
waits for its turn on the store.
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Prefect global concurrency limit every writer flow holds while it writes (one slot)
WRITER_LIMIT = "newsdedup-writer"
# Lease on that slot: the shortest the Prefect server grants (it refuses less than 60 s), so
# the slot of a killed run comes back soonest
WRITER_LEASE_SECONDS = 60
MAX_BACKFILL_DAYS = 3660

Paths = Annotated[
    list[str],
    Field(
        title="Paths",
        description="Files, directories (recursive), globs, .zip/.tar/.tar.gz archives or .jsonl exports to ingest.",
        min_length=1,
    ),
]
Source = Annotated[
    Optional[str],
    Field(
        title="Source name",
        description="Outlet name for every article. Empty: each file's first-level folder under the path.",
        max_length=200,
    ),
]
Threshold = Annotated[
    float,
    Field(
        title="Near-duplicate threshold",
        description="Jaccard similarity of word 5-gram shingles at or above which two articles are one story.",
        ge=0.05,
        le=1.0,
    ),
]
DbPath = Annotated[
    Optional[str],
    Field(
        title="Database path",
        description="The DuckDB store. Empty: $NEWSDEDUP_DB on the worker, else ./data/news.duckdb.",
    ),
]
BatchSize = Annotated[
    int,
    Field(title="Batch size", description="Articles per task and per transaction.", ge=1, le=100_000),
]
MaxBytes = Annotated[
    int,
    Field(title="Size cap (bytes)", description="Inputs larger than this are rejected as too_large.", ge=1),
]
RulesPath = Annotated[
    Optional[str],
    Field(
        title="Cleaning rules file",
        description="A TOML file of extra or per-source cleaning rules, as the worker sees it. Empty: the built-in rules.",
    ),
]
LearnMinStories = Annotated[
    int,
    Field(
        title="Learned boilerplate: stories",
        description="A short line carried by this many stories of one source is that source's learned boilerplate.",
        ge=2,
    ),
]


def _check_template(template: str) -> str:
    """A path template must use `{date...}` and nothing else, e.g. ``dumps/{date:%Y-%m-%d}/``."""
    fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    if "date" not in fields:
        raise ValueError("the path template needs a {date} placeholder, e.g. dumps/{date:%Y-%m-%d}/")
    others = sorted(set(fields) - {"date"})
    if others:
        raise ValueError(f"unknown placeholders {others}; only {{date}} (with a strftime format) is allowed")
    try:
        template.format(date=date(2024, 1, 31))
    except (ValueError, IndexError, KeyError) as exc:
        raise ValueError(f"cannot fill the path template: {exc}") from None
    return template


class BackfillRequest(BaseModel):
    """What to backfill: a date range of dumps named by a path template, or of the raw archive."""

    model_config = ConfigDict(title="Backfill", extra="forbid")

    path_template: Optional[str] = Field(
        None,
        title="Path template",
        description="Where each day's dumps are: a path with a {date} placeholder and a strftime format, "
        "e.g. data/drop/{date:%Y-%m-%d} or archive/{date:%Y/%m/%d}.tar.gz. A day whose path is missing is "
        "reported, not an error. Leave empty to use the raw archive instead.",
        min_length=1,
    )
    from_raw_archive: bool = Field(
        False,
        title="From the raw archive",
        description="Instead of a path template: each day, the pages fetched that day (UTC) and kept in the "
        "database's raw archive, parsed again without the network. Only pages not yet stored or rejected are "
        "read, unless Reprocess is on.",
    )
    start_date: date = Field(title="First day", description="First day to ingest (YYYY-MM-DD).")
    end_date: date = Field(title="Last day", description="Last day to ingest, included (YYYY-MM-DD).")
    source: Source = None
    threshold: Threshold = 0.8
    reprocess: bool = Field(
        False,
        title="Reprocess finished days",
        description="Read again days that an earlier run already ingested completely (raw archive: parse every "
        "page of the day again with the current parsers, so pages rejected before can become articles). Off: "
        "such days are skipped unless a file changed since. Either way, articles already stored are never added twice.",
    )
    db_path: DbPath = None
    batch_size: BatchSize = 2000

    @field_validator("path_template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        return None if value is None else _check_template(value)

    @model_validator(mode="after")
    def _range(self) -> BackfillRequest:
        if self.path_template is not None and self.from_raw_archive:
            raise ValueError("give a path template or from_raw_archive, not both")
        if self.path_template is None and not self.from_raw_archive:
            raise ValueError("give a path template (e.g. data/drop/{date:%Y-%m-%d}) or set from_raw_archive")
        if self.end_date < self.start_date:
            raise ValueError(f"the last day ({self.end_date}) is before the first day ({self.start_date})")
        if (self.end_date - self.start_date).days >= MAX_BACKFILL_DAYS:
            raise ValueError(f"a backfill covers at most {MAX_BACKFILL_DAYS} days; split the range")
        return self

    def days(self) -> Iterator[date]:
        """Each day of the range, oldest first."""
        day = self.start_date
        while day <= self.end_date:
            yield day
            day += timedelta(days=1)

    def path_for(self, day: date) -> str:
        """The dump path of one day (``raw_archive:YYYY-MM-DD`` when reading the raw archive)."""
        if self.path_template is None:
            return f"raw_archive:{day.isoformat()}"
        return self.path_template.format(date=day)


def resolve_db_path(db_path: str | None) -> Path:
    """The store a flow writes: the parameter, else $NEWSDEDUP_DB, else ./data/news.duckdb."""
    from storage.store import default_db_path

    return Path(db_path) if db_path else default_db_path()


@contextmanager
def writer_turn(timeout: float | None = None) -> Iterator[None]:
    """Hold the `newsdedup-writer` global concurrency slot (Prefect) for the block.

    The limit is created with one slot if it does not exist, then acquired with
    ``strict=True``, so a flow never writes unprotected because a limit is missing. Runs
    queue here in Prefect (visible in the UI) before they reach the file lock beneath
    (``storage/locking.py``), which also covers writers outside Prefect.

    The slot is a lease of WRITER_LEASE_SECONDS that Prefect renews every three quarters
    of that while the block runs. A run killed while holding it (SIGKILL, OOM, a lost
    machine) cannot release it, so the next run waits for the lease to expire and the
    server's repossessor (every 15 s) to revoke it: about a minute with the server's
    shortest lease, against five with Prefect's default. A failed renewal does not stop
    the write: the slot is only the queue, the file lock beneath is the guarantee.
    (Prefect 3.9 has no API to list a limit's leases or their holders, so a run cannot
    find and release the lease of a dead one sooner.)

    Not with a temporary API of this process (``flows.local_prefect``): it queues nobody
    else, and it revokes no expired lease, so a run killed while holding the slot would
    block every later run for good; the file lock, which the kernel drops with its process,
    is the turn then.

    Args:
        timeout: seconds to wait for the slot (default: $NEWSDEDUP_WRITER_TIMEOUT or one hour).

    Raises:
        TimeoutError: no slot within `timeout`.
    """
    from prefect.concurrency.sync import concurrency

    from flows.local_prefect import is_temporary_api
    from storage.locking import writer_timeout

    if is_temporary_api():
        yield
        return
    ensure_writer_limit()
    with concurrency(WRITER_LIMIT, occupy=1, strict=True,
                     timeout_seconds=writer_timeout() if timeout is None else timeout,
                     lease_duration=WRITER_LEASE_SECONDS, raise_on_lease_renewal_failure=False):
        yield


def ensure_writer_limit() -> None:
    """Create the `newsdedup-writer` global concurrency limit (1 slot) unless it exists."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(WRITER_LIMIT)
            return
        except ObjectNotFound:
            pass
        try:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=WRITER_LIMIT, limit=1))
        except ObjectAlreadyExists:  # another run created it first
            pass
