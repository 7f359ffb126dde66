"""Deployments: typed parameters, the backfill flow, and a real server + worker running prefect.yaml."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest
from pydantic import ValidationError

from flows.deployments import BackfillRequest
from tests.conftest import ROOT, dump, prose, query, synthetic_dumps


def test_backfill_request_validates_template_and_range():
    req = BackfillRequest(path_template="dumps/{date:%Y/%m/%d}.tar.gz", start_date="2024-02-28", end_date="2024-03-01")
    assert [req.path_for(d) for d in req.days()] == ["dumps/2024/02/28.tar.gz", "dumps/2024/02/29.tar.gz", "dumps/2024/03/01.tar.gz"]
    assert req.threshold == 0.8 and req.reprocess is False and req.batch_size == 2000
    with pytest.raises(ValidationError, match="needs a {date} placeholder"):
        BackfillRequest(path_template="dumps/today", start_date="2024-01-01", end_date="2024-01-01")
    with pytest.raises(ValidationError, match="unknown placeholders"):
        BackfillRequest(path_template="{source}/{date:%Y}", start_date="2024-01-01", end_date="2024-01-01")
    with pytest.raises(ValidationError, match="before the first day"):
        BackfillRequest(path_template="d/{date}", start_date="2024-01-02", end_date="2024-01-01")
    with pytest.raises(ValidationError, match="less than or equal to 1"):
        BackfillRequest(path_template="d/{date}", start_date="2024-01-01", end_date="2024-01-01", threshold=1.5)
    # exactly one of dumps (a path template) or the raw archive
    archive = BackfillRequest(from_raw_archive=True, start_date="2024-01-01", end_date="2024-01-02")
    assert [archive.path_for(d) for d in archive.days()] == ["raw_archive:2024-01-01", "raw_archive:2024-01-02"]
    with pytest.raises(ValidationError, match="not both"):
        BackfillRequest(path_template="d/{date}", from_raw_archive=True, start_date="2024-01-01", end_date="2024-01-01")
    with pytest.raises(ValidationError, match="give a path template .* or set from_raw_archive"):
        BackfillRequest(start_date="2024-01-01", end_date="2024-01-01")


def test_parameter_schemas_have_titles_and_descriptions():
    from flows.backfill import backfill
    from flows.ingest import ingest

    schema = backfill.parameters.model_dump()
    fields = schema["definitions"]["BackfillRequest"]["properties"]
    assert set(fields) == {"path_template", "from_raw_archive", "start_date", "end_date", "source", "threshold", "reprocess",
                           "db_path", "batch_size"}
    for name, spec in fields.items():
        assert spec.get("title") and spec.get("description"), name
    assert fields["start_date"]["format"] == "date"
    ingest_fields = ingest.parameters.model_dump()["properties"]
    assert ingest_fields["threshold"]["minimum"] == 0.05 and ingest_fields["paths"]["minItems"] == 1


def write_days(root: Path, seed: bytes, days: dict[str, list[tuple[str, bytes]]]) -> None:
    for day, files in days.items():
        for rel, payload in files:
            path = root / day / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(payload)


@pytest.mark.slow
def test_backfill_is_per_day_idempotent_and_reports_each_day(prefect_backend, tmp_path: Path, seed_bytes: bytes):
    from prefect.client.orchestration import get_client

    from flows.backfill import backfill

    dumps = tmp_path / "dumps"
    write_days(dumps, seed_bytes, {
        "2024-03-01": [("wire/hamas.txt", seed_bytes), ("mirror/hamas-copy.txt", seed_bytes)],
        "2024-03-03": [("wire/council.txt", dump("Council approves harbour budget", prose(1))), ("bad/empty.txt", b"")],
    })
    db = tmp_path / "news.duckdb"
    request = BackfillRequest(path_template=str(dumps / "{date:%Y-%m-%d}"), start_date=date(2024, 3, 1),
                              end_date=date(2024, 3, 3), db_path=str(db))
    first = backfill(request)
    assert [(r["day"], r["status"], r["new"], r["exact dups"], r["rejected"]) for r in first] == [
        ("2024-03-01", "ok", 2, 1, 0), ("2024-03-02", "missing", 0, 0, 0), ("2024-03-03", "partial", 1, 0, 1)]
    again = backfill(request)
    assert [r["status"] for r in again] == ["already ingested", "missing", "already ingested"]
    forced = backfill(request.model_copy(update={"reprocess": True}))
    # the empty file is rejected again but was recorded by the first backfill: nothing new to report
    assert [(r["status"], r["read"], r["new"], r["rejected"]) for r in forced] == [("ok", 2, 0, 0), ("missing", 0, 0, 0), ("ok", 2, 0, 1)]
    with get_client(sync_client=True) as client:
        keys = {a.key for a in client.read_artifacts()}
        runs = client.read_flow_runs()
    assert {"backfill-summary", "backfill-progress", "ingest-summary", "ingest-stories"} <= keys
    assert {"ingest-2024-03-01", "ingest-2024-03-03"} <= {r.name for r in runs}
    assert query(db, "SELECT count(*) FROM articles") == [(3,)]



@pytest.mark.slow
def test_deployed_runs_through_server_and_worker(prefect_server, dump_dir: Path, tmp_path: Path, seed_bytes: bytes):
    assert {"ingest-drop-dir", "backfill"} <= set(prefect_server.deployments)
    deployment = prefect_server.http.get(f"/deployments/{prefect_server.deployments['ingest-drop-dir']}").json()
    assert [s["schedule"]["cron"] for s in deployment["schedules"]] == ["0 * * * *"]
    assert deployment["work_pool_name"] == "newsdedup-process"

    db = tmp_path / "news.duckdb"
    run_id = prefect_server.create_run(prefect_server.deployments["ingest-drop-dir"], {"paths": [str(dump_dir)], "db_path": str(db)})
    run = prefect_server.wait_run(run_id)
    assert run["state_type"] == "COMPLETED", prefect_server.run_logs(run_id)
    assert "first batch committed" in prefect_server.wait_log(run_id, "first batch committed")
    assert {"ingest-summary", "ingest-stories"} <= {a["key"] for a in prefect_server.artifacts(run_id)}
    assert query(db, "SELECT count(*) FROM articles") == [(4,)]
    assert query(db, "SELECT status FROM ingest_runs") == [("partial",)]

    days = tmp_path / "days"
    write_days(days, seed_bytes, {"2024-03-02": [("wire/hamas.txt", seed_bytes)]})
    run_id = prefect_server.create_run(prefect_server.deployments["backfill"], {"request": {
        "path_template": str(days / "{date:%Y-%m-%d}"), "start_date": "2024-03-01", "end_date": "2024-03-02",
        "db_path": str(db)}})
    run = prefect_server.wait_run(run_id)
    assert run["state_type"] == "COMPLETED", prefect_server.run_logs(run_id)
    summary = next(a for a in prefect_server.artifacts(run_id) if a["key"] == "backfill-summary")
    assert "2024-03-02" in str(summary["data"]) and "missing" in str(summary["data"])
    # breitbart/hamas.txt is stored; wire/hamas.txt is a new place for the same bytes: an exact duplicate
    assert query(db, "SELECT count(*) FROM duplicate_links WHERE kind = 'exact'") == [(2,)]


@pytest.mark.slow
def test_backfill_and_scheduled_run_overlap_while_readers_query(prefect_server, tmp_path: Path, dump_dir: Path):
    """Two deployed writers at once, an analyst's session open throughout, `newsdedup sql` in a loop."""
    import subprocess
    import sys
    import textwrap
    import threading
    import time

    from storage.snapshot import snapshot_path

    newsdedup = str(Path(sys.executable).with_name("newsdedup"))
    days = tmp_path / "days"
    for i, day in enumerate(["2024-05-01", "2024-05-02", "2024-05-03"]):
        synthetic_dumps(days / day, 400, seed=10 + i)
    drop = tmp_path / "incoming"
    shutil.copytree(days / "2024-05-02", drop)  # the same articles reach both writers
    synthetic_dumps(drop / "late", 400, seed=20)

    db, reference = tmp_path / "news.duckdb", tmp_path / "reference.duckdb"
    for target in (db, reference):  # the store exists (and has a snapshot) before readers start
        assert subprocess.run([newsdedup, "ingest", str(dump_dir), "--db", str(target), "-q"]).returncode == 3
    for path in [*(str(days / d) for d in sorted(p.name for p in days.iterdir())), str(drop)]:
        assert subprocess.run([newsdedup, "ingest", path, "--db", str(reference), "-q"]).returncode in (0, 3)

    # Two clocks: the `newsdedup sql` process end to end (what a person waits; on a loaded
    # machine mostly Python starting up), and the store's read API in one long-lived process
    # (opening the store and answering: where a lock would make a reader wait or fail). That
    # process is not this one: DuckDB shares one instance per file within a process, and the
    # analyst session below holds the snapshot's.
    cli_waits: list[float] = []
    failures: list[str] = []
    done = threading.Event()
    stop = tmp_path / "stop-reading"
    api_reader = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import os, time
        from storage.queries import run_readonly_sql
        while not os.path.exists({str(stop)!r}):
            started = time.monotonic()
            try:
                run_readonly_sql({str(db)!r}, "SELECT count(*), max(seq) FROM articles")
                print("ok", time.monotonic() - started, flush=True)
            except Exception as exc:
                print("failed", time.monotonic() - started, str(exc).replace("\\n", " "), flush=True)
            time.sleep(0.2)  # pace: about as often as the sql loop
    """)], cwd=str(ROOT), stdout=subprocess.PIPE, text=True)
    analyst = duckdb.connect(str(snapshot_path(db)), read_only=True)  # left open for the whole test

    def read_in_a_loop() -> None:
        while not done.is_set():
            started = time.monotonic()
            try:
                result = subprocess.run([newsdedup, "sql", "SELECT count(*) FROM articles", "--db", str(db), "-f", "csv"],
                                        capture_output=True, text=True, timeout=60)
            except subprocess.TimeoutExpired as exc:
                failures.append(f"newsdedup sql still running after 60 s: {exc.stderr!r}")
                continue
            cli_waits.append(time.monotonic() - started)
            if result.returncode != 0:
                failures.append(f"newsdedup sql exit {result.returncode} after {cli_waits[-1]:.1f} s: {result.stderr.strip()}")
            try:
                analyst.execute("SELECT count(*), max(seq) FROM articles").fetchall()
            except duckdb.Error as exc:
                failures.append(f"the analyst session on the snapshot failed: {exc}")

    reader = threading.Thread(target=read_in_a_loop)
    reader.start()
    try:
        backfill_id = prefect_server.create_run(prefect_server.deployments["backfill"], {"request": {
            "path_template": str(days / "{date:%Y-%m-%d}"), "start_date": "2024-05-01", "end_date": "2024-05-03",
            "db_path": str(db), "batch_size": 300}})
        scheduled_id = prefect_server.create_run(prefect_server.deployments["ingest-drop-dir"],
                                                 {"paths": [str(drop)], "db_path": str(db), "batch_size": 300})
        runs = [prefect_server.wait_run(backfill_id, timeout=300), prefect_server.wait_run(scheduled_id, timeout=300)]
    finally:
        done.set()
        stop.touch()
        reader.join(timeout=120)
        analyst.close()
        api_lines = api_reader.communicate(timeout=120)[0].splitlines()
    assert not reader.is_alive(), "the reader loop did not stop within 120 s"
    waits = [float(line.split()[1]) for line in api_lines]
    failures += [f"run_readonly_sql {line}" for line in api_lines if line.startswith("failed")]
    for run in runs:
        assert run["state_type"] == "COMPLETED", (
            f"{run['name']} ended {run['state_type']}: {run['state'].get('message')}\n"
            f"--- run log ---\n{prefect_server.run_logs(run['id'])[-4000:]}\n--- worker log ---\n{prefect_server.logs('worker')}")
    # they did run at the same time (and took turns writing)
    (b_start, b_end), (s_start, s_end) = [(r["start_time"], r["end_time"]) for r in runs]
    assert b_start < s_end and s_start < b_end, f"no overlap: backfill {b_start}..{b_end}, scheduled {s_start}..{s_end}"

    assert not failures, f"{len(failures)} of {len(cli_waits) + len(waits)} reader queries failed: {failures[:3]}"
    assert len(waits) >= 3 and len(cli_waits) >= 3, f"only {len(waits)} + {len(cli_waits)} reader queries during the overlap"
    print(f"\nreader: {len(waits)} reads through the API, longest {max(waits):.2f} s; {len(cli_waits)} `newsdedup sql`, "
          f"longest {max(cli_waits):.2f} s (process start included)")
    assert max(waits) < 5, f"a read waited {max(waits):.1f} s for the store (slowest {sorted(waits)[-3:]})"
    # a lock never makes `newsdedup sql` wait (it falls back to the snapshot at once); its wall
    # time is the process start, which a machine loaded by both runs' parse pools stretches
    assert max(cli_waits) < 30, f"`newsdedup sql` took {max(cli_waits):.1f} s (slowest {sorted(cli_waits)[-3:]})"

    expected, got = (query(path, "SELECT article_id FROM articles ORDER BY 1") for path in (reference, db))
    assert len(expected) > 1200
    lost, extra = set(expected) - set(got), set(got) - set(expected)
    assert got == expected, f"{len(got)} articles vs {len(expected)} sequentially: {len(lost)} lost, {len(extra)} extra"


@pytest.mark.slow
def test_a_killed_writers_slot_comes_back_when_its_short_lease_runs_out(prefect_server):
    """A writer killed with SIGKILL while it holds the `newsdedup-writer` slot cannot release it;
    the slot comes back when its lease (WRITER_LEASE_SECONDS, not Prefect's default 300 s) runs
    out and the server revokes it, and the next writer then takes its turn at once."""
    import signal
    import subprocess
    import sys
    import time

    from flows.deployments import WRITER_LEASE_SECONDS, WRITER_LIMIT
    from tests.prefect_server import poll

    def active_slots() -> int:
        response = prefect_server.request("GET", f"/v2/concurrency_limits/{WRITER_LIMIT}")
        return response.json()["active_slots"] if response.status_code == 200 else 0  # 404: not created yet

    def writer(body: str) -> list[str]:
        return [sys.executable, "-c", f"import time\nfrom flows.deployments import writer_turn\nwith writer_turn(timeout=60):\n    {body}\n"]

    assert active_slots() == 0, "a writer of an earlier test still holds the slot"
    holder = subprocess.Popen(writer("print('holding', flush=True); time.sleep(600)"), cwd=str(ROOT),
                              env=prefect_server.env, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding", "the holder never got the slot"
        held_at = time.monotonic()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        holder.stdout.close()
    assert active_slots() == 1, "the slot should still be held: a killed process releases nothing"

    poll(lambda: active_slots() == 0, 4 * WRITER_LEASE_SECONDS,
         lambda: f"the killed writer's slot is still held {time.monotonic() - held_at:.0f} s later")
    freed_after = time.monotonic() - held_at
    print(f"\nslot of the killed writer free {freed_after:.0f} s after it took it (lease {WRITER_LEASE_SECONDS} s)")
    # the lease ran out (not something else releasing it), within a repossessor pass or two of it;
    # with Prefect's default lease the next run waited five minutes
    assert 0.8 * WRITER_LEASE_SECONDS <= freed_after < 2 * WRITER_LEASE_SECONDS
    assert freed_after < 120

    started = time.monotonic()
    subprocess.run(writer("pass"), cwd=str(ROOT), env=prefect_server.env, check=True, timeout=120)
    assert active_slots() == 0
    print(f"the next writer took and gave back its turn in {time.monotonic() - started:.1f} s")
