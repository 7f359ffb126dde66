"""Shared fixtures: small, real dumps written to a temporary directory."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "fixtures" / "seed_dump.txt"

_WORDS = (
    "minister council harbour vote budget river court school energy police market strike "
    "union farmers railway bridge hospital election mayor senate treaty border drought "
    "festival museum research vaccine factory exports tariff pension housing rents storm "
    "coast island village province capital airport tunnel station bank inflation workers "
    "teachers nurses judges officials protest report inquiry contract license reform plan"
).split()


def prose(seed: int, paragraphs: int = 10, words: int = 45) -> list[str]:
    """Deterministic news-like paragraphs; different seeds give unrelated text (Jaccard ~ 0)."""
    rng = random.Random(seed)
    out = []
    for _ in range(paragraphs):
        ws = [rng.choice(_WORDS) + (str(rng.randrange(100)) if rng.random() < 0.3 else "") for _ in range(words)]
        ws[0] = ws[0].capitalize()
        out.append(" ".join(ws) + ".")
    return out


def dump(title: str, paragraphs: list[str], extra_top: list[str] = (), extra_bottom: list[str] = ()) -> bytes:
    lines = [title, *extra_top, *paragraphs, *extra_bottom]
    return ("\n\n".join(lines) + "\n").encode("utf-8")


@pytest.fixture
def seed_bytes() -> bytes:
    return SEED.read_bytes()


@pytest.fixture
def dump_dir(tmp_path: Path, seed_bytes: bytes) -> Path:
    """A small drop directory: two outlets, an exact copy, an edited copy, an unrelated story, bad files."""
    root = tmp_path / "drop"
    (root / "breitbart").mkdir(parents=True)
    (root / "mirror").mkdir()
    (root / "bad").mkdir()
    (root / "breitbart" / "hamas.txt").write_bytes(seed_bytes)
    (root / "mirror" / "hamas-copy.txt").write_bytes(seed_bytes)
    text = seed_bytes.decode("utf-8")
    paras = [p for p in text.split("\n\n") if p.strip()]
    # syndicated edit: new headline, last body paragraph trimmed, a different credit and footer
    edited = ["Hamas pays Islamic State to move weapons into Gaza, sources say", "(AP Photo/Evan Vucci)", *paras[2:-2], "Join the discussion"]
    (root / "mirror" / "hamas-edit.txt").write_bytes(("\n\n".join(edited) + "\n").encode("utf-8"))
    (root / "mirror" / "council.txt").write_bytes(dump("Council approves harbour budget", prose(1)))
    (root / "bad" / "empty.txt").write_bytes(b"")
    (root / "bad" / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    return root


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory):
    """One real Prefect server (random port, temporary home) with prefect.yaml deployed and a worker,
    shared by every test that asks for it (see tests/prefect_server.py)."""
    from tests.prefect_server import deployed_server

    with deployed_server(tmp_path_factory.mktemp("prefect-home")) as server:
        yield server
