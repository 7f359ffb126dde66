"""flows.input_refs: tasks get references and read the bytes themselves; same stream as iter_inputs."""

from __future__ import annotations

import pickle
import tarfile
import zipfile
from pathlib import Path

from flows.input_refs import ItemRef, identify, read_refs, read_units
from flows.pipeline import article_id_for
from flows.sources import iter_inputs
from parsers.article import RawArticle, Rejection


def story(n: int) -> bytes:
    words = " ".join(f"w{n}x{i}" for i in range(60))
    return f"Headline number {n}\n\nCITY \u2013 {words}.\n".encode()


def mixed_inputs(root: Path) -> Path:
    """Plain dumps in two outlets, a zip, a tar.gz, a JSONL export with a bad line, an empty file."""
    for i in range(5):
        (root / "wire").mkdir(parents=True, exist_ok=True)
        (root / "wire" / f"{i:02}.txt").write_bytes(story(i))
    (root / "herald").mkdir()
    (root / "herald" / "a.txt").write_bytes(story(10))
    (root / "herald" / "empty.txt").write_bytes(b"")
    with zipfile.ZipFile(root / "herald" / "bundle.zip", "w") as zf:
        for i in range(3):
            zf.writestr(f"day/{i}.txt", story(20 + i))
    with tarfile.open(root / "wire" / "old.tar.gz", "w:gz") as tf:
        for i in range(3):
            path = root / f"m{i}.txt"
            path.write_bytes(story(30 + i))
            tf.add(path, arcname=f"m{i}.txt")
            path.unlink()
    (root / "wire" / "feed.jsonl").write_text(
        '{"title": "One", "body": "first body text"}\nnot json\n{"title": "Two", "body": "second body"}\n')
    return root


def test_references_name_the_same_items_as_the_stream_and_read_back_the_same_bytes(tmp_path: Path):
    root = mixed_inputs(tmp_path / "drop")
    expected = list(iter_inputs([str(root)]))
    units = list(read_units([str(root)], None, files_per_unit=2))
    # plain files go two to a unit; archives and JSONL files are units of their own
    assert all(len(u) <= 2 for u in units) and any(u[0].path.endswith("bundle.zip") and len(u) == 1 for u in units)
    refs = [r for unit in units for r in identify(unit, None, 10 * 1024 * 1024)]
    assert len(refs) == len(expected) == 16
    for ref, item in zip(refs, expected):
        if isinstance(item, Rejection):
            assert ref == item
        else:
            assert isinstance(ref, ItemRef)
            assert (ref.source, ref.uri, ref.content_hash, ref.article_id) == (
                item.source, item.uri, item.content_hash, article_id_for(item))

    # a batch that takes some items of several files, in stream order
    wanted = [(r.article_id, r) for r in refs if isinstance(r, ItemRef)][1::2]
    raws, changed = read_refs(wanted, None, 10 * 1024 * 1024)
    assert changed == []
    by_id = {article_id_for(i): i for i in expected if isinstance(i, RawArticle)}
    assert [aid for aid, _ in raws] == [aid for aid, _ in wanted]
    assert all(raw == by_id[aid] for aid, raw in raws)
    # what travels into the task is names and ids: small next to the bytes it stands for
    assert len(pickle.dumps(wanted)) < 3 * sum(len(raw.payload) for _, raw in raws)


def test_a_file_changed_after_it_was_identified_is_rejected_not_stored_under_the_old_id(tmp_path: Path):
    root = tmp_path / "drop" / "wire"
    root.mkdir(parents=True)
    (root / "a.txt").write_bytes(story(1))
    (root / "b.txt").write_bytes(story(2))
    [unit] = list(read_units([str(root.parent)], None, files_per_unit=10))
    refs = [(r.article_id, r) for r in identify(unit, None, 1 << 20)]
    (root / "b.txt").write_bytes(story(3))
    raws, changed = read_refs(refs, None, 1 << 20)
    assert [raw.uri for _, raw in raws] == ["a.txt"]
    assert [(r.source_uri, r.reason) for r in changed] == [("b.txt", "unreadable")]
    assert "changed while the run read it" in changed[0].detail
