"""Processes a run starts die with it, even when it is SIGKILLed.

A flow run in a plain process (``newsdedup ingest --prefect``, ``python -m flows.ingest``)
starts processes that are not ours to configure: Prefect's temporary API server (uvicorn),
the task runner's spawned workers and multiprocessing's resource tracker. Killed with
SIGKILL, the run cannot stop them, and they would live on (the workers wait for work
forever, the server serves nobody). ``guard_descendants`` marks the process
with a tag in its environment, which every process it starts inherits, and starts a small
watchdog; when this process dies the watchdog SIGKILLs every process carrying the tag.
Linux only (it reads ``/proc``); elsewhere it does nothing.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

TAG_ENV = "NEWSDEDUP_PROCESS_GROUP_TAG"


def tagged_processes(tag: str, env: str = TAG_ENV) -> list[int]:
    """Pids of live processes whose environment carries ``env=tag`` (zombies are not live)."""
    needle = f"{env}={tag}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                    continue
                found.append(int(entry.name))
        except OSError:  # gone meanwhile, or not ours
            continue
    return found


def watch(parent: int, tag: str, poll: float = 0.2) -> None:
    """The watchdog: wait for `parent` to die, then SIGKILL every process carrying `tag`."""
    while os.getppid() == parent:
        time.sleep(poll)
    me = os.getpid()
    deadline = time.monotonic() + 10
    # a process may be starting one more (the server restarting a worker): sweep until none is left
    while (pids := [p for p in tagged_processes(tag) if p != me]) and time.monotonic() < deadline:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


def guard_descendants() -> None:
    """Until this process exits, every process it starts (and theirs) is SIGKILLed if it dies.

    On a normal exit the watchdog is stopped last (``atexit``), after the process's own
    clean-up (Prefect stops its temporary server at exit), and nothing else is touched.
    Calling it again, or in a process already guarded by its parent, does nothing.
    """
    if not Path("/proc/self/environ").exists() or TAG_ENV in os.environ:
        return  # not Linux, or this process tree is guarded already
    tag = uuid.uuid4().hex
    os.environ[TAG_ENV] = tag  # the watchdog carries it too, and spares itself
    watchdog = subprocess.Popen(
        [sys.executable, "-c", f"from flows.process_guard import watch; watch({os.getpid()}, {tag!r})"],
        cwd=str(Path(__file__).resolve().parent.parent), stdin=subprocess.DEVNULL,
    )
    atexit.register(watchdog.wait)
    atexit.register(watchdog.kill)
