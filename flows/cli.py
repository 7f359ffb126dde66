"""newsdedup: ingest raw news dumps into DuckDB, cleaned and linked into story clusters.

Quick start: `newsdedup ingest samples/`, then `newsdedup stories`, `newsdedup story ID` or
`newsdedup sql "SELECT title, size FROM stories ORDER BY size DESC LIMIT 10"`.
The database is `--db`, else `$NEWSDEDUP_DB`, else `./data/news.duckdb`.
Exit codes: 0 ok, 3 partial (inputs rejected for the first time, see `rejected_inputs`), 2 usage
error, 1 failure, 130 interrupted.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from flows.pipeline import IngestSummary

PIPED_WIDTH = 160

# Exit codes, documented in the README.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the output's reader closed early (`| head`)

app = typer.Typer(
    help=__doc__,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)


class _Stdout(Console):
    """The console for results: when its reader goes away (`| head`), exit 141 quietly, as
    shells report a writer whose pipe closed (rich itself exits 1, which says "failure")."""

    def on_broken_pipe(self) -> None:
        _silence_stdout()
        raise SystemExit(EXIT_BROKEN_PIPE)


def _silence_stdout() -> None:
    """Point stdout at /dev/null: its reader is gone, and the interpreter's final flush would
    otherwise complain."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


out = _Stdout()
if not out.is_terminal and "COLUMNS" not in os.environ:
    # piped into a file, less or grep: rich would assume 80 columns and wrap every cell of a
    # wide table (stories, sql) over several lines; $COLUMNS still decides when set
    out = _Stdout(width=PIPED_WIDTH)
err = Console(stderr=True)

DbOption = typer.Option(
    None,
    "--db",
    envvar="NEWSDEDUP_DB",
    help="DuckDB file. Default: $NEWSDEDUP_DB, else ./data/news.duckdb.",
    show_default=False,
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            out.print(f"newsdedup {version('newsdedup')}", highlight=False)
        except PackageNotFoundError:  # run from a checkout that was never installed
            from flows.pipeline import VERSION

            out.print(f"newsdedup {VERSION}", highlight=False)
        raise typer.Exit(EXIT_OK)


@app.callback()
def _options(
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version, help="Print the version and exit."),
) -> None:
    pass


def _db(path: Optional[Path]) -> Path:
    from storage.store import default_db_path

    return Path(path) if path else default_db_path()


def _read(db: Optional[Path], query):
    """Open the store read-only, run `query(con)`, close; store errors become a clean exit."""
    from storage.store import StoreError, open_store, store_errors

    path = _db(db)
    try:
        con = open_store(path, read_only=True)
    except StoreError as e:
        _fail(str(e))
    try:
        with store_errors(path):
            return query(con)
    except StoreError as e:
        _fail(str(e))
    finally:
        con.close()


def _fail(message: str, code: int = EXIT_FAILED) -> None:
    # one line, never wrapped: scripts and logs grep it
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True, highlight=False)
    raise typer.Exit(code)


@app.command()
def ingest(
    ctx: typer.Context,
    paths: list[str] = typer.Argument(..., help="Files, directories (recursive), globs, .zip/.tar/.tar.gz archives or .jsonl exports."),
    db: Optional[Path] = DbOption,
    source: Optional[str] = typer.Option(None, help="Source name for every item. Default: each file's outlet folder (see README)."),
    threshold: float = typer.Option(0.8, min=0.05, max=1.0, help="Jaccard similarity at which two articles are one story."),
    batch_size: int = typer.Option(2000, min=1, help="Articles per transaction."),
    workers: int = typer.Option(2, min=0, help="Processes that parse and sign (0: in the main process)."),
    rules: Optional[Path] = typer.Option(None, exists=True, dir_okay=False, help="TOML file of extra or per-source cleaning rules."),
    learn_min_stories: int = typer.Option(4, min=2, help="A short line carried by this many stories of a source is learned boilerplate."),
    max_bytes: int = typer.Option(10 * 1024 * 1024, min=1, help="Inputs larger than this are rejected as too_large."),
    files_per_process: int = typer.Option(
        20_000, min=0,
        help="A run over more input files is written by a fresh process per this many files (about "
        "160 MB of input), so a long backfill's memory stays level; one run and one run row all the same. 0: one process.",
    ),
    prefect: bool = typer.Option(False, "--prefect", help="Run through the Prefect `ingest` flow (ephemeral mode unless PREFECT_API_URL is set); not with --workers or --files-per-process."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Ingest raw article dumps: clean, deduplicate into story clusters, store in DuckDB.

    Re-running on the same inputs adds nothing. Bad inputs are recorded in `rejected_inputs`
    and the run goes on. Exit code 0: all ingested (or rejected by an earlier run already);
    3: inputs rejected for the first time; 2: usage error (nothing written); 1: failure;
    130: interrupted (committed batches are kept).

    Example: `newsdedup ingest samples/ --db data/news.duckdb`
    """
    from flows.pipeline import IngestSettings, ingest as run_ingest
    from flows.sources import count_inputs
    from storage.store import StoreError

    settings = IngestSettings(
        db_path=_db(db), source=source, threshold=threshold, batch_size=batch_size, workers=workers,
        max_bytes=max_bytes, rules_path=rules, learn_min_stories=learn_min_stories,
        files_per_process=files_per_process,
    )
    try:
        if prefect:
            _refuse_with_prefect(ctx, "workers", "files_per_process")
            from flows.ingest import ingest as ingest_flow, summary_from_result
            from flows.local_prefect import temporary_prefect_api

            with temporary_prefect_api():
                result = ingest_flow(
                    paths, source=source, threshold=threshold, db_path=str(settings.db_path),
                    batch_size=batch_size, max_bytes=max_bytes, rules_path=str(rules) if rules else None,
                    learn_min_stories=learn_min_stories,
                )
            summary = summary_from_result(result)
            _print_summary(summary, settings.db_path, title="Prefect flow ingest")
            raise typer.Exit(exit_code(summary))
        total = None if quiet else count_inputs(paths)
        with Progress(
            TextColumn("[bold]ingest[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=err, disable=quiet, transient=True,
        ) as bar:
            task = bar.add_task("ingest", total=total)
            summary = run_ingest(paths, settings, on_progress=lambda n: bar.advance(task, n))
    except FileNotFoundError as e:
        _fail(str(e), EXIT_USAGE)
    except StoreError as e:
        _fail(str(e))
    except ValueError as e:
        _fail(str(e), EXIT_USAGE)
    except (KeyboardInterrupt, Exception) as e:
        from storage.store import is_interrupt

        if not is_interrupt(e):
            raise
        _fail(
            "interrupted: every batch committed before it is kept and the run is recorded as failed; "
            "run the same command again to go on (nothing is ingested twice)",
            EXIT_INTERRUPTED,
        )
    _print_summary(summary, settings.db_path)
    raise typer.Exit(exit_code(summary))


def exit_code(summary: IngestSummary) -> int:
    """3 (partial) when the run recorded a rejected input for the first time, else 0: an input
    rejected by an earlier run and still in the folder is counted, not reported again."""
    return EXIT_PARTIAL if summary.status == "partial" else EXIT_OK


def _refuse_with_prefect(ctx: typer.Context, *names: str) -> None:
    """A usage error for options the Prefect flow does not take, when the user gave them."""
    # by name: typer carries its own copy of click, whose ParameterSource is not click's
    given = [n for n in names if getattr(ctx.get_parameter_source(n), "name", "DEFAULT") != "DEFAULT"]
    if given:
        flags = ", ".join("--" + n.replace("_", "-") for n in given)
        _fail(
            f"{flags} cannot be used with --prefect: the flow parses and signs on its task runner "
            "(2 local processes, or $NEWSDEDUP_DASK_ADDRESS) and writes from the flow's own process",
            EXIT_USAGE,
        )


def _print_summary(summary, db_path: Path, title: str = "ingest") -> None:
    table = Table(title=f"{title} {summary.run_id} → {db_path}", show_header=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in [
        ("read", summary.read),
        ("new articles", summary.new),
        ("  new stories", summary.new_stories),
        ("  exact duplicates", summary.exact_dups),
        ("  near duplicates", summary.near_dups),
        ("already stored (skipped)", summary.already_stored),
        ("clusters merged", summary.clusters_merged),
        ("learned boilerplate lines removed", summary.learned_lines_removed),
        ("rejected", summary.rejected),
        *((f"  {reason}", n) for reason, n in sorted(summary.rejected_by_reason.items())),
        *((("  already recorded by an earlier run", summary.rejected_before),) if summary.rejected_before else ()),
        ("seconds", f"{summary.seconds:.2f}"),
    ]:
        table.add_row(name, str(value))
    out.print(table)
    if summary.rejected:
        if summary.rejected_new:
            what = f"{summary.rejected_new} input(s) rejected for the first time (each recorded once, with the run that saw it)"
        else:
            what = f"{summary.rejected} input(s) rejected, all recorded by an earlier run: no new rejection"
        out.print(f"{what}; see them with:", highlight=False)
        # copy-pasteable: never wrapped, and naming the store unless it is the default one
        out.print(
            '  newsdedup sql "SELECT source, source_uri, reason, detail FROM rejected_inputs ORDER BY rejected_at DESC"'
            + _db_flag(db_path),
            soft_wrap=True, highlight=False, markup=False,
        )


def _db_flag(db_path: Path) -> str:
    """`` --db PATH`` for a hint to copy, unless PATH is what a bare command opens anyway."""
    import shlex

    from storage.store import default_db_path

    if Path(db_path).resolve() == default_db_path().resolve():
        return ""
    return f" --db {shlex.quote(str(db_path))}"


@app.command()
def clean(
    file: str = typer.Argument(..., help="A raw text dump or an HTML page (.html/.htm or sniffed), or - for standard input."),
    source: Optional[str] = typer.Option(None, help="Source name (selects per-source rules); default: the file's folder name."),
    rules: Optional[Path] = typer.Option(None, exists=True, dir_okay=False, help="TOML file of extra or per-source cleaning rules."),
) -> None:
    """Parse and clean one dump or HTML page; print the article as JSON (title, dateline, byline, paragraphs, captions, removed lines and the rule that removed each).

    Nothing is written. The built-in rules and --rules apply; learned boilerplate does not (it
    is learned per source from a store's articles, and ingest removes it), nor does ingest's
    source naming (the first folder under the path ingest was given): pass --source to match
    it. JSONL exports, archives and WARC files hold many articles: ingest them, then query
    removed_lines. Exit code 0: parsed; 1: the input is rejected (empty, binary...);
    2: no such file, a file of many articles, or a bad rules file.
    Example: `newsdedup clean ../shared/seeds/000_46533de79367e8f6.txt`
    """
    from flows.sources import container_kind
    from parsers.article import RawArticle, Rejected
    from parsers.dump import parse_raw
    from parsers.rules import RuleSet, load_rules

    if file != "-" and (kind := container_kind(file)):
        what = {"jsonl": "a JSONL export", "warc": "a WARC file"}.get(kind, f"a {kind} archive")
        _fail(f"{file} is {what}, which holds many articles; clean takes one dump or HTML page. "
              f"Ingest it (newsdedup ingest {file}) and query removed_lines.", EXIT_USAGE)
    try:
        payload = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as e:
        _fail(f"cannot read {file}: {e.strerror or e}", EXIT_USAGE)
    name = source or ("stdin" if file == "-" else Path(file).resolve().parent.name)
    try:
        ruleset = load_rules(rules) if rules else RuleSet()
    except ValueError as e:  # a bad rules file, like a bad option
        _fail(f"rules file {rules}: {e}", EXIT_USAGE)
    head = payload[:512].lstrip().lower()
    is_html = file.lower().endswith((".html", ".htm")) or head.startswith((b"<!doctype html", b"<html"))
    try:
        article = parse_raw(RawArticle(source=name, uri=file, payload=payload, kind="html" if is_html else "dump"), ruleset)
    except Rejected as e:
        _fail(f"{file} rejected: {e.reason}: {e.detail}")
    doc = {
        "source": article.source,
        "title": article.title,
        "dateline": article.dateline,
        "byline": article.byline,
        "published_at": article.published_at.isoformat() if article.published_at else None,
        "paragraphs": article.paragraphs,
        "captions": article.captions,
        "removed": [{"line": r.text, "rule": r.rule, "kind": r.kind} for r in article.removed],
        "word_count": article.word_count,
    }
    sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")


@app.command()
def sql(
    query: str = typer.Argument(..., help="A read-only SQL query."),
    db: Optional[Path] = DbOption,
    format: str = typer.Option("table", "--format", "-f", help="table, csv or json."),
) -> None:
    """Run a read-only SQL query on the store and print the result.

    The database is opened read-only: statements that would change it are refused.

    `--format json` prints JSON Lines (one object per row).
    Exit code 0: answered; 2: the query is refused or fails, or a bad --format; 1: the store is unusable.

    Example: `newsdedup sql "SELECT title, size FROM stories ORDER BY size DESC LIMIT 5"`
    """
    from storage.queries import QueryFailed, QueryRefused, run_readonly_sql
    from storage.store import StoreError

    format = _check_format(format)
    path = _db(db)
    try:
        columns, rows = run_readonly_sql(path, query, decode_json=format == "json")
    except (QueryRefused, QueryFailed) as e:  # the query is the problem, not the store
        _fail(str(e), EXIT_USAGE)
    except StoreError as e:
        _fail(str(e))
    _emit(columns, rows, format)


def _check_format(format: str) -> str:
    """The --format value, lower-cased (CSV works too); a usage error when it is none of them."""
    if format.lower() not in ("table", "csv", "json"):
        _fail(f"--format must be table, csv or json (not {format!r})", EXIT_USAGE)
    return format.lower()


def _minute(value):
    return value.strftime("%Y-%m-%d %H:%M") if hasattr(value, "strftime") else value


def _plain(value):
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return value


def _json_safe(value):
    # JSON has no NaN or Infinity (SELECT 1/0 gives inf)
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, (bytes, bytearray, memoryview)):  # a BLOB (e.g. a signature): hex, not a Python repr
        return bytes(value).hex()
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):  # a STRUCT or MAP
        return {str(k): _json_safe(v) for k, v in value.items()}
    return value


def _emit(columns: list[str], rows: list[tuple], format: str) -> None:
    if format == "csv":
        w = csv.writer(sys.stdout)
        w.writerow(columns)
        w.writerows(rows)
    elif format == "json":
        for row in rows:
            record = {c: _json_safe(v) for c, v in zip(columns, row)}
            sys.stdout.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
    else:
        table = Table()
        for c in columns:
            # ids are meant to be copied: never wrap them
            table.add_column(c, overflow="fold", no_wrap=c.endswith("_id"), min_width=16 if c.endswith("_id") else None)
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        out.print(table)


@app.command()
def stories(
    db: Optional[Path] = DbOption,
    limit: int = typer.Option(20, min=1, help="How many stories."),
    format: str = typer.Option("table", "--format", "-f", help="table, csv or json."),
) -> None:
    """List the largest story clusters: canonical title, size, outlets, first and last seen.

    Exit code 0: listed; 2: a bad --format; 1: the store is unusable.

    Example: `newsdedup stories --limit 5`
    """
    from storage.queries import top_stories

    format = _check_format(format)
    found = _read(db, lambda con: top_stories(con, limit))
    columns = ["cluster_id", "size", "n_sources", "title", "sources", "first_seen", "last_seen"]
    # JSON keeps the outlets a list, as `sql ... -f json` gives them; a table or CSV cell joins them
    rows = [tuple(s[c] if format == "json" else _plain(s[c]) for c in columns) for s in found]
    if format == "table":  # minutes are enough on a terminal; csv/json keep full timestamps
        rows = [r[:5] + tuple(_minute(v) for v in r[5:]) for r in rows]
    _emit(columns, rows, format)


@app.command()
def story(
    cluster_id: str = typer.Argument(..., help="A story cluster id (from `newsdedup stories`) or any article id in it; the first 6 or more characters of either are enough."),
    db: Optional[Path] = DbOption,
) -> None:
    """Show one story cluster: its articles, outlets, how similar each copy is, and what each copy changed.

    Exit code 0: shown; 2: no story or article has that id; 1: the store is unusable.

    Example: `newsdedup story 3f2a9c0d1e2b4a5f`
    """
    from storage.queries import story as load_story

    def load(con):
        try:
            return load_story(con, cluster_id)
        except KeyError as e:
            return str(e.args[0])

    found = _read(db, load)
    if isinstance(found, str):
        _fail(found, EXIT_USAGE)
    _print_story(found)


def _print_story(found: dict) -> None:
    articles = found["articles"]
    canonical = next((a for a in articles if a["is_canonical"]), articles[0])
    out.print(f"[bold]{canonical['title']}[/]")
    n, n_sources = len(articles), len(found["sources"])
    out.print(f"story {found['cluster_id']}: {_count(n, 'article')} from {_count(n_sources, 'source')} ({', '.join(found['sources'])})")
    for a in articles:
        out.print(f"\n[bold]{a['article_id']}[/]  {a['source']}  {a['source_uri']}")
        out.print(f"  {a['title']}")
        out.print(f"  {_how_linked(a, found['cluster_id'], canonical)}; "
                  f"{_count(a['removed_lines'], 'boilerplate line')} removed")


def _how_linked(a: dict, cluster_id: str, canonical: dict) -> str:
    """How one article belongs to its story: its link (kind, target, similarity), or that it
    founded the story or a story merged into it; whether it is canonical; what it changed."""
    from parsers.story_diff import describe_changes

    founded = a.get("link_kind") is None and a["article_id"] == cluster_id
    if a.get("link_kind") is not None:
        link = f"{a['link_kind']} duplicate of {a['duplicate_of']}, similarity {a['similarity']:.3f}"
    elif founded:
        link = "first seen (founded the story)"
    else:  # founded a story that a later bridge article merged into this one
        link = "merged into this story"
    if a["is_canonical"]:  # the earliest published, which need not be the first seen
        return "canonical" if founded else f"canonical; {link}"
    return f"{link}; against the canonical: {describe_changes(canonical, a)}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


@app.command()
def upgrade(db: Optional[Path] = DbOption) -> None:
    """Bring a store written by an older newsdedup to this version's schema, without ingesting anything.

    Any ingest does the same on its way; read-only commands (sql, stories, story, export)
    refuse an older store until then. Waits for a running ingest (the writer lock). The
    migrations are versioned and each runs in one transaction: a failure leaves the store at
    its old version. Rebuilding a table takes about 1.5 minutes per million stored articles.
    Exit code 0: up to date; 1: no store there, or it stays busy or cannot be migrated.

    Example: `newsdedup upgrade --db data/news.duckdb`
    """
    from storage.store import StoreError
    from storage.upgrade import upgrade_store

    path = _db(db)
    try:
        before, after = upgrade_store(path)
    except StoreError as e:
        _fail(str(e))
    if before == after:
        out.print(f"store {path} is at schema version {after}: up to date", soft_wrap=True, highlight=False)
    else:
        out.print(f"store {path}: schema version {before} → {after}", soft_wrap=True, highlight=False)


@app.command("export")
def export_(
    directory: Path = typer.Argument(..., help="New or empty folder to write: one Parquet file per table and manifest.json."),
    db: Optional[Path] = DbOption,
) -> None:
    """Back up the whole store: every table to Parquet, plus a manifest (schema version, row counts, SHA-256 of each file, dedup config).

    Waits for a running ingest to finish (the writer lock), then reads every table in one
    transaction, so the export is one consistent state; readers may stay open. The store is
    only read. Restore with `newsdedup import`. Exit code 0: written; 2: DIRECTORY is not a
    new or empty folder; 1: the store is missing, unusable or stays busy.

    Example: `newsdedup export backups/2026-11-25 --db data/news.duckdb`
    """
    from flows.pipeline import VERSION
    from storage.backup import BackupRefused, export_store
    from storage.store import StoreError

    path = _db(db)
    try:
        manifest = export_store(path, directory, VERSION)
    except BackupRefused as e:
        _fail(str(e), EXIT_USAGE)
    except StoreError as e:
        _fail(str(e))
    _print_tables(f"export {path} → {directory} (schema version {manifest['schema_version']})",
                  {t: e["rows"] for t, e in manifest["tables"].items()})


@app.command("import")
def import_(
    directory: Path = typer.Argument(..., help="A folder written by `newsdedup export`."),
    db: Optional[Path] = DbOption,
    force: bool = typer.Option(False, "--force", help="Replace --db if it already exists (atomically, once the import is complete)."),
) -> None:
    """Restore a `newsdedup export` folder into a new store file (--db), row for row.

    Checks the manifest and every file's checksum, refuses an export from a newer schema,
    upgrades an older one with the migrations, and checks every table's row count. Refuses
    an existing --db unless --force. Exit code 0: restored; 2: no export at DIRECTORY, or --db
    exists; 1: the export is damaged, incomplete or from a newer newsdedup (nothing written).

    Example: `newsdedup import backups/2026-11-25 --db data/restored.duckdb`
    """
    from storage.backup import BackupRefused, import_store
    from storage.store import StoreError

    path = _db(db)
    try:
        report = import_store(directory, path, force=force)
    except BackupRefused as e:
        _fail(str(e), EXIT_USAGE)
    except StoreError as e:
        _fail(str(e))
    migrated = report["schema_version_exported"], report["schema_version"]
    how = f"schema version {migrated[1]}" + (f", migrated from {migrated[0]}" if migrated[0] != migrated[1] else "")
    _print_tables(f"import {directory} → {path} ({how})", report["tables"])


def _print_tables(title: str, counts: dict[str, int]) -> None:
    out.print(title, soft_wrap=True, highlight=False)
    table = Table()
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in counts.items():
        table.add_row(name, str(n))
    out.print(table)


from flows.cli_fetch import register as _register_web_commands  # noqa: E402  (fetch, reprocess)
_register_web_commands(app)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except SystemExit as e:
        # `newsdedup sql ... | head`: the reader went away. Click/typer report that as exit 1
        # (a failure); say it as shells do for a writer whose pipe closed, quietly
        if _stdout_closed_early():
            raise SystemExit(EXIT_BROKEN_PIPE) from None
        raise


def _stdout_closed_early() -> bool:
    """Whether stdout's reader has gone (after typer caught the EPIPE, or at the final flush)."""
    if type(sys.stdout).__name__ == "PacifyFlushWrapper":  # typer's sign that it caught EPIPE
        return True
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        return True
    except (OSError, ValueError):
        return False
    return False


if __name__ == "__main__":
    main()
