"""The Prefect flow `backfill`: ingest a date range of dumps or of the raw archive, one subflow run per day.

Each day is its own run (an `ingest` run over the day's path, or an `ingest-archive` run over
the pages the raw archive holds for that fetch day): its own flow run in the UI, its own
summary artifact, its own turn as the writer, so a scheduled run can write between two days
of a long backfill. A progress artifact moves after each day; the `backfill-summary` table
artifact has one row per day (status, read, new, exact dups, near dups, rejected).
Idempotent: articles already stored are skipped by id, and a day that an earlier run
finished is not read again unless a file under it changed since (dumps), or some of its
archived pages are neither stored nor rejected (raw archive), or `reprocess` is set.
"""

from __future__ import annotations

import glob
import os
from datetime import date, datetime, timezone
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact

from flows.deployments import BackfillRequest, BatchSize, DbPath, Threshold, resolve_db_path, writer_turn
from flows.fetch import ingest_archived_day
from flows.ingest import ingest, summary_table
from flows.pipeline import IngestSettings
from storage.raw_archive import pages_fetched_on
from storage.run_history import last_finished_run
from storage.store import StoreError, open_store

COUNTS = (("read", "read"), ("new", "new articles"), ("exact dups", "exact duplicates"),
          ("near dups", "near duplicates"), ("rejected", "rejected"))


def _newest_mtime(path: str) -> float:
    """Latest modification time of `path` or of any file under it (or matched by a glob)."""
    roots = glob.glob(path, recursive=True) if glob.has_magic(path) else [path]
    newest = 0.0
    for root in roots:
        newest = max(newest, os.stat(root).st_mtime)
        for folder, _, files in os.walk(root):
            for name in files:
                newest = max(newest, os.stat(os.path.join(folder, name)).st_mtime)
    return newest


def _exists(path: str) -> bool:
    return bool(glob.glob(path, recursive=True)) if glob.has_magic(path) else os.path.exists(path)


def already_ingested(db_path: Path, path: str) -> bool:
    """True if a finished run covered exactly `path` and nothing under it changed since it started."""
    try:
        con = open_store(db_path, read_only=True)
    except StoreError:
        return False  # no store yet (or unreadable): ingest, which reports the real problem
    try:
        started = last_finished_run(con, [path])
    finally:
        con.close()
    if started is None:
        return False
    return datetime.fromtimestamp(_newest_mtime(path), timezone.utc) < started


def archive_day_state(db_path: Path, day: date) -> tuple[int, int]:
    """(pages archived on `day`, of which not yet stored or rejected); (0, 0) without a store."""
    try:
        con = open_store(db_path, read_only=True)
    except StoreError:
        return 0, 0
    try:
        return pages_fetched_on(con, day)
    finally:
        con.close()


@flow(name="ingest-archive", log_prints=False)
def ingest_archive(
    day: date, db_path: DbPath = None, reprocess: bool = False, threshold: Threshold = 0.8, batch_size: BatchSize = 2000,
) -> dict[str, object]:
    """Ingest the pages the raw archive holds for one fetch day (UTC), without the network.

    Args:
        day: the fetch day.
        db_path: the store (its own raw archive is read).
        reprocess: parse every page of the day again, not only those neither stored nor rejected.
        threshold: Jaccard similarity at which two articles are one story.
        batch_size: pages per transaction.

    Returns:
        The run summary as a dict (also the `ingest-summary` table artifact).
    """
    settings = IngestSettings(db_path=resolve_db_path(db_path), threshold=threshold, batch_size=batch_size, workers=0)
    with writer_turn():
        summary = ingest_archived_day(settings, day, reprocess)
    get_run_logger().info("raw archive %s: read %d pages, new %d, already stored %d, rejected %d",
                          day, summary.read, summary.new, summary.already_stored, summary.rejected)
    table = summary_table(summary)
    create_table_artifact(table=table, key="ingest-summary",
                          description=f"newsdedup ingest of the raw archive's pages of {day} into {settings.db_path}")
    return {row["metric"]: row["value"] for row in table}


def backfill_day(request: BackfillRequest, day: date, db_path: Path) -> dict[str, object]:
    """Ingest one day (as an `ingest` or `ingest-archive` subflow run) and return its row of the summary."""
    logger = get_run_logger()
    path = request.path_for(day)
    row: dict[str, object] = {"day": day.isoformat(), "path": path, "status": "", **{k: 0 for k, _ in COUNTS}}
    if request.from_raw_archive:
        pages, unprocessed = archive_day_state(db_path, day)
        if not pages:
            row["status"] = "missing"
            logger.warning("%s: the raw archive of %s holds no pages fetched that day; skipped", day, db_path)
            return row
        if not request.reprocess and not unprocessed:
            row["status"] = "already ingested"
            logger.info("%s: all %d archived pages are stored or rejected; skipped", day, pages)
            return row
        result = ingest_archive.with_options(flow_run_name=f"ingest-archive-{day.isoformat()}")(
            day=day, db_path=str(db_path), reprocess=request.reprocess, threshold=request.threshold,
            batch_size=request.batch_size,
        )
    else:
        if not _exists(path):
            row["status"] = "missing"
            logger.warning("%s: no dumps at %s; skipped", day, path)
            return row
        if not request.reprocess and already_ingested(db_path, path):
            row["status"] = "already ingested"
            logger.info("%s: %s was ingested by an earlier run and has not changed; skipped", day, path)
            return row
        result = ingest.with_options(flow_run_name=f"ingest-{day.isoformat()}")(
            paths=[path], source=request.source, threshold=request.threshold,
            db_path=str(db_path), batch_size=request.batch_size,
        )
    row["status"] = str(result["status"])
    for key, metric in COUNTS:
        row[key] = result[metric]
    return row


@flow(name="backfill", log_prints=False)
def backfill(request: BackfillRequest) -> list[dict[str, object]]:
    """Ingest each day of a date range of dumps or of the raw archive; one subflow run per day.

    Args:
        request: path template or raw archive, date range, source, threshold, reprocess flag, database path.

    Returns:
        One summary row per day (also the `backfill-summary` table artifact).

    Raises:
        RuntimeError: some days failed (named with their reason); the others are ingested.
    """
    logger = get_run_logger()
    db_path = resolve_db_path(request.db_path)
    days = list(request.days())
    logger.info("backfill %s..%s (%d days) from %s into %s", request.start_date, request.end_date,
                len(days), request.path_template or "the raw archive", db_path)
    progress = create_progress_artifact(0.0, key="backfill-progress",
                                        description=f"backfill {request.start_date}..{request.end_date}")
    rows: list[dict[str, object]] = []
    failed: list[str] = []
    for i, day in enumerate(days, 1):
        try:
            row = backfill_day(request, day, db_path)
        except Exception as exc:  # one bad day must not stop the others; it is reported below
            logger.error("%s: ingest of %s failed: %s", day, request.path_for(day), exc)
            row = {"day": day.isoformat(), "path": request.path_for(day),
                   "status": f"failed: {type(exc).__name__}: {exc}"[:300], **{k: 0 for k, _ in COUNTS}}
            failed.append(f"{day} ({exc})")
        rows.append(row)
        logger.info("%s: %s; %s", day, row["status"], ", ".join(f"{k} {row[k]}" for k, _ in COUNTS))
        update_progress_artifact(progress, 100.0 * i / len(days),
                                 description=f"{i}/{len(days)} days done; {day}: {row['status']}")
    total = {"day": "total", "path": "", "status": f"{len(days) - len(failed)}/{len(days)} days ok",
             **{k: sum(int(r[k]) for r in rows) for k, _ in COUNTS}}
    create_table_artifact(table=[*rows, total], key="backfill-summary",
                          description=f"backfill {request.start_date}..{request.end_date} into {db_path}: one row per day")
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(days)} days failed: {'; '.join(failed)}")
    return rows
