"""The persistent LSH index: ``lsh_bands`` rows (band_key, article_id), one per article per band.

Two articles are near-duplicate candidates when they share any band key. With b bands of r
rows, a pair with Jaccard s shares at least one band with probability 1 - (1 - s**r)**b (the
b x r choice and its math live in ``parsers/signature.py``). Candidates are always verified
by exact Jaccard afterwards, so a false positive here costs one verification, never a link.

``band_hits`` is one hash join: the batch's keys (an Arrow table, n*b rows) build the hash
table, the ``band_key`` column of ``lsh_bands`` is scanned and probed (DuckDB pushes a bloom
filter of the build keys into the scan). Cost: one narrow BIGINT column scan, independent of
the batch size; no per-row Python work.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from storage.arrow_tables import registered
from storage.lookup_memory import with_lookup_headroom


@with_lookup_headroom
def band_hits(con: duckdb.DuckDBPyConnection, band_keys: np.ndarray) -> list[tuple[int, str]]:
    """Find stored articles sharing at least one band key with each new row.

    Args:
        con: open connection.
        band_keys: int64 (or uint64, reinterpreted) array of shape (n, bands): the band keys
            of n new articles, as from ``parsers.signature.band_keys``.

    Returns:
        Distinct ``(row_index, stored_article_id)`` pairs, sorted.

    Raises:
        ValueError: ``band_keys`` is not two-dimensional.
    """
    keys = np.asarray(band_keys)
    if keys.ndim != 2:
        raise ValueError(f"band_keys must have shape (n, bands), got {keys.shape}")
    if keys.size == 0:
        return []
    if keys.dtype != np.int64:
        keys = keys.astype(np.uint64, copy=False).view(np.int64) if keys.dtype == np.uint64 else keys.astype(np.int64)
    n, bands = keys.shape
    probe = pa.table(
        {
            "row_index": pa.array(np.repeat(np.arange(n, dtype=np.int32), bands)),
            "band_key": pa.array(np.ascontiguousarray(keys).reshape(-1)),
        }
    )
    with registered(con, probe, "band_probe") as view:
        rows = con.execute(
            f"""
            SELECT DISTINCT p.row_index, b.article_id
            FROM lsh_bands AS b
            JOIN {view} AS p ON b.band_key = p.band_key
            ORDER BY 1, 2
            """
        ).fetchall()
    return [(int(i), aid) for i, aid in rows]


def insert_bands(con: duckdb.DuckDBPyConnection, bands: pa.Table) -> int:
    """Append (band_key, article_id) rows; the caller guarantees the articles are new.

    Args:
        con: connection, normally inside the batch transaction.
        bands: Arrow table with ``band_key`` int64 and ``article_id`` string.

    Returns:
        Rows inserted.
    """
    if bands.num_rows == 0:
        return 0
    with registered(con, bands, "bands") as view:
        con.execute(f"INSERT INTO lsh_bands (band_key, article_id) SELECT band_key, article_id FROM {view}").fetchall()
    return bands.num_rows
