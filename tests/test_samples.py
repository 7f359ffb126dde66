"""The README's first command on the bundled samples shows every feature it promises."""

from __future__ import annotations

from pathlib import Path

import duckdb
from typer.testing import CliRunner

from flows.cli import app

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def test_samples_show_dups_learned_boilerplate_and_rejections(tmp_path: Path):
    db = tmp_path / "news.duckdb"
    result = CliRunner().invoke(app, ["ingest", str(SAMPLES), "--db", str(db), "-q"])
    assert result.exit_code == 3, result.output  # partial: the bad/ files are rejected
    con = duckdb.connect(str(db), read_only=True)
    q = lambda sql: con.execute(sql).fetchall()  # noqa: E731
    try:
        assert q("SELECT count(*) FROM articles") == [(25,)]
        kinds = dict(q("SELECT kind, count(*) FROM duplicate_links GROUP BY kind"))
        assert kinds["exact"] >= 6 and kinds["near"] >= 4
        assert q("SELECT count(*) FROM stories") == [(13,)]
        # every story has exactly one canonical article
        assert q("SELECT count(*) FROM (SELECT cluster_id FROM articles GROUP BY cluster_id HAVING sum(is_canonical::INT) <> 1)") == [(0,)]
        learned = q("SELECT DISTINCT a.source, r.line, r.evidence >= 4 FROM removed_lines r JOIN articles a USING (article_id) WHERE r.rule = 'learned_boilerplate'")
        assert ("metro-times", "The Metro Times is an independent newsroom supported by readers like you.", True) in learned
        # learned lines leave every article of the source, also those stored before the line was learned
        assert q("SELECT count(*) FROM articles WHERE source = 'metro-times' AND body LIKE '%independent newsroom supported%'") == [(0,)]
        assert q("SELECT count(*) FROM articles WHERE source = 'metro-times'") == q(
            "SELECT count(*) FROM removed_lines r JOIN articles a USING (article_id) WHERE r.line LIKE 'The Metro Times is an independent%'"
        )
        # no stored body still carries a line that was removed from it
        assert q("SELECT count(*) FROM removed_lines r JOIN articles a USING (article_id) WHERE position(r.line IN a.body) > 0 AND length(r.line) > 40") == [(0,)]
        reasons = sorted(r for (r,) in q("SELECT reason FROM rejected_inputs"))
        assert reasons == ["binary", "empty", "malformed_jsonl", "malformed_jsonl"]
        # encodings: cp1252 and UTF-16 files come out as clean Unicode
        bodies = dict(q("SELECT source_uri, body FROM articles WHERE source_uri LIKE '%cp1252%' OR source_uri LIKE '%utf16%'"))
        assert all("\ufffd" not in b and "\x00" not in b for b in bodies.values()) and len(bodies) == 2
        assert any("“" in b or "é" in b for b in bodies.values())
        # archive members and JSONL records keep stable identities
        uris = {u for (u,) in q("SELECT source_uri FROM articles")}
        assert any("!" in u for u in uris) and any(u.startswith("http") or "#L" in u for u in uris)
    finally:
        con.close()


def test_learned_boilerplate_result_does_not_depend_on_batch_size(tmp_path: Path):
    """Tiny batches store a source's articles before its furniture is learned, so those
    stored articles are rewritten later; the database must end as with one big batch."""

    def contents(batch_size: int) -> dict[str, list]:
        db = tmp_path / f"b{batch_size}.duckdb"
        result = CliRunner().invoke(app, ["ingest", str(SAMPLES), "--db", str(db), "-q", "--batch-size", str(batch_size)])
        assert result.exit_code == 3, result.output
        con = duckdb.connect(str(db), read_only=True)
        try:
            q = lambda sql: sorted(con.execute(sql).fetchall())  # noqa: E731
            return {
                "articles": q("SELECT article_id, body, word_count, text_hash, cluster_id, is_canonical FROM articles"),
                "removed": q("SELECT article_id, line, rule FROM removed_lines"),
                "signatures": q("SELECT article_id, signature FROM minhash_signatures"),
                "bands": q("SELECT article_id, count(*) FROM lsh_bands GROUP BY article_id"),
            }
        finally:
            con.close()

    small, big = contents(2), contents(1000)
    assert any(rule == "learned_boilerplate" for _, _, rule in small["removed"])
    for table in big:
        assert small[table] == big[table], table
