"""Input sources: generators of raw articles from files, directories, globs, archives and JSONL.

This is the I/O edge of the pipeline. It reads bytes and never parses article text; every
input that cannot become a :class:`RawArticle` becomes a :class:`Rejection` *in the stream*
(bad data never stops a run). Only a path that does not exist raises, before anything is
yielded, because that is a user error.

Input kinds, dispatched on the file name (case-insensitive):

================================  ===========================================  ==========================
name                              yields                                       ``uri`` (identity)
================================  ===========================================  ==========================
``*.zip``                         one dump per member, streamed from the zip    ``bundle.zip!dir/m.txt``
``*.tar``, ``*.tar.gz``, ``*.tgz``  one dump per member, ``tarfile`` mode ``r|*``  ``dump.tgz!dir/m.txt``
(also ``.tar.bz2``/``.tar.xz``)
``*.jsonl``, ``*.ndjson`` (+.gz)   one ``kind="record"`` per non-blank line       record ``url``, else
                                  (``kind="html"`` for a line with ``html``)   ``export.jsonl#L12``
``*.html``, ``*.htm``             ``kind="html"``, payload = the file bytes    ``politics/001.html``
``*.warc``, ``*.warc.gz``         ``kind="html"`` per HTML response record     the record's target URL
                                  (warcio; other records skipped)
anything else                     ``kind="dump"``, payload = the file bytes      ``politics/001.txt``
================================  ===========================================  ==========================

A JSONL file inside an archive is read as records too (``bundle.zip!feed.jsonl#L3``), an
HTML member as a page. Nested archives (WARC included) are not expanded (refused as
``unsafe_member``).

HTML items carry ``fields`` with ``url`` and ``final_url`` where known (a WARC record's
target URI, a JSONL line's ``url``/``final_url``). A WARC yields only ``response`` records
with status 200 and an HTML content type (request, metadata, image and redirect records are
a crawl's plumbing, skipped silently); a truncated or corrupt WARC ends as ``bad_archive``
after the records read so far.

Source names and identities
---------------------------
Each path argument has a *root*: a directory given → itself; a file given → its parent;
a glob → its directory part before the first wildcard (``dumps/*.txt`` → ``dumps``).
For every file found, ``rel`` is its path relative to that root. Then:

* ``source`` argument given → ``source`` = it, ``uri`` = ``rel`` (``politics/001.txt``);
* else, the file sits in a subdirectory of the root → ``source`` = that first-level
  subdirectory's name and ``uri`` = the rest of ``rel`` (``ingest samples/`` reads
  ``samples/wire-desk/a.txt`` as source ``wire-desk``, uri ``a.txt``), so one folder per
  outlet gives one source per outlet, which is what per-source learned boilerplate needs;
* else (the file sits directly in the root) → ``source`` = the root directory's name.

The rule makes ``ingest samples/``, ``ingest samples/wire-desk`` and
``ingest samples/wire-desk/a.txt`` agree on ``(wire-desk, a.txt)``. Deeper trees name the
source after the first level under the root given, so always ingest a tree from the same
root (or pass ``source``). For JSONL records the order is: ``source`` argument, else the
line's own ``source`` field, else the rule above.

Order is deterministic: path arguments in the order given, directory entries sorted by
name (a directory's files and subdirectories interleaved by name), glob matches sorted,
archive members in archive order, JSONL lines in file order. A file reached twice (two
overlapping arguments) is read once.

Skipped silently while walking (an explicitly named file is always read): hidden files and
directories (``.DS_Store``, ``.git``), ``__MACOSX``, ``Thumbs.db``, ``desktop.ini``, editor
backups (``*~``, ``*.swp``), ``README``/``LICENSE`` files, and symlinked directories (never
followed: no loops); symlinked files are read.

Rejection reasons: ``too_large`` (file, member or line over ``max_bytes``; member
compression ratio over ``max_ratio``), ``unreadable`` (permissions, vanished, not a regular
file), ``unsafe_member`` (absolute path, ``..``, link, device, fifo, nested archive),
``bad_archive`` (corrupt or truncated archive, encrypted member, expansion over
``max_archive_bytes``), ``malformed_jsonl`` (bad JSON, not an object, no ``body``/``text``,
a field of the wrong type or holding a lone surrogate escape; ``detail`` names the line).
"""

from __future__ import annotations

import glob
import gzip
import json
import os
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from parsers.article import RawArticle, Rejection, content_hash
from parsers.normalize import LONE_SURROGATE

MAX_BYTES = 10 * 1024 * 1024
MAX_ARCHIVE_BYTES = 1024 * 1024 * 1024
MAX_RATIO = 100
# Small members may legitimately compress very well (a short file of spaces); the ratio
# guard only matters where the expanded size could hurt.
_RATIO_MIN_BYTES = 1024 * 1024
_READ_CHUNK = 1024 * 1024
# What opening a damaged zip raises (ValueError covers a UnicodeDecodeError on a member name
# flagged UTF-8 that is not)
_ZIP_OPEN_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError)

_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
_JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")
_WARC_SUFFIXES = (".warc", ".warc.gz")
_HTML_SUFFIXES = (".html", ".htm")
_HTML_MEDIA = ("text/html", "application/xhtml+xml")
_JUNK_NAMES = {"thumbs.db", "desktop.ini", "__macosx", "icon\r"}
_DOC_STEMS = {"readme", "license", "licence", "copying", "changelog"}
_GLOB_MAGIC = ("*", "?", "[")

# JSONL fields that must be strings when present (``published`` may also be a number).
_RECORD_STR_FIELDS = ("title", "body", "text", "url", "source", "html", "final_url")


def container_kind(name: str) -> str | None:
    """'zip', 'tar', 'jsonl' or 'warc' for a file name that holds many articles, else None."""
    kind = _kind_of(name)
    return kind if kind in ("zip", "tar", "jsonl", "warc") else None


def _kind_of(name: str) -> str:
    low = name.lower()
    if low.endswith(".zip"):
        return "zip"
    if low.endswith(_TAR_SUFFIXES):
        return "tar"
    if low.endswith(_JSONL_SUFFIXES):
        return "jsonl"
    if low.endswith(_WARC_SUFFIXES):
        return "warc"
    if low.endswith(_HTML_SUFFIXES):
        return "html"
    return "dump"


def _is_junk(name: str) -> bool:
    """True for names that are never articles: hidden, OS/editor droppings, README/LICENSE."""
    low = name.lower()
    if not low or low.startswith(".") or low in _JUNK_NAMES:
        return True
    if low.endswith(("~", ".swp", ".swo")):
        return True
    return low.split(".", 1)[0] in _DOC_STEMS


@dataclass(frozen=True, slots=True)
class _Found:
    """One file found under a path argument, with the names it will carry."""

    path: str
    source: str
    uri: str


@dataclass(frozen=True, slots=True)
class _Limits:
    max_bytes: int
    max_archive_bytes: int
    max_ratio: float


# ---------------------------------------------------------------------------------------
# Finding files


def _has_magic(path: str) -> bool:
    return any(c in path for c in _GLOB_MAGIC)


def _glob_root(pattern: str) -> str:
    """The directory part of a glob before its first wildcard component."""
    parts = Path(pattern).parts
    fixed: list[str] = []
    for part in parts:
        if _has_magic(part):
            break
        fixed.append(part)
    return str(Path(*fixed)) if fixed else "."


def _dir_name(root: str) -> str:
    name = Path(os.path.abspath(root)).name
    return name or "local"


def _names_for(rel: tuple[str, ...], root: str, source: str | None) -> tuple[str, str]:
    """(source, uri) for a file at relative path parts ``rel`` under ``root`` (module docstring)."""
    if source is not None:
        return source, "/".join(rel)
    if len(rel) >= 2:
        return rel[0], "/".join(rel[1:])
    return _dir_name(root), "/".join(rel)


def _walk(directory: str, rel: tuple[str, ...] = ()) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(path, relative parts) of the files under ``directory``, recursively, sorted by name.

    Junk is skipped. Symlinked directories are not followed (no loops); symlinked files are
    read. An unreadable directory is skipped silently: its files cannot even be named.
    """
    try:
        with os.scandir(directory) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if _is_junk(entry.name):
            continue
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            is_dir = False
        if is_dir:
            yield from _walk(entry.path, (*rel, entry.name))
        elif entry.is_symlink() and os.path.isdir(entry.path):
            continue  # a linked directory: not followed, and not a file either
        else:
            yield entry.path, (*rel, entry.name)


def _rel_parts(path: str, root: str) -> tuple[str, ...]:
    return tuple(p for p in os.path.relpath(path, root).replace(os.sep, "/").split("/") if p not in ("", "."))


def _expand(path: str, source: str | None) -> Iterator[_Found]:
    """Every file a path argument names, with its source and uri, in a stable order."""
    if _has_magic(path) and not os.path.exists(path):
        root = _glob_root(path)
        for match in sorted(glob.glob(path, recursive=True)):
            base = _rel_parts(match, root)
            if os.path.isdir(match):
                for f, rel in _walk(match):
                    yield _Found(f, *_names_for((*base, *rel), root, source))
            elif not _is_junk(os.path.basename(match)):
                yield _Found(match, *_names_for(base, root, source))
    elif os.path.isdir(path):
        for f, rel in _walk(path):
            yield _Found(f, *_names_for(rel, path, source))
    else:
        root = os.path.dirname(path) or "."
        yield _Found(path, *_names_for((os.path.basename(path),), root, source))


def _check_paths(paths: list[str]) -> None:
    """Raise ``FileNotFoundError`` for the first path that names nothing."""
    if isinstance(paths, (str, bytes, os.PathLike)):
        raise TypeError("paths must be a list of paths, not a single path")
    for p in paths:
        p = os.fspath(p)
        if os.path.exists(p) or os.path.islink(p):
            continue
        if _has_magic(p) and glob.glob(p, recursive=True):
            continue
        what = "no file matches the pattern" if _has_magic(p) else "no such file or directory"
        raise FileNotFoundError(f"input path {p!r}: {what}")


def _found_files(paths: list[str], source: str | None) -> Iterator[_Found]:
    # Overlapping arguments (``samples/ samples/wire-desk``, or ``**`` globs matching a
    # directory and its files) must not read a file twice. A single plain argument cannot
    # overlap itself, so the memory for the seen-set is only spent when it can matter.
    track = len(paths) > 1 or any(_has_magic(os.fspath(p)) for p in paths)
    seen: set[str] = set()
    for p in paths:
        for found in _expand(os.fspath(p), source):
            if track:
                # abspath is string work only; realpath would lstat every component.
                key = os.path.abspath(found.path)
                if key in seen:
                    continue
                seen.add(key)
            yield found


# ---------------------------------------------------------------------------------------
# Public API


def iter_inputs(
    paths: list[str],
    source: str | None = None,
    max_bytes: int = MAX_BYTES,
    *,
    max_archive_bytes: int = MAX_ARCHIVE_BYTES,
    max_ratio: float = MAX_RATIO,
) -> Iterator[RawArticle | Rejection]:
    """Yield every raw article (or its rejection) named by ``paths``.

    Args:
        paths: files, directories (walked recursively) and glob patterns (``dumps/*.txt``,
            ``dumps/**``), read in the order given.
        source: source name for every item; ``None`` derives it from the folder layout
            (one first-level subdirectory = one source; see the module docstring).
        max_bytes: largest file, archive member or JSONL line accepted; bigger ones become
            ``Rejection(reason="too_large")`` without being read whole.
        max_archive_bytes: total uncompressed bytes one archive may expand to; past it the
            remaining members become one ``bad_archive`` rejection.
        max_ratio: largest uncompressed/compressed ratio of a zip member over 1 MiB.

    Returns:
        An iterator of :class:`RawArticle` (``kind="dump"`` with the file bytes, or
        ``kind="record"`` with the parsed JSONL object in ``fields``) and
        :class:`Rejection` items, in a deterministic order.

    Raises:
        FileNotFoundError: a path does not exist or a glob matches nothing; raised by this
            call itself, before anything is read.
    """
    paths = [os.fspath(p) for p in paths] if not isinstance(paths, (str, os.PathLike)) else paths
    _check_paths(paths)
    limits = _Limits(max_bytes, max_archive_bytes, max_ratio)
    return _iter_found(_found_files(paths, source), source, limits)


InputFile = _Found  # one file a path argument names: ``path``, ``source``, ``uri``


def input_files(paths: list[str], source: str | None = None) -> Iterator[InputFile]:
    """The files ``iter_inputs`` would read, in its order, without reading them.

    ``read_input_file`` on each, in turn, yields exactly what ``iter_inputs`` yields; a Prefect
    task can so be handed file names and read the bytes itself.

    Raises:
        FileNotFoundError: as :func:`iter_inputs`, by this call itself.
    """
    paths = [os.fspath(p) for p in paths] if not isinstance(paths, (str, os.PathLike)) else paths
    _check_paths(paths)
    return _found_files(paths, source)


def is_container(found: InputFile) -> bool:
    """True for a file that holds many items (zip, tar, JSONL, WARC), False for one dump or page."""
    return container_kind(found.path) is not None


def read_input_file(found: InputFile, source: str | None = None, max_bytes: int = MAX_BYTES) -> Iterator[RawArticle | Rejection]:
    """The items of one file from ``input_files``, as ``iter_inputs`` yields them (same limits)."""
    return _iter_found(iter([found]), source, _Limits(max_bytes, MAX_ARCHIVE_BYTES, MAX_RATIO))


def count_inputs(paths: list[str]) -> int | None:
    """A cheap total for a progress bar: how many items ``iter_inputs`` will yield.

    Plain files count one each, zip archives count their file members (from the central
    directory), JSONL files count their newline-terminated lines. Returns ``None`` when a
    cheap count is impossible (tar or gzip-compressed inputs must be decompressed to
    count). Junk, rejections and blank lines may make the real count differ slightly.

    Raises:
        FileNotFoundError: as :func:`iter_inputs`.
    """
    paths = [os.fspath(p) for p in paths]
    _check_paths(paths)
    total = 0
    for found in _found_files(paths, None):
        kind = _kind_of(found.path)
        if kind in ("dump", "html"):
            total += 1
        elif kind == "zip":
            try:
                with zipfile.ZipFile(found.path) as zf:
                    total += sum(1 for i in zf.infolist() if not i.is_dir() and not _skip_member(i.filename))
            except (OSError, *_ZIP_OPEN_ERRORS):
                total += 1  # read_zip rejects it; a bad name crashed the CLI's count (found by the fuzzer)
        elif kind == "jsonl" and not found.path.lower().endswith(".gz"):
            try:
                total += _count_lines(found.path)
            except OSError:
                total += 1
        else:
            return None
    return total


def _count_lines(path: str) -> int:
    n = 0
    last = b"\n"
    with open(path, "rb") as fh:
        while chunk := fh.read(_READ_CHUNK):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    return n + (last != b"\n")


# ---------------------------------------------------------------------------------------
# Reading


def _iter_found(
    found_files: Iterator[_Found], source: str | None, limits: _Limits
) -> Iterator[RawArticle | Rejection]:
    for found in found_files:
        kind = _kind_of(found.path)
        if kind == "zip":
            yield from _read_zip(found, source, limits)
        elif kind == "tar":
            yield from _read_tar(found, source, limits)
        elif kind == "jsonl":
            yield from _read_jsonl_file(found, source, limits)
        elif kind == "warc":
            yield from _read_warc(found, source, limits)
        else:
            yield _read_dump(found, limits, "html" if kind == "html" else "dump")


def _unreadable(found: _Found, err: OSError | str) -> Rejection:
    detail = err if isinstance(err, str) else f"{type(err).__name__}: {err.strerror or err}"
    return Rejection(found.source, found.uri, "unreadable", f"cannot read {found.path}: {detail}")


def _read_dump(found: _Found, limits: _Limits, kind: str = "dump") -> RawArticle | Rejection:
    """A plain file as one dump (or, ``kind="html"``, one page), its size checked before reading."""
    try:
        # O_NONBLOCK: opening a fifo must not wait for a writer; no effect on regular files.
        fd = os.open(found.path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        return _unreadable(found, err)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            # A fifo would block the run and a device never ends.
            return _unreadable(found, "not a regular file")
        if st.st_size > limits.max_bytes:
            return _too_large(found.source, found.uri, st.st_size, limits.max_bytes)
        # Read what stat promised plus one byte, to notice a file that grew since; never
        # past the cap.
        want = min(st.st_size, limits.max_bytes) + 1
        chunks = []
        got = 0
        while got < want:
            chunk = os.read(fd, want - got)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
            if got == want and want <= limits.max_bytes:
                want = limits.max_bytes + 1  # it grew: keep reading up to the cap
        payload = b"".join(chunks)
    except OSError as err:
        return _unreadable(found, err)
    finally:
        os.close(fd)
    if len(payload) > limits.max_bytes:
        return _too_large(found.source, found.uri, len(payload), limits.max_bytes)
    return RawArticle(source=found.source, uri=found.uri, payload=payload, kind=kind)


def _too_large(source: str, uri: str, size: int, cap: int, what: str = "file") -> Rejection:
    return Rejection(source, uri, "too_large", f"{what} is {size:,} bytes, over the {cap:,}-byte cap")


# ---------------------------------------------------------------------------------------
# JSONL


def _read_jsonl_file(found: _Found, source: str | None, limits: _Limits) -> Iterator[RawArticle | Rejection]:
    try:
        if found.path.lower().endswith(".gz"):
            fh: IO[bytes] = gzip.open(found.path, "rb")
        else:
            fh = open(found.path, "rb")
    except OSError as err:
        yield _unreadable(found, err)
        return
    with fh:
        try:
            n = 0
            for n, item in enumerate(_records(fh, found.source, found.uri, source, limits), 1):
                yield item
            if n == 0:  # an empty .txt is rejected as empty; a .jsonl with no line is no different
                yield Rejection(found.source, found.uri, "empty", "no JSON lines: the file is empty or blank", content_hash(b""))
        except (OSError, EOFError, zlib.error) as err:
            # A truncated .jsonl.gz or a file that vanished mid-read: keep what was read.
            yield Rejection(found.source, found.uri, "unreadable", f"read failed after some lines: {err}")


def _lines(fh: IO[bytes], cap: int) -> Iterator[tuple[int, bytes | None, int]]:
    """(line number, line bytes or None when over ``cap``, line length) for each line."""
    lineno = 0
    while True:
        line = fh.readline(cap + 1)
        if not line:
            return
        lineno += 1
        if len(line) > cap and not line.endswith(b"\n"):
            size = len(line)
            # Skip the rest of the long line without holding it.
            while True:
                more = fh.readline(_READ_CHUNK)
                size += len(more)
                if not more or more.endswith(b"\n"):
                    break
            yield lineno, None, size
            continue
        yield lineno, line, len(line)


def _records(
    fh: IO[bytes], file_source: str, file_uri: str, source: str | None, limits: _Limits
) -> Iterator[RawArticle | Rejection]:
    """JSONL lines as ``kind="record"`` raw articles; bad lines as ``malformed_jsonl``."""
    for lineno, line, size in _lines(fh, limits.max_bytes):
        line_uri = f"{file_uri}#L{lineno}"
        if line is None:
            yield _too_large(file_source, line_uri, size, limits.max_bytes, what="line")
            continue
        payload = line.rstrip(b"\r\n")
        if lineno == 1 and payload.startswith(b"\xef\xbb\xbf"):
            payload = payload[3:]
        if not payload.strip():
            continue
        problem, obj = _check_record(payload)
        if problem:
            yield Rejection(
                file_source, line_uri, "malformed_jsonl", f"line {lineno}: {problem}", content_hash(payload)
            )
            continue
        url = obj.get("url")
        name = source or obj.get("source") or file_source
        if obj.get("html"):
            # a saved page: parsed from its HTML like a fetched one (the line's text fields are ignored)
            fields = {"url": url, "final_url": obj.get("final_url") or url, "published": obj.get("published")}
            yield RawArticle(source=name, uri=url if url else line_uri, payload=obj["html"].encode("utf-8"),
                             kind="html", fields=fields)
            continue
        yield RawArticle(
            source=name,
            uri=url if url else line_uri,
            payload=payload,
            kind="record",
            fields=obj,
        )


def _check_record(payload: bytes) -> tuple[str, dict[str, Any]]:
    """('', object) for a usable record line, else (what is wrong, {})."""
    try:
        obj = json.loads(payload)
    except (ValueError, RecursionError) as err:
        # UnicodeDecodeError is a ValueError too.
        return f"invalid JSON ({err})", {}
    if not isinstance(obj, dict):
        return f"a JSON {type(obj).__name__}, not an object", {}
    for key in _RECORD_STR_FIELDS:
        if obj.get(key) is not None and not isinstance(obj[key], str):
            return f"field {key!r} is a {type(obj[key]).__name__}, not a string", {}
        if obj.get(key) and LONE_SURROGATE.search(obj[key]):
            # "\ud800" escapes decode to lone surrogates: no identity, name or text can hold them
            return f"field {key!r} holds a lone surrogate escape, not Unicode text", {}
    published = obj.get("published")
    if published is not None and (isinstance(published, bool) or not isinstance(published, (str, int, float))):
        return f"field 'published' is a {type(published).__name__}, not a string or number", {}
    body = obj.get("body") or obj.get("text") or obj.get("html")
    if not body or not body.strip():
        return "no 'body', 'text' or 'html'", {}
    return "", obj


# ---------------------------------------------------------------------------------------
# Archives


def _member_problem(name: str) -> str:
    """Why a member name is unsafe to use as an identity, or ''."""
    if "\x00" in name:
        return "NUL in member name"
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        # the recorded uri drops the leading '/' (identities are relative): name it as stored
        return f"absolute member path {name!r}"
    if ".." in norm.split("/"):
        return "member path with '..'"
    return ""


def _skip_member(name: str) -> bool:
    """Directories' junk (``__MACOSX/``, ``.DS_Store``) and README files inside archives."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    return not parts or any(_is_junk(p) for p in parts)


def _member_uri(found: _Found, name: str) -> str:
    clean = "/".join(p for p in name.replace("\\", "/").split("/") if p not in ("", "."))
    return f"{found.uri}!{clean}"


def _read_member(
    found: _Found, uri: str, name: str, stream: IO[bytes], source: str | None, limits: _Limits
) -> Iterator[RawArticle | Rejection]:
    """One archive member's items: a dump, or records for a JSONL member."""
    kind = _kind_of(name)
    if kind in ("zip", "tar", "warc"):
        yield Rejection(found.source, uri, "unsafe_member", "nested archive not expanded")
        return
    if kind == "jsonl":
        fh: IO[bytes] = gzip.GzipFile(fileobj=stream) if name.lower().endswith(".gz") else stream
        yield from _records(fh, found.source, uri, source, limits)
        return
    # Capped read: the declared size in a header can lie.
    payload = stream.read(limits.max_bytes + 1)
    if len(payload) > limits.max_bytes:
        yield _too_large(found.source, uri, len(payload), limits.max_bytes, what="member (read)")
        return
    yield RawArticle(source=found.source, uri=uri, payload=payload, kind="html" if kind == "html" else "dump")


def _read_zip(found: _Found, source: str | None, limits: _Limits) -> Iterator[RawArticle | Rejection]:
    """Members of a zip, each read through ``ZipFile.open`` (nothing lands on disk)."""
    try:
        zf = zipfile.ZipFile(found.path)
    except _ZIP_OPEN_ERRORS as err:
        yield Rejection(found.source, found.uri, "bad_archive", f"not a readable zip: {err}")
        return
    except OSError as err:
        yield _unreadable(found, err)
        return
    expanded = 0
    with zf:
        for info in zf.infolist():
            name = info.filename
            if info.is_dir() or _skip_member(name):
                continue
            uri = _member_uri(found, name)
            problem = _member_problem(name)
            # Unix zips keep the file type in the high bits; zero means "not recorded".
            ftype = stat.S_IFMT(info.external_attr >> 16) if info.create_system == 3 else 0
            if not problem and ftype not in (0, stat.S_IFREG):
                problem = "symlink member" if ftype == stat.S_IFLNK else "device, fifo or other special member"
            if problem:
                yield Rejection(found.source, uri, "unsafe_member", problem)
                continue
            if info.flag_bits & 0x1:
                yield Rejection(found.source, uri, "bad_archive", "encrypted member")
                continue
            if info.file_size > limits.max_bytes and _kind_of(name) != "jsonl":
                yield _too_large(found.source, uri, info.file_size, limits.max_bytes, what="member (declared)")
                continue
            if info.file_size > _RATIO_MIN_BYTES and info.file_size > limits.max_ratio * max(info.compress_size, 1):
                ratio = info.file_size / max(info.compress_size, 1)
                yield Rejection(
                    found.source, uri, "too_large", f"compression ratio {ratio:.0f} over {limits.max_ratio:g} (zip bomb guard)"
                )
                continue
            expanded += info.file_size
            if expanded > limits.max_archive_bytes:
                yield _expands_too_far(found, limits, name)
                return
            try:
                with zf.open(info) as stream:
                    yield from _read_member(found, uri, name, stream, source, limits)
            except (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError, RuntimeError, ValueError) as err:
                # CRC mismatch, damaged data, unsupported compression: this member only.
                yield Rejection(found.source, uri, "bad_archive", f"member unreadable: {err}")
            except OSError as err:
                yield Rejection(found.source, uri, "bad_archive", f"member unreadable: {err}")


def _expands_too_far(found: _Found, limits: _Limits, name: str) -> Rejection:
    """The archive's total expanded size passed the cap at member `name` (bomb guard)."""
    return Rejection(
        found.source,
        found.uri,
        "bad_archive",
        f"archive expands past {limits.max_archive_bytes:,} bytes at {name!r}; remaining members not read",
    )


def _tar_end_problem(tf: tarfile.TarFile, path: str) -> str | None:
    """Why a tar stream that ended without an error is still truncated, or None if it is whole.

    In streaming mode tarfile takes an archive cut exactly between two members for a normal
    end, so members after the cut would vanish without a trace. A whole archive ends with
    two zero blocks after the last member, and a compressed one with its stream's end marker.
    """
    stream = tf.fileobj
    decompressor = getattr(stream, "cmp", None)
    if decompressor is not None and hasattr(decompressor, "eof"):
        try:
            while stream.read(1 << 16):
                pass
        # tarfile.ReadError: tarfile's own stream reports zlib damage as "invalid compressed
        # data"; it escaped the run from here (found by the fuzzer)
        except (EOFError, OSError, zlib.error, tarfile.TarError) as err:
            return f"compressed stream damaged after the last member: {err}"
        if not decompressor.eof:
            return f"archive truncated: the compressed stream ends without its end marker after {tf.offset:,} bytes of tar"
        return None
    try:
        size = os.path.getsize(path)
    except OSError:
        return None
    if size < tf.offset + 2 * tarfile.BLOCKSIZE:
        return f"archive truncated after {tf.offset:,} bytes: no end-of-archive blocks, members may be missing"
    return None


def _read_tar(found: _Found, source: str | None, limits: _Limits) -> Iterator[RawArticle | Rejection]:
    """Members of a tar (any compression), in streaming mode: one pass, no seeking."""
    try:
        fh = open(found.path, "rb")
    except OSError as err:
        yield _unreadable(found, err)
        return
    with fh:
        try:
            tf = tarfile.open(fileobj=fh, mode="r|*")
        # TypeError: tarfile's gzip header reader calls ord() on the empty read of a file cut
        # inside the gzip header (b"\x1f\x8b\x08"; found by the fuzzer)
        except (tarfile.TarError, EOFError, zlib.error, OSError, TypeError) as err:
            yield Rejection(found.source, found.uri, "bad_archive", f"not a readable tar: {err}")
            return
        expanded = 0
        members = iter(tf)
        while True:
            try:
                member = next(members)
            except StopIteration:
                problem = _tar_end_problem(tf, found.path)
                if problem:
                    yield Rejection(found.source, found.uri, "bad_archive", problem)
                break
            except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
                yield Rejection(
                    found.source, found.uri, "bad_archive", f"archive damaged after {tf.offset:,} bytes: {err}"
                )
                break
            name = member.name
            if member.isdir() or _skip_member(name):
                continue
            uri = _member_uri(found, name)
            problem = _member_problem(name)
            if not problem and member.issym():
                problem = f"symlink member (-> {member.linkname})"
            elif not problem and member.islnk():
                problem = f"hardlink member (-> {member.linkname})"
            elif not problem and not member.isreg():
                problem = "device, fifo or other special member"
            if problem:
                yield Rejection(found.source, uri, "unsafe_member", problem)
                continue
            expanded += member.size
            if expanded > limits.max_archive_bytes:
                yield _expands_too_far(found, limits, name)
                break
            if member.size > limits.max_bytes and _kind_of(name) != "jsonl":
                yield _too_large(found.source, uri, member.size, limits.max_bytes, what="member (declared)")
                continue
            stream = tf.extractfile(member)
            if stream is None:  # pragma: no cover - regular members always have a stream
                continue
            try:
                for item in _read_member(found, uri, name, stream, source, limits):
                    if isinstance(item, RawArticle) and item.kind in ("dump", "html") and len(item.payload) < member.size:
                        # A member cut short by a truncated archive can read short silently.
                        raise EOFError(f"member truncated at {len(item.payload):,} of {member.size:,} bytes")
                    yield item
            except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
                yield Rejection(found.source, uri, "bad_archive", f"archive damaged in this member: {err}")
                break


# ---------------------------------------------------------------------------------------
# WARC


def _read_warc(found: _Found, source: str | None, limits: _Limits) -> Iterator[RawArticle | Rejection]:
    """HTML ``response`` records of a WARC / WARC.gz (warcio), each body capped at ``max_bytes``."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    try:
        fh = open(found.path, "rb")
    except OSError as err:
        yield _unreadable(found, err)
        return
    name = source or found.source
    n = 0
    with fh:
        try:
            for record in ArchiveIterator(fh):
                if record.rec_type != "response" or record.http_headers is None:
                    continue
                n += 1
                status = record.http_headers.get_statuscode()
                media = (record.http_headers.get_header("Content-Type") or "").split(";", 1)[0].strip().lower()
                if status != "200" or media not in _HTML_MEDIA:
                    continue
                url = record.rec_headers.get_header("WARC-Target-URI") or f"{found.uri}#R{n}"
                # content_stream undoes chunked transfer and gzip/deflate content encodings
                payload = record.content_stream().read(limits.max_bytes + 1)
                if len(payload) > limits.max_bytes:
                    yield _too_large(name, url, len(payload), limits.max_bytes, what="WARC record body (read)")
                    continue
                yield RawArticle(source=name, uri=url, payload=payload, kind="html",
                                 fields={"url": url, "final_url": url})
        except (ArchiveLoadFailed, EOFError, zlib.error, ValueError, OSError, AttributeError, TypeError) as err:
            # warcio reports some damaged headers as AttributeError/TypeError (a missing target URI)
            yield Rejection(found.source, found.uri, "bad_archive", f"WARC unreadable after {n} response records: {err}")
