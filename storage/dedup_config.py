"""The pinned MinHash configuration stored with the signatures (``dedup_config`` table).

Signatures are only comparable when num_perm, shingle_size, seed, scheme, bands, rows and the
shingle hash are identical, so the first run pins them and later runs must match; only the
verification ``threshold`` may change between runs (it is recorded per run in ``ingest_runs``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import duckdb

CONFIG_KEY = "minhash"
# settings that may differ between runs without invalidating stored signatures
MUTABLE_SETTINGS = frozenset({"threshold"})


def ensure_dedup_config(con: duckdb.DuckDBPyConnection, settings: Mapping[str, Any]) -> dict[str, Any]:
    """Store the MinHash settings on first use; afterwards refuse settings that differ.

    Args:
        con: read-write connection.
        settings: e.g. ``dataclasses.asdict(DedupConfig(...))`` (JSON-serialisable values).

    Returns:
        The effective settings: the stored ones, with this run's ``threshold``.

    Raises:
        ValueError: a setting other than threshold differs from the stored one; the message
            names the stored and requested values.
    """
    wanted = json.loads(json.dumps(dict(settings), sort_keys=True))
    rows = con.execute("SELECT settings FROM dedup_config WHERE key = ?", [CONFIG_KEY]).fetchall()
    if not rows:
        con.execute(
            "INSERT INTO dedup_config (key, settings, created_at) VALUES (?, ?, current_timestamp)",
            [CONFIG_KEY, json.dumps(wanted, sort_keys=True)],
        ).fetchall()
        return wanted
    stored = json.loads(rows[0][0])
    keys = (set(stored) | set(wanted)) - MUTABLE_SETTINGS
    diffs = sorted(k for k in keys if stored.get(k) != wanted.get(k))
    if diffs:
        built = ", ".join(f"{k}={stored.get(k)!r}" for k in diffs)
        asked = ", ".join(f"{k}={wanted.get(k)!r}" for k in diffs)
        raise ValueError(
            f"the store was built with MinHash settings {built} but this run asks {asked}; "
            "signatures made with different settings cannot be compared. Use the stored "
            "settings, or ingest into a new store (another --db path)."
        )
    effective = dict(stored)
    if "threshold" in wanted:
        effective["threshold"] = wanted["threshold"]
    return effective


def stored_dedup_config(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """Return the pinned settings, or None before the first ingest.

    Args:
        con: open connection.

    Returns:
        The settings dict or None.
    """
    rows = con.execute("SELECT settings FROM dedup_config WHERE key = ?", [CONFIG_KEY]).fetchall()
    return json.loads(rows[0][0]) if rows else None
