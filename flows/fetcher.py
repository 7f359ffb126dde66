"""A polite, defensive HTTP client for feeds and article pages (httpx, threads).

Politeness: at most ``per_host_concurrency`` requests in flight per host and at least
``delay`` seconds between two request starts to one host (raised by the host's robots.txt
``Crawl-delay`` and by ``Retry-After``); robots.txt fetched once per host and honoured
(RFC 9309: a 4xx robots.txt allows everything, an unreachable or 5xx one disallows
everything); conditional GET with the ETag / Last-Modified the caller stored; a User-Agent
naming the project.

Safety: only http/https; every hop of a redirect chain (followed by hand, at most
``max_redirects``) is checked and its host resolved, and loopback, private, link-local,
multicast, reserved and cloud-metadata addresses are refused unless ``allow_private_hosts``
lists them; the body is decoded here (gzip/deflate) with the cap on the DECODED bytes, so a
gzip bomb stops at ``max_bytes``; a wall-clock deadline per request on top of httpx's
per-operation timeouts (a server that drips one byte a second still ends); only HTML, XML,
feed and plain-text content types are accepted.

Failures never raise: :meth:`Fetcher.fetch` returns a :class:`Rejection` whose reason is
one of ``unsafe_url``, ``dns_error``, ``robots_disallowed``, ``timeout``,
``connection_error``, ``http_error``, ``too_large``, ``redirect_loop``,
``too_many_redirects``, ``bad_content_type``, ``bad_encoding``. Retries (with exponential
backoff) cover timeouts, connection errors, 429 and 5xx.

Known limit: the host is resolved for the check and again by httpx to connect, so a DNS
answer that changes between the two (DNS rebinding) is not caught; a pinned-address
transport would close that gap.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from parsers.article import Rejection
from parsers.url_safety import address_problem, parse_allowlist, url_problem

log = logging.getLogger("newsdedup.fetch")

USER_AGENT = "newsdedup/0.1 (+https://example.invalid/newsdedup)"
ROBOTS_TOKEN = "newsdedup"

PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml"})
DOCUMENT_TYPES = PAGE_TYPES | {
    "application/xml", "text/xml", "application/rss+xml", "application/atom+xml",
    "application/rdf+xml", "application/feed+xml", "text/plain",
}
_REDIRECTS = (301, 302, 303, 307, 308)
_RAW_CHUNK = 16 * 1024


@dataclass(frozen=True)
class FetchConfig:
    """Fetcher settings (the defaults are the polite production ones).

    Attributes:
        user_agent: sent with every request; names the project and a contact URL.
        timeout: seconds for connecting and for each read, and (x3) for a whole response.
        max_bytes: largest DECODED body; larger ones end as ``too_large``.
        max_redirects: redirect hops followed per URL.
        retries: extra attempts after a timeout, connection error, 429 or 5xx.
        backoff: first retry wait in seconds, doubled each attempt, capped at ``max_backoff``.
        max_backoff: cap on a computed backoff wait.
        max_retry_after: cap on a server's ``Retry-After`` (longer asks wait this long).
        per_host_concurrency: requests in flight per host.
        delay: minimum seconds between request starts to one host.
        workers: threads fetching pages (across hosts).
        allow_private_hosts: addresses or networks (``"127.0.0.1"``, ``"10.0.0.0/8"``)
            that may be fetched although they are loopback/private/link-local.
        respect_robots: check robots.txt (only turn off for your own hosts).
    """

    user_agent: str = USER_AGENT
    timeout: float = 10.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    retries: int = 3
    backoff: float = 1.0
    max_backoff: float = 30.0
    max_retry_after: float = 120.0
    per_host_concurrency: int = 2
    delay: float = 1.0
    workers: int = 8
    allow_private_hosts: tuple[str, ...] = ()
    respect_robots: bool = True


@dataclass
class FetchResult:
    """A fetched document (status 200) or a confirmation that it did not change (304).

    ``body`` holds the decoded bytes (empty for 304); ``headers`` the final response's
    headers, lower-cased names; ``final_url`` the URL after redirects.
    """

    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    body: bytes
    fetched_at: datetime

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass
class HostStats:
    """Per-host counters of one fetcher: requests made and how URLs ended."""

    requests: int = 0
    fetched: int = 0
    not_modified: int = 0
    retried: int = 0
    failed: int = 0
    robots_blocked: int = 0

    def as_row(self, host: str) -> dict[str, object]:
        return {"host": host, "fetched": self.fetched, "not_modified": self.not_modified, "retried": self.retried,
                "failed": self.failed, "robots_blocked": self.robots_blocked, "requests": self.requests}


class _Failure(Exception):
    """Internal: ends one URL with a reason (turned into a Rejection by ``fetch``)."""

    def __init__(self, reason: str, detail: str, retry: bool = False, wait: float | None = None):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail, self.retry, self.wait = reason, detail, retry, wait


@dataclass
class _Response:
    status: int
    headers: dict[str, str]
    body: bytes = b""
    location: str | None = None


class _HostGate:
    """Per-host concurrency limit and minimum spacing between request starts."""

    def __init__(self, concurrency: int, delay: float):
        self._slots = threading.BoundedSemaphore(max(1, concurrency))
        self._lock = threading.Lock()
        self._next_start = 0.0
        self.delay = delay

    def slow_down(self, delay: float) -> None:
        with self._lock:
            self.delay = max(self.delay, delay)

    def defer(self, seconds: float) -> None:
        """No request to this host for ``seconds`` (a Retry-After applies to the whole host)."""
        with self._lock:
            self._next_start = max(self._next_start, time.monotonic() + seconds)

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._slots:
            with self._lock:
                now = time.monotonic()
                start = max(now, self._next_start)
                self._next_start = start + self.delay
            if start > now:
                time.sleep(start - now)
            yield


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def host_of(url: str) -> str:
    """The host[:port] counters and gates are kept by ("-" for URLs without one)."""
    try:
        return urlsplit(url).netloc.lower().rsplit("@", 1)[-1] or "-"
    except ValueError:
        return "-"


def _media_type(headers: dict[str, str]) -> str:
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


class Fetcher:
    """Fetches URLs politely and safely; thread-safe; use as a context manager.

    Args:
        config: see :class:`FetchConfig`.

    Raises:
        ValueError: a bad ``allow_private_hosts`` entry.
    """

    def __init__(self, config: FetchConfig | None = None):
        self.config = config or FetchConfig()
        self._allowed = parse_allowlist(self.config.allow_private_hosts)
        self._client = httpx.Client(
            follow_redirects=False,
            timeout=httpx.Timeout(self.config.timeout),
            headers={"User-Agent": self.config.user_agent, "Accept-Encoding": "gzip, deflate"},
            trust_env=False,  # an environment proxy would make the address checks meaningless
            limits=httpx.Limits(max_connections=max(4, self.config.workers * 2), max_keepalive_connections=16),
        )
        self._lock = threading.Lock()
        self._gates: dict[str, _HostGate] = {}
        self._robots: dict[str, RobotFileParser | None] = {}
        self._robots_locks: dict[str, threading.Lock] = {}
        self.stats: dict[str, HostStats] = {}

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    # -- public ------------------------------------------------------------------------

    def fetch(
        self,
        url: str,
        source: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: frozenset[str] = PAGE_TYPES,
        delay: float | None = None,
    ) -> FetchResult | Rejection:
        """Fetch one URL, following redirects by hand; never raises for network or data faults.

        Args:
            url: absolute http(s) URL.
            source: source name, carried by a rejection.
            etag, last_modified: validators stored from the last fetch; sent as
                ``If-None-Match`` / ``If-Modified-Since`` (a 304 comes back as
                ``FetchResult(status=304)``).
            accept: media types accepted (``PAGE_TYPES`` or ``DOCUMENT_TYPES``); a response
                without a Content-Type is accepted and left to the parser.
            delay: minimum spacing for this URL's host if larger than the configured one.

        Returns:
            A :class:`FetchResult`, or a :class:`Rejection` (``source_uri`` = the URL asked).
        """
        host = host_of(url)
        stats = self._stats(host)
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        seen = {url}
        current = url
        try:
            for hop in range(self.config.max_redirects + 1):
                self._check_safe(current)
                if not self._robots_allow(current):
                    self._bump(stats, "robots_blocked")
                    return Rejection(source, url, "robots_disallowed", f"robots.txt of {host_of(current)} disallows {current}")
                resp = self._get(current, headers, accept, delay, stats)
                if resp.location is None:
                    result = FetchResult(url, current, resp.status, resp.headers, resp.body, datetime.now(UTC))
                    if result.not_modified:
                        self._bump(stats, "not_modified")
                    else:
                        self._bump(stats, "fetched")
                    return result
                nxt = urljoin(current, resp.location)
                if nxt in seen:
                    raise _Failure("redirect_loop", f"{current} redirects back to {nxt} (after {hop + 1} hops)")
                seen.add(nxt)
                current = nxt
            raise _Failure("too_many_redirects", f"more than {self.config.max_redirects} redirects (last: {current})")
        except _Failure as why:
            self._bump(stats, "failed")
            return Rejection(source, url, why.reason, why.detail)

    def fetch_many(
        self, requests: Iterable[tuple], fn: Callable[..., object] | None = None, window: int | None = None
    ) -> Iterator[object]:
        """Run ``fn(*request)`` (default :meth:`fetch`) on the worker threads, yielding results in request order.

        At most ``window`` (default ``4 * workers``) requests are in flight, so a long URL
        list does not queue up in memory; order is kept so a run is deterministic.
        """
        fn = fn or self.fetch
        window = window or 4 * self.config.workers
        pending: list[Future] = []
        with ThreadPoolExecutor(self.config.workers, thread_name_prefix="fetch") as pool:
            for request in requests:
                pending.append(pool.submit(fn, *request))
                if len(pending) >= window:
                    yield pending.pop(0).result()
            while pending:
                yield pending.pop(0).result()

    def host_rows(self) -> list[dict[str, object]]:
        """Per-host counters as table rows, sorted by host."""
        with self._lock:
            return [s.as_row(h) for h, s in sorted(self.stats.items())]

    # -- politeness --------------------------------------------------------------------

    def _stats(self, host: str) -> HostStats:
        with self._lock:
            return self.stats.setdefault(host, HostStats())

    def _bump(self, stats: HostStats, name: str) -> None:
        with self._lock:
            setattr(stats, name, getattr(stats, name) + 1)

    def _gate(self, host: str) -> _HostGate:
        with self._lock:
            gate = self._gates.get(host)
            if gate is None:
                gate = self._gates[host] = _HostGate(self.config.per_host_concurrency, self.config.delay)
            return gate

    def _robots_allow(self, url: str) -> bool:
        if not self.config.respect_robots:
            return True
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            lock = self._robots_locks.setdefault(key, threading.Lock())
        with lock:  # one robots.txt request per host, however many threads ask
            if key not in self._robots:
                self._robots[key] = self._load_robots(key)
        rules = self._robots[key]
        if rules is None:
            return False
        return rules.can_fetch(ROBOTS_TOKEN, url)

    def _load_robots(self, origin: str) -> RobotFileParser | None:
        """The host's robots rules; an allow-all parser for 4xx; None (disallow all) when unreachable."""
        rules = RobotFileParser()
        url = f"{origin}/robots.txt"
        stats = self._stats(host_of(url))
        try:
            for _ in range(self.config.max_redirects + 1):
                self._check_safe(url)
                resp = self._get(url, {}, frozenset(), None, stats, robots=True)
                if resp.location is None:
                    break
                url = urljoin(url, resp.location)
            else:
                return None
        except _Failure as why:
            log.info("robots.txt of %s unavailable (%s): treating the host as disallowed", origin, why)
            return None
        if 400 <= resp.status < 500:
            rules.allow_all = True
            return rules
        if resp.status >= 500:
            return None
        rules.parse(resp.body.decode("utf-8", "replace").splitlines())
        crawl_delay = rules.crawl_delay(ROBOTS_TOKEN)
        if crawl_delay:
            self._gate(host_of(origin)).slow_down(min(float(crawl_delay), self.config.max_retry_after))
        return rules

    # -- safety ------------------------------------------------------------------------

    def _check_safe(self, url: str) -> None:
        problem = url_problem(url)
        if problem:
            raise _Failure("unsafe_url", f"{url}: {problem}")
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        try:
            infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError, OSError) as err:
            raise _Failure("dns_error", f"cannot resolve {parts.hostname}: {err}") from None
        for info in infos:
            problem = address_problem(info[4][0], self._allowed)
            if problem:
                raise _Failure("unsafe_url", f"{url}: host {parts.hostname} is refused: {problem}")

    # -- one request, with retries -----------------------------------------------------

    def _get(
        self, url: str, headers: dict[str, str], accept: frozenset[str], delay: float | None,
        stats: HostStats, robots: bool = False,
    ) -> _Response:
        gate = self._gate(host_of(url))
        if delay is not None:
            gate.slow_down(delay)
        cfg = self.config
        for attempt in range(cfg.retries + 1):
            try:
                with gate.slot():
                    self._bump(stats, "requests")
                    return self._request(url, headers, accept, robots)
            except _Failure as why:
                if not why.retry or attempt == cfg.retries:
                    if why.retry:
                        why.detail += f" (after {attempt + 1} attempts)"
                    raise
                wait = min(why.wait, cfg.max_retry_after) if why.wait is not None else min(cfg.backoff * 2**attempt, cfg.max_backoff)
                if why.wait is not None:
                    gate.defer(wait)  # the whole host asked us to wait
                self._bump(stats, "retried")
                log.info("retrying %s in %.2fs: %s", url, wait, why)
                time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _request(self, url: str, headers: dict[str, str], accept: frozenset[str], robots: bool) -> _Response:
        cfg = self.config
        deadline = time.monotonic() + 3 * cfg.timeout
        try:
            with self._client.stream("GET", url, headers=headers) as resp:
                got = {k.lower(): v for k, v in resp.headers.items()}
                status = resp.status_code
                if status == 429 or 500 <= status < 600:
                    if robots and status != 429:
                        return _Response(status, got)
                    wait = retry_after_seconds(got.get("retry-after"))
                    raise _Failure("http_error", f"HTTP {status} from {url}", retry=True, wait=wait)
                if status in _REDIRECTS:
                    location = got.get("location")
                    if not location:
                        raise _Failure("http_error", f"HTTP {status} without a Location header")
                    return _Response(status, got, location=location)
                if status == 304 or robots and 400 <= status < 500:
                    return _Response(status, got)
                if status >= 300:
                    raise _Failure("http_error", f"HTTP {status} from {url}")
                media = _media_type(got)
                if accept and media and media not in accept:
                    raise _Failure("bad_content_type", f"Content-Type {media!r} is not one of the accepted types")
                declared = got.get("content-length", "")
                if declared.isdigit() and got.get("content-encoding", "identity") == "identity" and int(declared) > cfg.max_bytes:
                    raise _Failure("too_large", f"Content-Length {int(declared):,} is over the {cfg.max_bytes:,}-byte cap")
                body = self._read_body(resp, got.get("content-encoding", ""), deadline)
                return _Response(status, got, body)
        except httpx.TimeoutException as err:
            raise _Failure("timeout", f"{type(err).__name__} after {cfg.timeout:g}s on {url}", retry=True) from None
        except httpx.TransportError as err:
            raise _Failure("connection_error", f"{type(err).__name__}: {err or 'connection failed'}", retry=True) from None

    def _read_body(self, resp: httpx.Response, encoding: str, deadline: float) -> bytes:
        """The body decoded by hand, stopping as soon as the DECODED size passes the cap."""
        cap = self.config.max_bytes
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            decoder = None
        elif encoding in ("gzip", "x-gzip"):
            decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            decoder = zlib.decompressobj()
        else:
            raise _Failure("bad_encoding", f"unsupported Content-Encoding {encoding!r}")
        chunks: list[bytes] = []
        size = 0
        try:
            for raw in resp.iter_raw(_RAW_CHUNK):
                if time.monotonic() > deadline:
                    raise _Failure("timeout", f"body not complete within {3 * self.config.timeout:g}s", retry=True)
                pieces = [raw] if decoder is None else _inflate(decoder, raw, cap + 1 - size)
                for piece in pieces:
                    size += len(piece)
                    if size > cap:
                        what = "decoded body" if decoder is not None else "body"
                        raise _Failure("too_large", f"{what} passed the {cap:,}-byte cap")
                    chunks.append(piece)
            if decoder is not None:
                tail = decoder.flush()
                size += len(tail)
                if size > cap:
                    raise _Failure("too_large", f"decoded body passed the {cap:,}-byte cap")
                chunks.append(tail)
        except zlib.error as err:
            raise _Failure("bad_encoding", f"{encoding} body does not decode: {err}") from None
        return b"".join(chunks)


def _inflate(decoder, raw: bytes, room: int) -> list[bytes]:
    """Decompress ``raw`` in pieces of at most ``room + 1`` bytes each, never more in one go."""
    out = []
    data = raw
    while data:
        piece = decoder.decompress(data, max(room, 1) + 1)
        out.append(piece)
        room -= len(piece)
        if room < 0:
            break  # the caller sees the size pass the cap
        data = decoder.unconsumed_tail
    return out
