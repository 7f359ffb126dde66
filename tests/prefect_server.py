"""A real Prefect server, deployments from prefect.yaml and a process worker, for end-to-end tests.

Everything runs as the README's "Run it on a schedule" commands do, on 127.0.0.1 with a
random port and a temporary PREFECT_HOME. Runs are created with the same API call the UI's
"Run" button makes (``POST /api/deployments/{id}/create_flow_run``).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

ROOT = Path(__file__).resolve().parent.parent
PREFECT = str(Path(sys.executable).with_name("prefect"))
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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

    def start(self, timeout: float = 120) -> PrefectServer:
        self.home.mkdir(parents=True, exist_ok=True)
        server = self._spawn("server", "server", "start", "--host", "127.0.0.1", "--port", str(self.port), "--analytics-off")
        deadline = time.monotonic() + timeout
        while True:
            assert server.poll() is None, f"prefect server exited:\n{self.logs('server')}"
            try:
                if httpx.get(f"{self.api}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"prefect server not healthy after {timeout} s:\n{self.logs('server')}"
            time.sleep(0.25)

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
        deadline = time.monotonic() + timeout
        while True:
            run = self.flow_run(run_id)
            if run["state_type"] in TERMINAL:
                return run
            assert time.monotonic() < deadline, f"run {run_id} still {run['state_type']} after {timeout} s:\n{self.logs('worker')}"
            time.sleep(0.25)

    def run_logs(self, run_id: str) -> str:
        logs = self.request("POST", "/logs/filter", json={"logs": {"flow_run_id": {"any_": [run_id]}}, "sort": "TIMESTAMP_ASC"}).json()
        return "\n".join(entry["message"] for entry in logs)

    def wait_log(self, run_id: str, text: str, timeout: float = 30) -> str:
        """The run's log once it contains `text` (logs reach the server in batches, after the state)."""
        deadline = time.monotonic() + timeout
        while True:
            logs = self.run_logs(run_id)
            if text in logs or time.monotonic() > deadline:
                return logs
            time.sleep(0.25)

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
