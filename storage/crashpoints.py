"""Named points at which a process can be told to die, for crash-consistency tests.

``crashpoint("batch_write.before_commit")`` does nothing unless ``$NEWSDEDUP_CRASH_AT``
names that point, as ``name`` (the first time it is reached) or ``name:N`` (the N-th time);
then the process sends itself SIGKILL there: no ``finally``, no ``atexit``, no flush, the same
as a power cut or the OOM killer from the store's point of view. ``bench/crash_harness.py``
kills runs at these points and checks that a re-run gives the database of an uninterrupted run.

``$NEWSDEDUP_CRASH_TRACE=FILE`` appends the name of every point reached to FILE (one
unbuffered write each, so the last line survives a kill): which points a run passes, how
often, and where a run killed from outside was.

Both variables are read once, at import; unset, a point costs one function call and one
comparison. Points in the code (grep ``crashpoint(``):

- ``run.after_start``: the run row is written, no batch yet (``flows/pipeline.py``).
- ``batch_write.after_articles`` / ``.after_details`` / ``.after_links`` / ``.before_commit``:
  inside a batch's transaction (``storage/batch.py``).
- ``batch_write.after_commit``: the batch is committed, the snapshot and the next batch not yet.
- ``learned_rewrite.after_bodies``: stored articles got their stripped bodies and lost their
  old band keys; old signatures still there, new ones not written (same transaction).
- ``cluster_merge.after_move``: absorbed clusters' articles moved, the merge not recorded and
  canonical flags not recomputed (same transaction).
- ``migration.v<N>.before_statement``: migration N is under way (``:K``: its first K-1
  statements ran), its ``schema_migrations`` row not written (``storage/migrations.py``).
- ``snapshot.before_replace``: the snapshot copy is written, not yet renamed (``storage/snapshot.py``).
- ``run.before_finish``: every batch is committed, the run row not finished yet.
"""

from __future__ import annotations

import os
import signal

ENV = "NEWSDEDUP_CRASH_AT"
TRACE_ENV = "NEWSDEDUP_CRASH_TRACE"


def parse_target(value: str) -> tuple[str, int] | None:
    """``"name"`` -> ``("name", 1)``, ``"name:3"`` -> ``("name", 3)``, empty -> None.

    Raises:
        ValueError: the count is not a positive integer.
    """
    value = value.strip()
    if not value:
        return None
    name, _, count = value.partition(":")
    hit = int(count) if count else 1
    if hit < 1:
        raise ValueError(f"{ENV}={value!r}: the hit count must be >= 1")
    return name, hit


_TARGET = parse_target(os.environ.get(ENV, ""))
_TRACE = os.environ.get(TRACE_ENV) or None
_ARMED = _TARGET is not None or _TRACE is not None
_hits = 0


def crashpoint(name: str) -> None:
    """Die here with SIGKILL if ``$NEWSDEDUP_CRASH_AT`` names this point (and this hit)."""
    if _ARMED:
        _reached(name)


def _reached(name: str) -> None:
    global _hits
    if _TRACE is not None:
        fd = os.open(_TRACE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{os.getpid()} {name}\n".encode())
        finally:
            os.close(fd)
    if _TARGET is not None and name == _TARGET[0]:
        _hits += 1
        if _hits == _TARGET[1]:
            os.kill(os.getpid(), signal.SIGKILL)
