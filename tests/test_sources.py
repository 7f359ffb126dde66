"""flows.sources: real tiny files, directories and archives in tmp_path; no mocks."""

from __future__ import annotations

import gzip
import io
import json
import os
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path

import pytest

from flows.sources import count_inputs, iter_inputs
from parsers.article import RawArticle, Rejection, content_hash

SEED = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "000_46533de79367e8f6.txt"


def story(n: int) -> bytes:
    """A small dump whose words differ per n, so archives do not compress to nothing."""
    words = " ".join(f"w{n}x{i}" for i in range(60))
    return f"Headline number {n}\n\nCITY \u2013 {words}.\n".encode()


def ids(items) -> list[tuple[str, str, str]]:
    """(source, uri, kind-or-reason) for each item, in order."""
    out = []
    for it in items:
        if isinstance(it, RawArticle):
            out.append((it.source, it.uri, it.kind))
        else:
            out.append((it.source, it.source_uri, it.reason))
    return out


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# --- files, directories, globs ---------------------------------------------------------


def test_directory_is_walked_recursively_in_sorted_order_with_junk_skipped(tmp_path):
    root = tmp_path / "dumps"
    write(root / "b.txt", story(1))
    write(root / "a.txt", story(2))
    write(root / "wire" / "z.txt", story(3))
    write(root / "wire" / "2024" / "01.txt", story(4))
    write(root / "herald" / "x.txt", story(5))
    write(root / ".DS_Store", b"\x00\x01junk")
    write(root / ".git" / "HEAD", b"ref: refs/heads/main\n")
    write(root / "wire" / "._z.txt", b"mac resource fork")
    write(root / "README.md", b"# what these are\n")
    write(root / "wire" / "Thumbs.db", b"\x00")

    items = list(iter_inputs([str(root)]))

    assert ids(items) == [
        ("dumps", "a.txt", "dump"),
        ("dumps", "b.txt", "dump"),
        ("herald", "x.txt", "dump"),
        ("wire", "2024/01.txt", "dump"),
        ("wire", "z.txt", "dump"),
    ]
    assert items[0].payload == story(2)
    assert items[0].content_hash == content_hash(story(2))


def test_same_file_gets_same_names_however_it_is_named(tmp_path):
    root = tmp_path / "samples"
    f = write(root / "wire-desk" / "a.txt", story(1))
    via_root = ids(iter_inputs([str(root)]))
    via_outlet = ids(iter_inputs([str(root / "wire-desk")]))
    via_file = ids(iter_inputs([str(f)]))
    assert via_root == via_outlet == via_file == [("wire-desk", "a.txt", "dump")]


def test_source_argument_overrides_and_keeps_the_path_relative_to_the_root(tmp_path):
    root = tmp_path / "bbc"
    write(root / "politics" / "001.txt", story(1))
    assert ids(iter_inputs([str(root)], source="bbc")) == [("bbc", "politics/001.txt", "dump")]


def test_identities_are_stable_across_runs(tmp_path):
    root = tmp_path / "d"
    for i in range(5):
        write(root / f"s{i % 2}" / f"{i}.txt", story(i))
    first = [(i.source, i.uri, i.content_hash) for i in iter_inputs([str(root)])]
    second = [(i.source, i.uri, i.content_hash) for i in iter_inputs([str(root)])]
    assert first == second and len(first) == 5


def test_glob_patterns_and_overlapping_arguments(tmp_path):
    root = tmp_path / "dumps"
    write(root / "a.txt", story(1))
    write(root / "b.md", story(2))
    write(root / "sub" / "c.txt", story(3))
    write(root / "sub" / ".hidden.txt", story(4))

    assert ids(iter_inputs([str(root / "*.txt")])) == [("dumps", "a.txt", "dump")]
    assert ids(iter_inputs([str(root / "**" / "*.txt")])) == [
        ("dumps", "a.txt", "dump"),
        ("sub", "c.txt", "dump"),
    ]
    # `**` matches the directories and the files: each file is still read once.
    assert len(list(iter_inputs([str(root / "**")]))) == 3
    assert len(list(iter_inputs([str(root), str(root / "sub")]))) == 3


def test_missing_path_raises_before_anything_is_yielded(tmp_path):
    good = write(tmp_path / "d" / "a.txt", story(1))
    with pytest.raises(FileNotFoundError, match="nope"):
        iter_inputs([str(good), str(tmp_path / "nope")])
    with pytest.raises(FileNotFoundError, match="no file matches"):
        iter_inputs([str(tmp_path / "d" / "*.json")])
    with pytest.raises(FileNotFoundError):
        count_inputs([str(tmp_path / "nope")])


def test_file_over_the_cap_is_refused_without_reading(tmp_path):
    root = tmp_path / "d"
    write(root / "big.txt", b"x" * 2000)
    write(root / "ok.txt", story(1))
    items = list(iter_inputs([str(root)], max_bytes=1000))
    assert ids(items) == [("d", "big.txt", "too_large"), ("d", "ok.txt", "dump")]
    assert "2,000 bytes" in items[0].detail and items[0].content_hash is None


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_is_a_rejection(tmp_path):
    root = tmp_path / "d"
    locked = write(root / "locked.txt", story(1))
    write(root / "ok.txt", story(2))
    locked.chmod(0)
    try:
        assert ids(iter_inputs([str(root)])) == [("d", "locked.txt", "unreadable"), ("d", "ok.txt", "dump")]
    finally:
        locked.chmod(stat.S_IRUSR | stat.S_IWUSR)


def test_fifo_and_vanished_files_are_unreadable_not_fatal(tmp_path):
    root = tmp_path / "d"
    write(root / "a.txt", story(1))
    gone = write(root / "b.txt", story(2))
    os.mkfifo(root / "c.fifo")
    it = iter_inputs([str(root)])
    first = next(it)
    gone.unlink()  # vanishes between listing and reading
    rest = list(it)
    assert ids([first, *rest]) == [
        ("d", "a.txt", "dump"),
        ("d", "b.txt", "unreadable"),
        ("d", "c.fifo", "unreadable"),
    ]
    assert "not a regular file" in rest[1].detail


def test_seed_is_read_byte_for_byte():
    (item,) = iter_inputs([str(SEED)])
    assert item.source == "seeds" and item.uri == SEED.name
    assert item.payload == SEED.read_bytes()


# --- archives ------------------------------------------------------------------------------


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_zip_members_are_streamed_with_archive_identities(tmp_path):
    root = tmp_path / "in"
    root.mkdir()
    make_zip(root / "bundle.zip", {"dir/one.txt": story(1), "two.txt": story(2), "__MACOSX/._two.txt": b"x"})
    items = list(iter_inputs([str(root)]))
    assert ids(items) == [("in", "bundle.zip!dir/one.txt", "dump"), ("in", "bundle.zip!two.txt", "dump")]
    assert items[1].payload == story(2)
    assert count_inputs([str(root)]) == 2


def test_zip_unsafe_members_are_refused_and_good_members_still_yield(tmp_path):
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("good1.txt", story(1))
        zf.writestr("../escape.txt", story(2))
        zf.writestr("/etc/abs.txt", story(3))
        link = zipfile.ZipInfo("link.txt")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
        fifo = zipfile.ZipInfo("pipe")
        fifo.create_system = 3
        fifo.external_attr = (stat.S_IFIFO | 0o644) << 16
        zf.writestr(fifo, "")
        plain = zipfile.ZipInfo("perm-bits-only.txt")
        plain.create_system = 3
        plain.external_attr = 0o644 << 16  # no file-type bits: an ordinary file
        zf.writestr(plain, story(4))
        zf.writestr("inner.zip", b"PK\x03\x04")
    got = ids(iter_inputs([str(path)]))
    src = tmp_path.name
    assert got == [
        (src, "evil.zip!good1.txt", "dump"),
        (src, "evil.zip!../escape.txt", "unsafe_member"),
        (src, "evil.zip!etc/abs.txt", "unsafe_member"),
        (src, "evil.zip!link.txt", "unsafe_member"),
        (src, "evil.zip!pipe", "unsafe_member"),
        (src, "evil.zip!perm-bits-only.txt", "dump"),
        (src, "evil.zip!inner.zip", "unsafe_member"),
    ]


def test_corrupt_and_truncated_zip_are_bad_archives(tmp_path):
    root = tmp_path / "z"
    root.mkdir()
    good = make_zip(tmp_path / "good.zip", {"a.txt": story(1), "b.txt": story(2)})
    write(root / "cut.zip", good.read_bytes()[:-30])  # central directory cut off
    write(root / "junk.zip", b"this is not a zip file at all")
    write(root / "zz.txt", story(3))
    got = ids(iter_inputs([str(root)]))
    assert got == [("z", "cut.zip", "bad_archive"), ("z", "junk.zip", "bad_archive"), ("z", "zz.txt", "dump")]


def test_zip_member_with_bad_crc_is_refused_alone(tmp_path):
    path = make_zip(tmp_path / "crc.zip", {"a.txt": story(1), "b.txt": story(2)})
    data = bytearray(path.read_bytes())
    # Flip a byte inside the first member's compressed data.
    data[30 + len("a.txt") + 5] ^= 0xFF
    path.write_bytes(bytes(data))
    got = ids(iter_inputs([str(path)]))
    assert got[0][2] == "bad_archive" and got[1] == (tmp_path.name, "crc.zip!b.txt", "dump")


def test_zip_bomb_guards(tmp_path):
    bomb = make_zip(tmp_path / "bomb.zip", {"zeros.txt": b"\0" * (4 * 1024 * 1024), "ok.txt": story(1)})
    got = list(iter_inputs([str(bomb)]))
    assert ids(got)[0][2] == "too_large" and "ratio" in got[0].detail
    assert ids(got)[1][2] == "dump"
    # A member over max_bytes is refused from its declared size.
    got = ids(iter_inputs([str(bomb)], max_bytes=1000))
    assert got[0][2] == "too_large" and got[1][2] == "dump"
    # The whole archive may not expand past max_archive_bytes.
    many = make_zip(tmp_path / "many.zip", {f"{i}.txt": story(i) for i in range(5)})
    size = len(story(1))
    got = ids(iter_inputs([str(many)], max_archive_bytes=size * 2 + 5))
    assert [g[2] for g in got] == ["dump", "dump", "bad_archive"]


def test_zip_member_lying_about_its_size_is_capped(tmp_path):
    path = make_zip(tmp_path / "liar.zip", {"a.txt": b"y" * 5000})
    data = path.read_bytes()
    # Patch the declared uncompressed size (local header and central directory) to 10.
    cd = data.rindex(b"PK\x01\x02")
    patched = bytearray(data)
    patched[22:26] = (10).to_bytes(4, "little")
    patched[cd + 24 : cd + 28] = (10).to_bytes(4, "little")
    path.write_bytes(bytes(patched))
    (item,) = iter_inputs([str(path)], max_bytes=100)
    # zipfile never hands out more than the declared 10 bytes, and the CRC then fails.
    assert isinstance(item, Rejection) and item.reason == "bad_archive"


def make_tar(path: Path, members: list[tuple[str, bytes | tarfile.TarInfo]], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tf:
        for name, data in members:
            if isinstance(data, tarfile.TarInfo):
                tf.addfile(data)
            else:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return path


def special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


@pytest.mark.parametrize("suffix,mode", [(".tar", "w"), (".tar.gz", "w:gz"), (".tgz", "w:gz")])
def test_tar_members_are_streamed(tmp_path, suffix, mode):
    path = make_tar(tmp_path / f"dump{suffix}", [("a/1.txt", story(1)), ("b.txt", story(2))], mode)
    items = list(iter_inputs([str(path)]))
    name = path.name
    assert ids(items) == [(tmp_path.name, f"{name}!a/1.txt", "dump"), (tmp_path.name, f"{name}!b.txt", "dump")]
    assert items[0].payload == story(1)


def test_tar_unsafe_members_are_refused_and_good_members_still_yield(tmp_path):
    path = make_tar(
        tmp_path / "evil.tar.gz",
        [
            ("ok1.txt", story(1)),
            ("../../etc/cron.d/x", story(2)),
            ("/abs.txt", story(3)),
            ("sym", special("sym", tarfile.SYMTYPE, "/etc/passwd")),
            ("hard", special("hard", tarfile.LNKTYPE, "ok1.txt")),
            ("dev", special("dev", tarfile.CHRTYPE)),
            ("fifo", special("fifo", tarfile.FIFOTYPE)),
            ("ok2.txt", story(4)),
        ],
    )
    got = [(u.split("!")[1], k) for _, u, k in ids(iter_inputs([str(path)]))]
    assert got == [
        ("ok1.txt", "dump"),
        ("../../etc/cron.d/x", "unsafe_member"),
        ("abs.txt", "unsafe_member"),
        ("sym", "unsafe_member"),
        ("hard", "unsafe_member"),
        ("dev", "unsafe_member"),
        ("fifo", "unsafe_member"),
        ("ok2.txt", "dump"),
    ]


def test_truncated_tar_gz_yields_members_before_the_damage(tmp_path):
    members = [(f"{i}.txt", story(i) * 20) for i in range(6)]
    path = make_tar(tmp_path / "full.tgz", members)
    data = path.read_bytes()
    cut = write(tmp_path / "cut" / "cut.tgz", data[: len(data) * 2 // 3])
    got = ids(iter_inputs([str(cut)]))
    dumps = [g for g in got if g[2] == "dump"]
    assert 1 <= len(dumps) < 6
    assert got[: len(dumps)] == [("cut", f"cut.tgz!{i}.txt", "dump") for i in range(len(dumps))]
    assert got[-1][2] == "bad_archive" and len(got) == len(dumps) + 1
    assert count_inputs([str(cut)]) is None


def test_not_a_tar_is_a_bad_archive(tmp_path):
    path = write(tmp_path / "t" / "junk.tar.gz", b"\x1f\x8b\x08\x00garbage-after-gzip-magic")
    assert ids(iter_inputs([str(path)])) == [("t", "junk.tar.gz", "bad_archive")]
    # cut inside the gzip header: tarfile raised TypeError (found by the fuzzer)
    cut = write(tmp_path / "t" / "cut.tgz", b"\x1f\x8b\x08")
    assert ids(iter_inputs([str(cut)])) == [("t", "cut.tgz", "bad_archive")]


def test_tar_gz_damaged_after_its_last_member_is_a_bad_archive(tmp_path):
    # the member reads whole; the deflate data after the end-of-archive blocks is garbage:
    # tarfile.ReadError escaped iter_inputs (found by the fuzzer)
    import random

    tar = make_tar(tmp_path / "plain.tar", [("a.txt", story(1))], mode="w").read_bytes()
    end = 512 + (len(story(1)) + 511) // 512 * 512 + 1024  # header, data, the two end blocks
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    padding = random.Random(0).randbytes(40_000)  # past tarfile's read-ahead
    deflate = comp.compress(tar[:end]) + comp.compress(padding) + comp.flush(zlib.Z_FULL_FLUSH) + b"\xff" * 64
    path = write(tmp_path / "t" / "damaged.tgz", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + deflate)
    got = ids(iter_inputs([str(path)]))
    assert got[0] == ("t", "damaged.tgz!a.txt", "dump") and got[1] == ("t", "damaged.tgz", "bad_archive")


def test_tar_member_over_the_cap_and_archive_expansion_cap(tmp_path):
    path = make_tar(tmp_path / "big.tar", [("big.txt", b"z" * 3000), ("ok.txt", story(1))], mode="w")
    got = ids(iter_inputs([str(path)], max_bytes=2000))
    assert [g[2] for g in got] == ["too_large", "dump"]
    got = ids(iter_inputs([str(path)], max_archive_bytes=3200))
    assert [g[2] for g in got] == ["dump", "bad_archive"]


# --- JSONL -------------------------------------------------------------------------------


def test_jsonl_good_and_bad_lines(tmp_path):
    lines = [
        json.dumps({"title": "One", "body": "Body one.", "url": "https://ex.com/1", "source": "Wire"}),
        json.dumps({"title": "Two", "text": "Body two.", "published": "2024-05-01"}),
        "",
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"title": "No body"}),
        json.dumps({"title": 5, "body": "x"}),
        json.dumps({"title": "Three", "body": "Body three."}),
    ]
    path = write(tmp_path / "feeds" / "export.jsonl", ("\n".join(lines) + "\n").encode())
    items = list(iter_inputs([str(path)]))
    assert ids(items) == [
        ("Wire", "https://ex.com/1", "record"),
        ("feeds", "export.jsonl#L2", "record"),
        ("feeds", "export.jsonl#L4", "malformed_jsonl"),
        ("feeds", "export.jsonl#L5", "malformed_jsonl"),
        ("feeds", "export.jsonl#L6", "malformed_jsonl"),
        ("feeds", "export.jsonl#L7", "malformed_jsonl"),
        ("feeds", "export.jsonl#L8", "record"),
    ]
    assert items[1].fields == {"title": "Two", "text": "Body two.", "published": "2024-05-01"}
    assert items[1].payload == lines[1].encode()
    assert items[2].detail.startswith("line 4: invalid JSON")
    assert items[2].content_hash == content_hash(b"{not json")
    assert "'title'" in items[5].detail
    # The source argument beats the line's own source field.
    assert next(iter_inputs([str(path)], source="mine")).source == "mine"
    assert count_inputs([str(path)]) == 8


@pytest.mark.parametrize("content", [b"", b"\n  \n\n"])
def test_jsonl_with_no_line_is_rejected_as_empty(tmp_path, content):
    """An empty .txt is rejected as `empty`; an empty or blank .jsonl was skipped without a trace."""
    path = write(tmp_path / "feeds" / "export.jsonl", content)
    items = list(iter_inputs([str(path)]))
    assert ids(items) == [("feeds", "export.jsonl", "empty")]
    assert list(iter_inputs([str(path)])) == items  # the same identity every run: recorded once


def test_jsonl_lone_surrogate_escapes_are_malformed(tmp_path):
    # json.loads turns "\ud800" into a lone surrogate that no DuckDB write can hold; the html
    # field crashed the source with UnicodeEncodeError (found by the fuzzer)
    lines = [json.dumps({"title": "T\ud800", "body": "Body."}), json.dumps({"html": "<p>\udfff</p>", "url": "https://a/b"}),
             json.dumps({"body": "Body.", "url": "https://a/\ud800"})]
    path = write(tmp_path / "feeds" / "export.jsonl", "\n".join(lines).encode())
    items = list(iter_inputs([str(path)]))
    assert [i.reason for i in items] == ["malformed_jsonl"] * 3
    assert all("lone surrogate" in i.detail for i in items)
    assert [i.source_uri for i in items] == [f"export.jsonl#L{n}" for n in (1, 2, 3)]


def test_jsonl_gz_crlf_bom_and_long_lines(tmp_path):
    rec = {"title": "T", "body": "B " * 10}
    raw = b"\xef\xbb\xbf" + json.dumps(rec).encode() + b"\r\n" + b'{"body": "' + b"x" * 500 + b'"}\n'
    raw += json.dumps(rec).encode()  # no final newline
    path = tmp_path / "x" / "e.ndjson.gz"
    path.parent.mkdir()
    path.write_bytes(gzip.compress(raw))
    items = list(iter_inputs([str(path)], max_bytes=200))
    assert ids(items) == [
        ("x", "e.ndjson.gz#L1", "record"),
        ("x", "e.ndjson.gz#L2", "too_large"),
        ("x", "e.ndjson.gz#L3", "record"),
    ]
    assert items[0].fields == rec and not items[0].payload.endswith(b"\r")


def test_jsonl_inside_a_zip(tmp_path):
    body = json.dumps({"title": "T", "body": "Body."}).encode()
    path = make_zip(tmp_path / "b.zip", {"feed.jsonl": body + b"\n" + b"[]\n"})
    assert [u for _, u, _ in ids(iter_inputs([str(path)]))] == ["b.zip!feed.jsonl#L1", "b.zip!feed.jsonl#L2"]


def test_zip_whose_utf8_member_name_is_not_utf8_is_counted_and_refused(tmp_path):
    # zipfile raises UnicodeDecodeError opening it; count_inputs (the CLI's progress bar) let it
    # escape and the ingest command crashed (found by the fuzzer)
    data = bytearray(make_zip(tmp_path / "ok.zip", {"caf\u00e9.txt": story(1)}).read_bytes())
    at = data.rfind("caf\u00e9".encode())  # the central directory's copy of the name
    data[at + 4] = 0xFF  # 0xC3 0xA9 -> 0xC3 0xFF: invalid UTF-8
    path = write(tmp_path / "t" / "badname.zip", bytes(data))
    assert count_inputs([str(path)]) == 1
    assert ids(iter_inputs([str(path)])) == [("t", "badname.zip", "bad_archive")]


def test_count_inputs_counts_files_and_zip_members(tmp_path):
    root = tmp_path / "c"
    for i in range(3):
        write(root / f"{i}.txt", story(i))
    make_zip(root / "z.zip", {"a.txt": story(5), "b.txt": story(6)})
    assert count_inputs([str(root)]) == 5 == len(list(iter_inputs([str(root)])))


def test_symlinks_dangling_is_unreadable_and_linked_dirs_are_not_followed(tmp_path):
    root = tmp_path / "d"
    write(root / "a.txt", story(1))
    (root / "b.txt").symlink_to(tmp_path / "gone.txt")
    (root / "loop").symlink_to(root)  # a directory link back to the root: never walked
    target = write(tmp_path / "elsewhere" / "c.txt", story(3))
    (root / "c.txt").symlink_to(target)  # a linked file is read
    got = list(iter_inputs([str(root)]))
    assert ids(got)[:3] == [("d", "a.txt", "dump"), ("d", "b.txt", "unreadable"), ("d", "c.txt", "dump")]
    assert got[2].payload == story(3)
    assert len(got) == 3


def _tar_of(tmp_path, n: int, mode: str) -> bytes:
    import io
    import tarfile as _tarfile

    buf = io.BytesIO()
    with _tarfile.open(fileobj=buf, mode=mode) as tf:
        for i in range(n):
            data = (f"Headline {i}\n\n" + " ".join([f"word{i}"] * 200)).encode()
            info = _tarfile.TarInfo(f"a{i:02d}.txt")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_tar_gz_cut_between_members_is_rejected_not_silently_short(tmp_path):
    data = _tar_of(tmp_path, 20, "w:gz")
    for cut in (0.9, 0.97):
        path = tmp_path / f"cut{cut}.tar.gz"
        path.write_bytes(data[: int(len(data) * cut)])
        items = list(iter_inputs([str(path)]))
        rejected = [i for i in items if isinstance(i, Rejection)]
        assert [r.reason for r in rejected] == ["bad_archive"], items
        assert sum(isinstance(i, RawArticle) for i in items) <= 20  # the members before the cut still come


def test_plain_tar_cut_exactly_at_a_member_boundary_is_rejected(tmp_path):
    import io
    import tarfile as _tarfile

    data = _tar_of(tmp_path, 20, "w")
    with _tarfile.open(fileobj=io.BytesIO(data)) as tf:
        boundary = tf.getmembers()[10].offset
    path = tmp_path / "boundary.tar"
    path.write_bytes(data[:boundary])
    items = list(iter_inputs([str(path)]))
    assert sum(isinstance(i, RawArticle) for i in items) == 10
    assert [i.reason for i in items if isinstance(i, Rejection)] == ["bad_archive"]
    whole = tmp_path / "whole.tar"
    whole.write_bytes(data)
    assert all(isinstance(i, RawArticle) for i in iter_inputs([str(whole)]))
