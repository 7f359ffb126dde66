"""bench/synthetic.py: deterministic, consistent truth, variants close and strangers far."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


synthetic = _load("synthetic")

_PUNCT = re.compile(r"[^\w\s]")


def shingles(text: str, k: int = 5) -> set[str]:
    """Plain word 5-gram shingling (lower-case, punctuation removed)."""
    w = _PUNCT.sub("", text.lower()).split()
    return {" ".join(w[i : i + k]) for i in range(len(w) - k + 1)}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def clean_body(path: Path) -> str:
    """The article body: from the dateline paragraph to the footer gap (headline, credit, footer out)."""
    blocks = path.read_text(encoding="utf-8").split("\n\n\n")[0].split("\n\n")
    first = next(i for i, b in enumerate(blocks) if re.match(r"^[A-Z][A-Z ,.a-z]*(\xa0| )?(\(AP\) )?[–—] ", b))
    return "\n\n".join(blocks[first:])


def tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("syn") / "dumps"
    stats = synthetic.generate(out, 400, seed=7, dup_rate=0.4)
    truth = [json.loads(line) for line in synthetic.truth_path(out).read_text().splitlines()]
    return out, stats, truth


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, generated):
    out, _, _ = generated
    again = tmp_path / "again"
    synthetic.generate(again, 400, seed=7, dup_rate=0.4)
    assert tree_digest(out) == tree_digest(again)
    other = tmp_path / "other"
    synthetic.generate(other, 400, seed=8, dup_rate=0.4)
    assert tree_digest(out) != tree_digest(other)


def test_truth_names_every_file_once_and_is_consistent(generated):
    out, stats, truth = generated
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.txt"))
    assert sorted(r["file"] for r in truth) == files and len(files) == 400 == stats["files"]
    kinds = Counter(r["kind"] for r in truth)
    assert kinds["original"] == stats["originals"] == stats["stories"] == len({r["story"] for r in truth})
    assert kinds["exact"] == stats["exact"] and kinds["variant"] == stats["variants"]
    assert 0.3 < (kinds["exact"] + kinds["variant"]) / 400 < 0.5
    by_file = {r["file"]: r for r in truth}
    for r in truth:
        if r["kind"] == "original":
            assert r["of"] is None and r["jaccard"] is None
        else:
            orig = by_file[r["of"]]
            assert orig["kind"] == "original" and orig["story"] == r["story"]
            assert truth.index(orig) < truth.index(r)  # copies come after their story
    # exact copies are byte-identical
    for r in truth:
        if r["kind"] == "exact":
            assert (out / r["file"]).read_bytes() == (out / r["of"]).read_bytes()
    # files are spread over outlet/chunk folders
    assert all(re.fullmatch(r"outlet-\d\d/\d{4}/\d{7}\.txt", f) for f in files)


def test_dump_layout_matches_the_seed(generated):
    out, _, truth = generated
    text = (out / truth[0]["file"]).read_text(encoding="utf-8")
    blocks = text.split("\n\n")
    assert blocks[0] and "\n" not in blocks[0]  # headline line
    body = clean_body(out / truth[0]["file"])
    paragraphs = body.split("\n\n")
    assert 8 <= len(paragraphs) <= 25
    assert re.match(r"^[A-Z ]+(\xa0| )–", paragraphs[0])
    assert text.split("\n\n\n")[1].strip()  # a footer after the gap


def test_variants_are_close_and_strangers_far(generated):
    out, _, truth = generated
    variants = [r for r in truth if r["kind"] == "variant"]
    assert variants
    high = 0
    for r in variants:
        j = jaccard(shingles(clean_body(out / r["file"])), shingles(clean_body(out / r["of"])))
        assert j == pytest.approx(r["jaccard"], abs=1e-3)
        high += j >= 0.8
    assert high / len(variants) >= 0.85
    originals = [r for r in truth if r["kind"] == "original"][:40]
    sets = [shingles(clean_body(out / r["file"])) for r in originals]
    assert max(jaccard(a, b) for i, a in enumerate(sets) for b in sets[i + 1 :]) < 0.05


def test_cli_writes_and_reports(tmp_path):
    mod = synthetic
    assert mod.main([str(tmp_path / "cli"), "--n", "20", "--seed", "1"]) == 0
    assert len((tmp_path / "cli.truth.jsonl").read_text().splitlines()) == 20
    # the answer key is beside the dumps: `newsdedup ingest cli/` must not read it as an export
    assert not any(p.suffix == ".jsonl" for p in (tmp_path / "cli").rglob("*"))


def test_baseline_finds_the_exact_copies(tmp_path):
    baseline = _load("baseline")
    out = tmp_path / "b"
    stats = synthetic.generate(out, 40, seed=2, dup_rate=0.5)
    r = baseline.run(out)
    assert r["articles"] == 40
    assert r["articles_with_candidates"] >= stats["exact"] > 0
