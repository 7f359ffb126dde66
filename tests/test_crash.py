"""A run killed with SIGKILL anywhere, then re-run, gives the same database as one clean run.

Driven by `bench/crash_harness.py` (see its docstring for the input, the crash points and
the comparison).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import bench_module

pytestmark = pytest.mark.slow


# 20 kills: 14 at named crash points (one through the Prefect flow) and 6 at random times;
# the input is small (300 dumps + fixtures, batches of 40) to keep the test in budget.
# `bench/crash_harness.py --n 3000` runs the full-size version.
TEST_POINTS = (
    "run.after_start",
    "batch_write.after_articles:2",
    "batch_write.after_details:4",
    "batch_write.after_links:3",
    "batch_write.before_commit:5",
    "batch_write.after_commit:3",
    "learned_rewrite.after_bodies:1",
    "cluster_merge.after_move:1",
    "cluster_merge.after_move:2",
    "snapshot.before_replace:1",
    "run.before_finish",
    "migration.v4.before_statement:2",
    "migration.v6.before_statement:2",
    "flow/batch_write.before_commit:4",
    "random",
    "random",
    "random",
    "random",
    "random",
    "random",
)


def test_twenty_kills_each_rerun_equals_an_uninterrupted_run(tmp_path: Path):
    crash_harness = bench_module("crash_harness")
    points = [crash_harness.parse_point(p) for p in TEST_POINTS]
    assert sum(p.name is not None for p in points) >= 10 and any(p.flow for p in points)
    harness = crash_harness.Harness(tmp_path / "crash", n=300, seed=11, batch_size=40, old_version=3,
                                    log=lambda message: print(message, flush=True), flow_reference=False)
    outcomes = harness.run(points)
    print(crash_harness.table(outcomes))
    # every kill happened where it was meant to, and every re-run wrote the uninterrupted run's store
    assert [o.point for o in outcomes if not o.identical] == [], crash_harness.table(outcomes)
    assert all("not reached" not in o.killed_where for o in outcomes)
