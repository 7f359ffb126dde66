"""Running a flow from a plain process (``newsdedup ingest --prefect``, ``python -m flows.ingest``).

With no ``$PREFECT_API_URL``, Prefect starts a temporary API server for the process, and
every spawned task-runner worker starts one more of its own (measured on a loaded 2-core
machine: the first batch of a 600-dump run committed 89 s after the flow started, behind
three server start-ups). ``temporary_prefect_api`` starts one server and points the
process and its workers at it, and the process tree dies with the process
(``flows.process_guard``), so a killed run leaves no server or worker behind.

A temporary API lives and dies with its process and revokes no expired concurrency lease, so
a killed run would hold the ``newsdedup-writer`` slot for good; ``is_temporary_api`` lets
``flows.deployments.writer_turn`` rely on the store's file lock alone in that case.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from flows.process_guard import guard_descendants

TEMPORARY_API_ENV = "NEWSDEDUP_PREFECT_TEMPORARY_API"
# the CLI's log line format (flows/cli.py), for Prefect's own console handler in the task
# runner's worker processes: one run's output in one format
_LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


class _NoLinkToTemporaryServer(logging.Filter):
    """Drops Prefect's "View at <url>" line when the url is a temporary server's: it is dead
    once the command ends."""

    def __init__(self, api_url: str) -> None:
        super().__init__()
        self.ui = api_url.removesuffix("/api")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("View at ") and self.ui in message)


@contextmanager
def temporary_prefect_api() -> Iterator[None]:
    """Use ``$PREFECT_API_URL`` if set; else one temporary server for this process and its workers.

    Either way, processes this one starts die with it (`flows.process_guard`). The server
    stops when the process exits, as Prefect's own temporary server does: after Prefect's
    log and event workers have sent what they hold (stopped earlier, they retried for about
    80 s against the stopped server).
    """
    # Prefect's client telemetry, set up when prefect is first imported (so before that): a
    # CLI run has nothing to report, and its first-run notice printed three unprefixed lines
    # over the run's output
    os.environ.setdefault("DO_NOT_TRACK", "1")
    from prefect.settings import PREFECT_API_URL, temporary_settings

    guard_descendants()
    if PREFECT_API_URL.value():
        yield
        return
    from prefect.server.api.server import SubprocessASGIServer

    # a server that lives for one run has nothing to report; its telemetry heartbeat, which
    # cannot reach the internet here, also wrote to the server's SQLite file while the run
    # did and printed "database is locked" tracebacks over the run's output
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    formats = {"FORMAT": _LOG_FORMAT, "FLOW_RUN_FMT": _LOG_FORMAT.replace("%(message)s", "%(flow_run_name)s: %(message)s"),
               "TASK_RUN_FMT": _LOG_FORMAT.replace("%(message)s", "%(task_run_name)s: %(message)s")}
    for key, fmt in formats.items():  # read by the spawned workers' Prefect logging set-up
        os.environ.setdefault(f"PREFECT_LOGGING_FORMATTERS_STANDARD_{key}", fmt)
    server = SubprocessASGIServer()
    server.start()  # registers its own stop at exit
    os.environ[TEMPORARY_API_ENV] = server.api_url
    dead_link = _NoLinkToTemporaryServer(server.api_url)
    flow_runs = logging.getLogger("prefect.flow_runs")
    flow_runs.addFilter(dead_link)
    try:
        with temporary_settings({PREFECT_API_URL: server.api_url}):
            yield
    finally:
        flow_runs.removeFilter(dead_link)
        os.environ.pop(TEMPORARY_API_ENV, None)


def is_temporary_api() -> bool:
    """True when the current Prefect API is a `temporary_prefect_api` server of this process."""
    from prefect.settings import PREFECT_API_URL

    url = os.environ.get(TEMPORARY_API_ENV)
    return bool(url) and PREFECT_API_URL.value() == url
