"""Versioned schema migrations of the newsdedup store, each applied in one transaction.

A migration is a numbered, named list of SQL statements, optionally followed by a backfill
(a function filling new columns of existing rows from values only Python computes).
``apply_migrations`` runs every migration newer than the store's version, each inside ONE
transaction together with its row in ``schema_migrations`` (DuckDB DDL is transactional), so
a failure leaves the previous version intact. Rules: never edit a released migration, add a
new one; add columns at the end of a table, never reorder; ``COMMENT ON`` every new table,
column and view; a new column that existing rows can have is filled for them (a backfill),
not left NULL.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from storage.crashpoints import crashpoint
from storage.transaction import transaction

log = logging.getLogger("newsdedup")


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema change: ``version`` (1, 2, ...), a short ``name``, its SQL statements, and an
    optional ``backfill(con)`` run after them in the same transaction."""

    version: int
    name: str
    statements: tuple[str, ...]
    backfill: Callable[[duckdb.DuckDBPyConnection], None] | None = None


def _quote(text: str) -> str:
    """SQL string literal (COMMENT ON does not take parameters)."""
    return "'" + text.replace("'", "''") + "'"


def _table(name: str, comment: str, columns: list[tuple[str, str, str]], constraints: str = "") -> list[str]:
    """CREATE TABLE plus COMMENT ON for the table and every column (keeps the two in step)."""
    body = ",\n    ".join(f"{col} {sql_type}" for col, sql_type, _ in columns)
    if constraints:
        body += ",\n    " + constraints
    statements = [f"CREATE TABLE {name} (\n    {body}\n)", f"COMMENT ON TABLE {name} IS {_quote(comment)}"]
    statements += [f"COMMENT ON COLUMN {name}.{col} IS {_quote(text)}" for col, _, text in columns]
    return statements


_V1: list[str] = []
_V1 += _table(
    "schema_migrations",
    "Applied schema migrations, one row each, written in the migration's own transaction.",
    [
        ("version", "INTEGER PRIMARY KEY", "Migration number, increasing from 1."),
        ("name", "VARCHAR NOT NULL", "Short name of the migration."),
        ("applied_at", "TIMESTAMPTZ NOT NULL DEFAULT current_timestamp", "When the migration was applied."),
    ],
)
_V1 += _table(
    "dedup_config",
    "The pinned MinHash settings the stored signatures were built with; signatures made "
    "with other settings cannot be compared, so a run asking for different ones is refused.",
    [
        ("key", "VARCHAR PRIMARY KEY", "Which config ('minhash')."),
        ("settings", "JSON NOT NULL", "num_perm, shingle_size, seed, scheme, bands, rows, hash, threshold as a JSON object."),
        ("created_at", "TIMESTAMPTZ NOT NULL DEFAULT current_timestamp", "When the config was first stored."),
    ],
)
_V1 += _table(
    "ingest_runs",
    "One row per ingest run: what it read and what it did (counts), written at start and finish.",
    [
        ("run_id", "VARCHAR PRIMARY KEY", "Run identifier; every row written by the run carries it."),
        ("started_at", "TIMESTAMPTZ NOT NULL", "When the run started."),
        ("finished_at", "TIMESTAMPTZ", "When the run finished; NULL while running or after a crash."),
        ("status", "VARCHAR NOT NULL CHECK (status IN ('running', 'ok', 'partial', 'failed'))",
         "running | ok | partial (some inputs rejected or some batches failed) | failed."),
        ("source", "VARCHAR", "Source name given to the run."),
        ("paths", "VARCHAR[]", "Input paths/URLs the run was asked to read."),
        ("threshold", "DOUBLE", "Jaccard threshold used for near-duplicate links in this run."),
        ("n_read", "BIGINT", "Inputs read."),
        ("n_new", "BIGINT", "Articles newly stored."),
        ("n_already_stored", "BIGINT", "Inputs skipped because the same article_id was already stored."),
        ("n_exact_dups", "BIGINT", "New articles linked as exact duplicates (same text_hash)."),
        ("n_near_dups", "BIGINT", "New articles linked as near duplicates (verified Jaccard >= threshold)."),
        ("n_rejected", "BIGINT", "Inputs rejected (see rejected_inputs)."),
        ("n_clusters_merged", "BIGINT", "Story clusters absorbed into another cluster."),
        ("seconds", "DOUBLE", "Wall-clock duration of the run."),
        ("version", "VARCHAR", "newsdedup version that ran."),
    ],
)
_ARTICLES_COMMENT = "Every stored article (duplicates included), cleaned, with its story cluster."
_ARTICLES_V1_COLUMNS: list[tuple[str, str, str]] = [
        ("article_id", "VARCHAR PRIMARY KEY", "First 16 hex of sha256(source NUL source_uri NUL content_hash)."),
        ("seq", "BIGINT NOT NULL UNIQUE", "Ingestion order, increasing, deterministic for a given input order."),
        ("source", "VARCHAR NOT NULL", "Source name (outlet, feed or dump)."),
        ("source_uri", "VARCHAR NOT NULL", "Identity inside the source: relative path, archive!member, file.jsonl#L12 or URL."),
        ("url", "VARCHAR", "Article URL when known."),
        ("title", "VARCHAR", "Headline."),
        ("dateline", "VARCHAR", "Dateline (e.g. 'GAZA CITY, March 3 (Reuters)'), if any."),
        ("byline", "VARCHAR", "Byline, if any."),
        ("published_at", "TIMESTAMPTZ", "Publication time when known (UTC)."),
        ("body", "VARCHAR NOT NULL", "Cleaned body text, paragraphs separated by a blank line."),
        ("word_count", "INTEGER", "Words in the cleaned body."),
        ("content_hash", "VARCHAR NOT NULL", "sha256 hex of the raw input bytes."),
        ("text_hash", "VARCHAR NOT NULL", "First 16 hex of sha256 of the folded body: the exact-duplicate key."),
        ("cluster_id", "VARCHAR NOT NULL", "Story cluster: article_id of the cluster's lowest-seq (founding) article."),
        ("is_canonical", "BOOLEAN NOT NULL DEFAULT false",
         "True for exactly one article per cluster: earliest published_at (NULLs last), then lowest seq."),
        ("ingested_at", "TIMESTAMPTZ NOT NULL", "When the article was stored."),
        ("run_id", "VARCHAR", "Run that stored the article."),
]
_V1 += _table("articles", _ARTICLES_COMMENT, _ARTICLES_V1_COLUMNS)
_V1 += _table(
    "removed_lines",
    "Lines the cleaner took out of an article body, with the rule that took each.",
    [
        ("article_id", "VARCHAR NOT NULL", "Article the line was removed from."),
        ("position", "INTEGER", "Line position in the raw article."),
        ("line", "VARCHAR NOT NULL", "The removed text."),
        ("rule", "VARCHAR NOT NULL", "Name of the cleaning rule (or 'learned_boilerplate')."),
        ("evidence", "INTEGER", "For learned boilerplate: number of stories of the source carrying the line."),
    ],
)
_V1 += _table(
    "duplicate_links",
    "One row per duplicate article: the stored article it was linked to and how.",
    [
        ("article_id", "VARCHAR PRIMARY KEY", "The duplicate article."),
        ("duplicate_of", "VARCHAR NOT NULL", "The article it duplicates."),
        ("kind", "VARCHAR NOT NULL CHECK (kind IN ('exact', 'near'))", "exact (same text_hash) | near (MinHash candidate, verified Jaccard)."),
        ("similarity", "DOUBLE", "Verified Jaccard similarity of the shingle sets (1.0 for exact)."),
        ("run_id", "VARCHAR", "Run that made the link."),
    ],
)
_V1 += _table(
    "minhash_signatures",
    "MinHash signature of each article (settings in dedup_config).",
    [
        ("article_id", "VARCHAR PRIMARY KEY", "The article."),
        ("signature", "BLOB NOT NULL", "num_perm little-endian uint32 values (numpy '<u4' bytes)."),
    ],
)
_V1 += _table(
    "lsh_bands",
    "LSH index: one row per article per band; articles sharing a band_key are near-duplicate "
    "candidates. No primary key on purpose (ART upkeep on ~32 rows per article); rows are "
    "written once, with their article, in the same transaction.",
    [
        ("band_key", "BIGINT NOT NULL", "Hash combining the band number and that band's signature values."),
        ("article_id", "VARCHAR NOT NULL", "The article."),
    ],
)
_V1 += _table(
    "rejected_inputs",
    "Inputs that did not become articles, with the reason; each (source, source_uri, "
    "content_hash, reason) is recorded once.",
    [
        ("source", "VARCHAR NOT NULL", "Source name."),
        ("source_uri", "VARCHAR NOT NULL", "Identity inside the source."),
        ("content_hash", "VARCHAR", "sha256 hex of the raw bytes when they could be read."),
        ("reason", "VARCHAR NOT NULL", "Stable code: empty, binary, undecodable, too_large, no_body, malformed_jsonl, unsafe_member, bad_archive, unreadable."),
        ("detail", "VARCHAR", "Sentence for humans."),
        ("run_id", "VARCHAR", "Run that first rejected it."),
        ("rejected_at", "TIMESTAMPTZ NOT NULL DEFAULT current_timestamp", "When it was first rejected."),
    ],
)
_V1 += _table(
    "source_boilerplate",
    "Per-source counts of short lines across stories: the evidence for learned boilerplate.",
    [
        ("source", "VARCHAR NOT NULL", "Source name."),
        ("line_key", "BIGINT NOT NULL", "Hash of the folded line."),
        ("line", "VARCHAR NOT NULL", "The line as first seen."),
        ("n_stories", "INTEGER NOT NULL", "Number of stored stories of the source carrying the line."),
        ("first_run_id", "VARCHAR", "Run that first saw the line."),
    ],
    "PRIMARY KEY (source, line_key)",
)
_V1 += _table(
    "cluster_merges",
    "Story clusters absorbed into another when a new article linked both.",
    [
        ("absorbed_cluster_id", "VARCHAR NOT NULL", "Cluster that disappeared (its articles moved)."),
        ("into_cluster_id", "VARCHAR NOT NULL", "Cluster that received them (lower-seq founder)."),
        ("run_id", "VARCHAR", "Run that merged them."),
        ("merged_at", "TIMESTAMPTZ NOT NULL DEFAULT current_timestamp", "When."),
    ],
)
_V1 += [
    """CREATE VIEW stories AS
SELECT
    a.cluster_id,
    max(a.title) FILTER (WHERE a.is_canonical) AS title,
    max(a.article_id) FILTER (WHERE a.is_canonical) AS canonical_article_id,
    count(*) AS size,
    count(DISTINCT a.source) AS n_sources,
    list_sort(list(DISTINCT a.source)) AS sources,
    min(a.ingested_at) AS first_seen,
    max(a.ingested_at) AS last_seen,
    min(a.published_at) AS first_published,
    max(a.published_at) AS last_published
FROM articles AS a
GROUP BY a.cluster_id""",
    "COMMENT ON VIEW stories IS 'One row per story cluster, summarised from articles.'",
]
_V1 += [
    f"COMMENT ON COLUMN stories.{col} IS {_quote(text)}"
    for col, text in [
        ("cluster_id", "Story cluster id (article_id of its founding article)."),
        ("title", "Title of the cluster's canonical article."),
        ("canonical_article_id", "The canonical article (earliest published, then lowest seq)."),
        ("size", "Number of articles in the cluster."),
        ("n_sources", "Number of distinct sources."),
        ("sources", "Sorted list of the sources."),
        ("first_seen", "Earliest ingested_at."),
        ("last_seen", "Latest ingested_at."),
        ("first_published", "Earliest published_at."),
        ("last_published", "Latest published_at."),
    ]
]

_V2 = [
    "ALTER TABLE ingest_runs ADD COLUMN error VARCHAR",
    "COMMENT ON COLUMN ingest_runs.error IS 'Why the run failed or was partial (first error), NULL if ok.'",
]

_V3 = [
    "ALTER TABLE removed_lines ADD COLUMN kind VARCHAR",
    "COMMENT ON COLUMN removed_lines.kind IS "
    "'Kind of boilerplate the rule removes: photo_credit, caption, comment_footer, promo, copyright, byline_meta, learned_boilerplate, ...'",
]

_V4 = [
    """CREATE TABLE article_lines (
        source VARCHAR NOT NULL,
        line_key BIGINT NOT NULL,
        article_id VARCHAR NOT NULL
    )""",
    "COMMENT ON TABLE article_lines IS 'Which articles carry which short line (learned-boilerplate candidates), so a line learned later can be stripped from the articles stored before.'",
    "COMMENT ON COLUMN article_lines.source IS 'Source of the article.'",
    "COMMENT ON COLUMN article_lines.line_key IS 'Key of the folded line (parsers.learned.line_key); joins source_boilerplate.'",
    "COMMENT ON COLUMN article_lines.article_id IS 'The article carrying the line.'",
]

_V5: list[str] = []
_V5 += _table(
    "raw_archive",
    "Every body the fetcher received (feeds, sitemaps, URL lists and article pages), compressed, "
    "so pages can be re-parsed with newer rules without the network (newsdedup reprocess). "
    "One row per (url, content_hash): the same bytes fetched again are not stored twice.",
    [
        ("url", "VARCHAR NOT NULL", "URL that was asked for (a feed entry link or a source document URL)."),
        ("content_hash", "VARCHAR NOT NULL", "sha256 hex of the decoded body bytes (the article's content_hash for pages)."),
        ("final_url", "VARCHAR NOT NULL", "URL after redirects; the source_uri of the page's article."),
        ("source", "VARCHAR NOT NULL", "Source name from the sources file."),
        ("kind", "VARCHAR NOT NULL CHECK (kind IN ('page', 'feed', 'sitemap', 'urls'))",
         "page (an article page) | feed | sitemap | urls (a source document)."),
        ("status", "INTEGER NOT NULL", "HTTP status of the final response (200)."),
        ("headers", "JSON", "Final response headers as a JSON object, lower-cased names."),
        ("fetched_at", "TIMESTAMPTZ NOT NULL", "When the body was received (UTC)."),
        ("body", "BLOB NOT NULL", "The decoded body, zlib-compressed (see compression)."),
        ("compression", "VARCHAR NOT NULL", "How body is compressed: zlib."),
        ("n_bytes", "BIGINT NOT NULL", "Size of the decoded body in bytes."),
        ("run_id", "VARCHAR", "Fetch run that stored the row."),
    ],
    "PRIMARY KEY (url, content_hash)",
)
_V5 += _table(
    "feed_state",
    "Per source document URL: the validators of its last full fetch, sent back as a conditional GET "
    "(If-None-Match / If-Modified-Since), and when it was last fetched.",
    [
        ("url", "VARCHAR PRIMARY KEY", "Source document URL (feed, sitemap or URL list)."),
        ("source", "VARCHAR NOT NULL", "Source name."),
        ("etag", "VARCHAR", "ETag of the last 200 response, if the server sent one."),
        ("last_modified", "VARCHAR", "Last-Modified of the last 200 response, as sent."),
        ("last_status", "INTEGER", "Status of the last fetch: 200, 304, or NULL when it failed."),
        ("last_fetched", "TIMESTAMPTZ", "When the document was last fetched (200 or 304)."),
        ("n_not_modified", "BIGINT NOT NULL DEFAULT 0", "How many fetches came back 304 Not Modified."),
    ],
)

_URL_KEY_COMMENT = (
    "Canonical-URL key (parsers.canonical_url.url_key): an exact-duplicate key beside text_hash, "
    "so one article under two URLs is one story."
)
_V_URL_KEY = [
    "ALTER TABLE articles ADD COLUMN url_key VARCHAR",
    f"COMMENT ON COLUMN articles.url_key IS {_quote(_URL_KEY_COMMENT)}",
]



def _backfill_url_key_and_rule_kind(con: duckdb.DuckDBPyConnection) -> None:
    """Fill the columns v3 and v6 added, for rows stored before them (they were left NULL).

    ``articles.url_key`` = ``parsers.canonical_url.url_key(url)``, so an article stored before
    v6 is found again under its canonical URL; ``removed_lines.kind`` = the kind of the
    built-in rule (structural, regex or HTML block rule) named in ``rule``. Lines removed by a rule that is not
    built in (a ``--rules`` file) keep a NULL kind: the rule's kind was not recorded.
    """
    from parsers.canonical_url import url_key
    from parsers.html import FURNITURE_ROLES, FURNITURE_TAGS
    from parsers.learned import LEARNED_RULE
    from parsers.rules import DEFAULT_RULES, STRUCTURAL_RULES

    rows = con.execute("SELECT article_id, url FROM articles WHERE url IS NOT NULL AND url_key IS NULL").fetchall()
    keys = [(article_id, url_key(url)) for article_id, url in rows]
    keys = [(article_id, key) for article_id, key in keys if key]
    if keys:
        table = pa.table({"article_id": [k[0] for k in keys], "url_key": [k[1] for k in keys]})
        con.register("_url_keys", table)
        try:
            con.execute(
                "UPDATE articles SET url_key = k.url_key FROM _url_keys AS k WHERE articles.article_id = k.article_id"
            ).fetchall()
        finally:
            con.unregister("_url_keys")
    kinds = {**STRUCTURAL_RULES, **{rule.name: rule.kind for rule in DEFAULT_RULES}}
    kinds.update({rule: kind for rule, kind in (*FURNITURE_TAGS.values(), *FURNITURE_ROLES.values())})
    kinds.update({"html_outside_main": "other", "html_headline": "other", "html_link_list": "related"})
    kinds[LEARNED_RULE] = LEARNED_RULE
    table = pa.table({"rule": list(kinds), "kind": list(kinds.values())})
    con.register("_rule_kinds", table)
    try:
        con.execute(
            "UPDATE removed_lines SET kind = k.kind FROM _rule_kinds AS k "
            "WHERE removed_lines.kind IS NULL AND removed_lines.rule = k.rule"
        ).fetchall()
    finally:
        con.unregister("_rule_kinds")


def _rebuilt_without_keys(name: str, comment: str, columns: list[tuple[str, str, str]], old_version: int = 7) -> list[str]:
    """Recreate a table under the same name, with these (key-less) columns and comments, and its
    rows in their stored order (``apply_migrations`` preserves insertion order)."""
    old = f"{name}__v{old_version}"
    names = ", ".join(col for col, _, _ in columns)
    return [
        f"ALTER TABLE {name} RENAME TO {old}",
        *_table(name, comment, columns),
        f"INSERT INTO {name} ({names}) SELECT {names} FROM {old}",
        f"DROP TABLE {old}",
    ]


# articles kept its primary key until v10: verification fetched candidate bodies through it
_NO_KEY = (
    " No primary key on purpose: the single writer inserts only rows whose key is not stored "
    "yet (a join in the batch transaction), and an ART index growing with every row "
    "would make a long ingest's memory grow with the store (docs/DESIGN.md, \"Memory of a long run\")."
)
_V8: list[str] = []
_V8 += _rebuilt_without_keys(
    "duplicate_links",
    "One row per duplicate article: the stored article it was linked to and how." + _NO_KEY,
    [
        ("article_id", "VARCHAR NOT NULL", "The duplicate article (one row per article)."),
        ("duplicate_of", "VARCHAR NOT NULL", "The article it duplicates."),
        ("kind", "VARCHAR NOT NULL CHECK (kind IN ('exact', 'near'))", "exact (same text_hash) | near (MinHash candidate, verified Jaccard)."),
        ("similarity", "DOUBLE", "Verified Jaccard similarity of the shingle sets (1.0 for exact)."),
        ("run_id", "VARCHAR", "Run that made the link."),
    ],
)
_V8 += _rebuilt_without_keys(
    "minhash_signatures",
    "MinHash signature of each article (settings in dedup_config)." + _NO_KEY,
    [
        ("article_id", "VARCHAR NOT NULL", "The article (one row per article)."),
        ("signature", "BLOB NOT NULL", "num_perm little-endian uint32 values (numpy '<u4' bytes)."),
    ],
)
_V8 += _rebuilt_without_keys(
    "source_boilerplate",
    "Per-source counts of short lines across stories: the evidence for learned boilerplate." + _NO_KEY,
    [
        ("source", "VARCHAR NOT NULL", "Source name."),
        ("line_key", "BIGINT NOT NULL", "Hash of the folded line; one row per (source, line_key)."),
        ("line", "VARCHAR NOT NULL", "The line as first seen."),
        ("n_stories", "INTEGER NOT NULL", "Number of stored stories of the source carrying the line."),
        ("first_run_id", "VARCHAR", "Run that first saw the line."),
    ],
)

# An input rejected by an earlier run and still in place is rejected again by every run over
# it; only a rejection recorded for the first time makes a run partial (and its exit code 3).
_V9 = [
    "ALTER TABLE ingest_runs ADD COLUMN n_rejected_new BIGINT",
    "COMMENT ON COLUMN ingest_runs.n_rejected_new IS "
    "'Rejections this run recorded for the first time (the rest of n_rejected were recorded by earlier runs); NULL for runs before schema version 9.'",
    "COMMENT ON COLUMN ingest_runs.n_rejected IS "
    "'Inputs rejected by this run, including those an earlier run already recorded (see rejected_inputs).'",
    "COMMENT ON COLUMN ingest_runs.status IS "
    "'running | ok | partial (the run recorded rejected inputs for the first time: n_rejected_new > 0) | failed (see error).'",
]


# articles loses its PRIMARY KEY (article_id) and UNIQUE (seq): their ART indexes were the
# writer's last memory that grew with the store (49 MB loaded to insert 2,000 rows into a 1M
# store). The writer inserts only ids it found missing in the batch's transaction; lookups
# find rows by narrow column scans and fetch bodies by seq, whose zone maps prune row groups.
ARTICLES_UNKEYED_VERSION = 10
_V10 = _rebuilt_without_keys(
    "articles",
    _ARTICLES_COMMENT + _NO_KEY,
    [
        *[(col, sql_type.replace(" PRIMARY KEY", " NOT NULL").replace(" UNIQUE", ""), text)
          for col, sql_type, text in _ARTICLES_V1_COLUMNS],
        ("url_key", "VARCHAR", _URL_KEY_COMMENT),
    ],
    old_version=9,
)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial_schema", tuple(_V1)),
    Migration(2, "ingest_runs_error", tuple(_V2)),
    Migration(3, "removed_lines_kind", tuple(_V3)),
    Migration(4, "article_lines", tuple(_V4)),
    Migration(5, "raw_archive", tuple(_V5)),
    Migration(6, "articles_url_key", tuple(_V_URL_KEY)),
    Migration(7, "backfill_url_key_and_rule_kind", (), _backfill_url_key_and_rule_kind),
    Migration(8, "drop_per_article_indexes", tuple(_V8)),
    Migration(9, "ingest_runs_new_rejections", tuple(_V9)),
    Migration(ARTICLES_UNKEYED_VERSION, "drop_article_keys", tuple(_V10)),
)


def latest_version() -> int:
    """Return the version of the newest migration this code knows."""
    return MIGRATIONS[-1].version


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """Return the store's schema version (0 for an empty database).

    Args:
        con: open connection.

    Returns:
        The highest applied migration version, 0 when ``schema_migrations`` does not exist.
    """
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_migrations' "
        "AND database_name = current_database()"
    ).fetchall()[0][0]
    if not exists:
        return 0
    return con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchall()[0][0]


def apply_migrations(con: duckdb.DuckDBPyConnection, target_version: int | None = None) -> list[int]:
    """Apply every pending migration up to ``target_version``, each in its own transaction.

    Args:
        con: read-write connection, no transaction in progress.
        target_version: stop after this version (default: the latest): builds a store at an
            older version (``storage.backup`` restores an older export that way, then
            migrates it; tests build old stores with it).

    Returns:
        The versions applied by this call (empty when already up to date).

    Raises:
        duckdb.Error: a migration failed; it was rolled back and later ones not attempted.
    """
    target = latest_version() if target_version is None else target_version
    current = schema_version(con)
    pending = [m for m in MIGRATIONS if current < m.version <= target]
    if not pending:
        return []
    if current:  # an existing store: say why the first command after an upgrade takes longer
        log.warning(
            "upgrading the store from schema version %d to %d (once; rebuilding a table takes "
            "about 1.5 minutes per million stored articles)", current, pending[-1].version,
        )
    # a migration that rebuilds a table copies its rows in their stored order (seq order for
    # articles); the writer's session streams inserts unordered otherwise
    ordered = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
    con.execute("SET preserve_insertion_order = true").fetchall()
    try:
        return _apply(con, pending)
    finally:
        con.execute(f"SET preserve_insertion_order = {'true' if ordered else 'false'}").fetchall()


def _apply(con: duckdb.DuckDBPyConnection, pending: list[Migration]) -> list[int]:
    applied: list[int] = []
    for migration in pending:
        log.info("migrating the store to schema version %d (%s)", migration.version, migration.name)
        with transaction(con):
            for statement in migration.statements:
                crashpoint(f"migration.v{migration.version}.before_statement")
                con.execute(statement).fetchall()
            if migration.backfill is not None:
                migration.backfill(con)
            con.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, current_timestamp)",
                [migration.version, migration.name],
            ).fetchall()
        applied.append(migration.version)
    return applied
