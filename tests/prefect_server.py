"""Every Prefect backend the tests use, and their fixtures (registered by ``tests/conftest.py``).

* ``prefect_server`` (session): a real Prefect server, deployments from prefect.yaml and a
  process worker, started once. Everything runs as the README's "Run it on a schedule"
  commands do, on 127.0.0.1 with a random port and a temporary PREFECT_HOME. Runs are
  created with the same API call the UI's "Run" button makes
  (``POST /api/deployments/{id}/create_flow_run``).
* ``prefect_backend`` (module): a temporary Prefect backend (``prefect_test_harness``) for
  flows called in the test's own process; their runs, logs and artifacts go there.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent
PREFECT = str(Path(sys.executable).with_name("prefect"))
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
# A temporary server starts in about 20 s on an idle machine; a loaded one (CI, other suites) takes longer.
STARTUP_TIMEOUT = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def poll(check: Callable[[], T | None], timeout: float, failure: Callable[[], str]) -> T:
    """``check()``'s first truthy answer, asked every 0.25 s; AssertionError with ``failure()`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer:
            return answer
        assert time.monotonic() < deadline, failure()
        time.sleep(0.25)


class PrefectServer:
    """`prefect server start` + work pool + `prefect deploy --all` + `prefect worker start`."""

    def __init__(self, home: Path):
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = f"{self.url}/api"
        self.env = {
            **os.environ,
            "PREFECT_HOME": str(home),
            "PREFECT_API_URL": self.api,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_WORKER_PREFETCH_SECONDS": "5",
            "PREFECT_LOGGING_LEVEL": "INFO",
        }
        self.env.pop("PREFECT_PROFILE", None)
        self.procs: list[tuple[subprocess.Popen, Path]] = []
        self.http = httpx.Client(base_url=self.api, timeout=30)

    def _spawn(self, name: str, *args: str) -> subprocess.Popen:
        log = self.home / f"{name}.log"
        proc = subprocess.Popen([PREFECT, *args], cwd=str(ROOT), env=self.env, stdout=open(log, "wb"),
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((proc, log))
        return proc

    def cli(self, *args: str, timeout: float = 120) -> str:
        result = subprocess.run([PREFECT, *args], cwd=str(ROOT), env=self.env, capture_output=True, text=True, timeout=timeout)
        assert result.returncode == 0, f"prefect {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def start(self, timeout: float = STARTUP_TIMEOUT) -> PrefectServer:
        self.home.mkdir(parents=True, exist_ok=True)
        server = self._spawn("server", "server", "start", "--host", "127.0.0.1", "--port", str(self.port), "--analytics-off")

        def healthy() -> bool:
            assert server.poll() is None, f"prefect server exited:\n{self.logs('server')}"
            try:
                return httpx.get(f"{self.api}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        poll(healthy, timeout, lambda: f"prefect server not healthy after {timeout} s:\n{self.logs('server')}")
        return self

    def deploy(self) -> dict[str, str]:
        """Create the work pool, apply prefect.yaml, start a worker; return deployment ids by name."""
        self.cli("work-pool", "create", "newsdedup-process", "--type", "process")
        self.cli("--no-prompt", "deploy", "--all", timeout=180)
        self._spawn("worker", "worker", "start", "--pool", "newsdedup-process", "--type", "process")
        found = self.request("POST", "/deployments/filter", json={}).json()
        return {d["name"]: d["id"] for d in found}

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        """An API call, repeated while the server answers 503.

        The server answers 503 when its SQLite database stays busy (a loaded machine, several
        runs writing states and logs); nothing was done, and the Prefect client retries those
        too (PREFECT_CLIENT_MAX_RETRIES).
        """
        for attempt in range(8):
            response = self.http.request(method, path, **kwargs)
            if response.status_code != 503:
                return response
            time.sleep(min(4.0, 0.25 * 2**attempt))
        return response

    def create_run(self, deployment_id: str, parameters: dict) -> str:
        """Create a flow run the way the UI's Run button does."""
        response = self.request("POST", f"/deployments/{deployment_id}/create_flow_run",
                                json={"parameters": parameters, "state": {"type": "SCHEDULED"}})
        assert response.status_code == 201, f"creating a run: {response.status_code} {response.text}"
        return response.json()["id"]

    def flow_run(self, run_id: str) -> dict:
        response = self.request("GET", f"/flow_runs/{run_id}")
        assert response.status_code == 200, f"reading run {run_id}: {response.status_code} {response.text}"
        return response.json()

    def wait_run(self, run_id: str, timeout: float = 240) -> dict:
        """The run once it is in a terminal state."""

        def finished() -> dict | None:
            run = self.flow_run(run_id)
            return run if run["state_type"] in TERMINAL else None

        return poll(finished, timeout,
                    lambda: f"run {run_id} still {self.flow_run(run_id)['state_type']} after {timeout} s:\n{self.logs('worker')}")

    def run_logs(self, run_id: str) -> str:
        logs = self.request("POST", "/logs/filter", json={"logs": {"flow_run_id": {"any_": [run_id]}}, "sort": "TIMESTAMP_ASC"}).json()
        return "\n".join(entry["message"] for entry in logs)

    def wait_log(self, run_id: str, text: str, timeout: float = 30) -> str:
        """The run's log once it contains `text` (logs reach the server in batches, after the state)."""

        def logged() -> str | None:
            logs = self.run_logs(run_id)
            return logs if text in logs else None

        return poll(logged, timeout, lambda: f"run {run_id}'s log has no {text!r} after {timeout} s:\n{self.run_logs(run_id)[-4000:]}")

    def artifacts(self, run_id: str) -> list[dict]:
        return self.request("POST", "/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [run_id]}}}).json()

    def logs(self, name: str) -> str:
        path = self.home / f"{name}.log"
        return path.read_text(errors="replace")[-5000:] if path.exists() else ""

    def stop(self) -> None:
        self.http.close()
        for proc, _ in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc, _ in reversed(self.procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@contextmanager
def deployed_server(home: Path) -> Iterator[PrefectServer]:
    """A started server with the pool, prefect.yaml's deployments and a worker; stopped on exit.

    ``server.deployments`` maps deployment names to ids.
    """
    srv = PrefectServer(home).start()
    try:
        srv.deployments = srv.deploy()
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory) -> Iterator[PrefectServer]:
    """One real Prefect server (random port, temporary home) with prefect.yaml deployed and a
    worker, started at the first test that asks for it and shared by every later one."""
    with deployed_server(tmp_path_factory.mktemp("prefect-home")) as server:
        yield server


@pytest.fixture(scope="module")
def prefect_backend() -> Iterator[None]:
    """A temporary Prefect backend for flows called in this process, one per test module
    (a start-up costs about 20 s). It stays the process's API until the module's last test:
    ask for it in every test of a module that calls flows, or in the last ones."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=STARTUP_TIMEOUT):
        yield
