"""`newsdedup fetch` (and, registered beside it, `reprocess`): the web-input commands.

``flows/cli.py`` calls :func:`register` so these commands share its app, options and exit codes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


def register(app: typer.Typer) -> None:
    """Add the ``fetch`` command to the ``newsdedup`` app."""
    from flows import cli  # the app's module: helpers and consoles (loaded by now)

    @app.command()
    def fetch(
        sources: Path = typer.Option(..., "--sources", help="Sources file (TOML): feeds, sitemaps and URL lists; see docs/SOURCES.md."),
        db: Optional[Path] = cli.DbOption,
        threshold: float = typer.Option(0.8, min=0.05, max=1.0, help="Jaccard similarity at which two articles are one story."),
        batch_size: int = typer.Option(2000, min=1, help="Pages per transaction."),
        rules: Optional[Path] = typer.Option(None, exists=True, dir_okay=False, help="TOML file of extra or per-source cleaning rules."),
        delay: float = typer.Option(1.0, min=0.0, help="Minimum seconds between two requests to one host (a source's `delay` or robots.txt Crawl-delay may raise it)."),
        per_host: int = typer.Option(2, "--per-host", min=1, help="Requests in flight per host."),
        timeout: float = typer.Option(10.0, min=0.1, help="Seconds to connect and per read."),
        max_bytes: int = typer.Option(10 * 1024 * 1024, min=1, help="Largest decoded body; larger ones are rejected as too_large."),
        allow_private_host: list[str] = typer.Option([], "--allow-private-host", help="Address or network (127.0.0.1, 10.0.0.0/8) that may be fetched although private; repeatable."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        """Fetch the feeds, news sitemaps and URL lists of a sources file; ingest the new pages.

        Feeds are fetched conditionally (ETag / Last-Modified), pages already fetched are
        skipped, robots.txt is honoured, every body is kept in the raw archive, and every
        failure is a row in `rejected_inputs`. Prints per-host counts.
        Exit code 0: all fetched; 3: some URLs rejected; 2: bad sources file; 1: failure.

        Example: `newsdedup fetch --sources sources.toml --db data/news.duckdb`
        """
        from flows.fetch import FetchSettings, fetch_sources, host_table
        from flows.fetcher import FetchConfig
        from flows.pipeline import IngestSettings
        from storage.store import StoreError

        settings = FetchSettings(
            sources,
            IngestSettings(db_path=cli._db(db), threshold=threshold, batch_size=batch_size, workers=0, rules_path=rules),
            FetchConfig(delay=delay, per_host_concurrency=per_host, timeout=timeout, max_bytes=max_bytes,
                        allow_private_hosts=tuple(allow_private_host)),
        )
        try:
            with Progress(
                TextColumn("[bold]fetch[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=cli.err, disable=quiet, transient=True,
            ) as bar:
                task = bar.add_task("fetch", total=None)
                summary = fetch_sources(
                    settings,
                    on_progress=lambda n: bar.advance(task, n),
                    on_total=lambda n: bar.update(task, total=n),
                )
        except FileNotFoundError as e:
            cli._fail(f"sources file {sources}: {e.strerror or e}", cli.EXIT_USAGE)
        except ValueError as e:
            cli._fail(str(e), cli.EXIT_USAGE)
        except StoreError as e:
            cli._fail(str(e))
        cli._print_summary(summary.ingest, settings.ingest.db_path)
        hosts = Table(title="per host")
        for column in ("host", "fetched", "not modified", "retried", "failed", "robots blocked", "requests"):
            hosts.add_column(column, justify="left" if column == "host" else "right")
        for row in host_table(summary):
            hosts.add_row(*(str(v) for v in row.values()))
        cli.out.print(hosts)
        cli.out.print(f"{summary.archived} bodies added to the raw archive")
        raise typer.Exit(cli.exit_code(summary.ingest))

    @app.command()
    def reprocess(
        db: Optional[Path] = cli.DbOption,
        into: Optional[Path] = typer.Option(None, "--into", help="New store to write (one that exists, e.g. from an interrupted reprocess, is resumed: what it holds is skipped). Default: next to --db, named after it with the UTC time (news.duckdb gives news-reprocessed-20261203T214000.duckdb)."),
        threshold: float = typer.Option(0.8, min=0.05, max=1.0, help="Jaccard similarity at which two articles are one story."),
        batch_size: int = typer.Option(2000, min=1, help="Pages per transaction."),
        rules: Optional[Path] = typer.Option(None, exists=True, dir_okay=False, help="TOML file of extra or per-source cleaning rules."),
        show: int = typer.Option(10, min=0, help="How many changed articles and clusters to list."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        """Re-parse every archived page with the current rules into a new store, without the network, and report what changed.

        Compares the new store with --db article by article: bodies that changed, story
        clusters that merged or split. --db is only read. Exit code 0: done; 3: some archived
        pages were rejected; 2: bad option (--into is --db); 1: a store is unusable.

        Example: `newsdedup reprocess --db data/news.duckdb --into data/news-v2.duckdb`
        """
        from datetime import datetime, timezone

        from flows.fetch import reprocess_archive, reprocess_rows
        from flows.pipeline import IngestSettings
        from storage.store import StoreError

        source = cli._db(db)
        target = into or source.with_name(f"{source.stem}-reprocessed-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}.duckdb")
        settings = IngestSettings(db_path=target, threshold=threshold, batch_size=batch_size, workers=0, rules_path=rules)
        try:
            with Progress(TextColumn("[bold]reprocess[/]"), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=cli.err, disable=quiet, transient=True) as bar:
                task = bar.add_task("reprocess", total=None)
                report = reprocess_archive(source, settings, on_progress=lambda n: bar.advance(task, n))
        except ValueError as e:
            cli._fail(str(e), cli.EXIT_USAGE)
        except StoreError as e:
            cli._fail(str(e))
        table = Table(title=f"reprocess {source} → {target}", show_header=False)
        for row in reprocess_rows(report):
            table.add_row(str(row["metric"]), str(row["value"]))
        cli.out.print(table)
        for article_id, uri in report.body_changed[:show]:
            cli.out.print(f"body changed: {article_id}  {uri}")
        for cluster, parts in report.merged[:show]:
            cli.out.print(f"merged: {', '.join(parts)} → {cluster}")
        for cluster, parts in report.split[:show]:
            cli.out.print(f"split: {cluster} → {', '.join(parts)}")
        raise typer.Exit(cli.exit_code(report.ingest))
