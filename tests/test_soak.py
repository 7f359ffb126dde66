"""The concurrency soak (bench/soak.py), shortened: writers and readers at once lose and double nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import bench_module


@pytest.mark.slow
def test_soak_loses_nothing_and_answers_every_reader(prefect_server, tmp_path: Path):
    run_soak = bench_module("soak").run_soak

    report = run_soak(prefect_server, tmp_path, seconds=20, drop_size=60, day_size=100)
    summary = report.as_dict()
    print("\n", summary)
    failed = [name for name, ok in report.checks.items() if not ok]
    assert not failed, f"{failed}: {summary}; reader failures: {[r.failures[:2] for r in report.readers]}"
    assert report.lost == report.extra == report.duplicated == 0
    assert report.articles == report.reference_articles > 300  # at least one drop batch and one backfill run
    assert all(r.waits and not r.failures for r in report.readers)
