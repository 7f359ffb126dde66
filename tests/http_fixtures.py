"""A real HTTP server on 127.0.0.1 (random port) serving feeds, pages and faults for fetch tests.

``NewsSite`` runs a ``ThreadingHTTPServer`` in a daemon thread. Routes are plain functions
of the request handler; every request is recorded (path and headers) so tests can assert
what the fetcher sent. Handlers that stall wait on ``site.stop`` (set on close), never on a
bare sleep, so closing the server ends them at once.
"""

from __future__ import annotations

import gzip
import socket
import struct
import threading
import zlib
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.conftest import prose

Route = Callable[[BaseHTTPRequestHandler], None]


def article_html(title: str, seed: int, charset: str = "utf-8", extra: str = "") -> str:
    paras = "\n".join(f"<p>{p}</p>" for p in prose(seed, paragraphs=6))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="{charset}"><title>{title} | Harbour Gazette</title>
<meta property="og:title" content="{title}"></head>
<body>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a></nav>
<article><h1>{title}</h1>
<p class="byline">By Jane Doe</p>
{extra}
{paras}
</article>
<footer>Copyright 2025 Harbour Gazette. All rights reserved.</footer>
</body></html>"""


def rss(items: list[str], title: str = "Harbour Gazette") -> str:
    entries = "\n".join(
        f"<item><title>Item {i}</title><link>{link}</link><pubDate>Mon, 24 Nov 2025 1{i % 10}:00:00 GMT</pubDate></item>"
        for i, link in enumerate(items)
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{title}</title><link>http://example.invalid/</link>
<description>news</description>
{entries}
</channel></rss>"""


def atom(links: list[str]) -> str:
    entries = "\n".join(
        f"<entry><title>Entry {i}</title><id>urn:e:{i}</id><link href=\"{link}\"/>"
        f"<updated>2025-11-24T12:0{i}:00Z</updated></entry>"
        for i, link in enumerate(links)
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Coast Post</title><id>urn:coast</id>
<updated>2025-11-24T12:00:00Z</updated>
{entries}
</feed>"""


def news_sitemap(links: list[str]) -> str:
    urls = "\n".join(
        f"<url><loc>{link}</loc><news:news><news:publication><news:name>Metro</news:name>"
        f"<news:language>en</news:language></news:publication>"
        f"<news:publication_date>2025-11-24T0{i}:30:00+01:00</news:publication_date>"
        f"<news:title>Story {i}</news:title></news:news></url>"
        for i, link in enumerate(links)
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
{urls}
</urlset>"""


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><link>http://127.0.0.1/never</link></item></channel></rss>"""

_BOMB: bytes | None = None


def gzip_bomb(decoded_mb: int = 32) -> bytes:
    """~32 KB of gzip that decodes to ``decoded_mb`` MB of zeros (built once per process)."""
    global _BOMB
    if _BOMB is None:
        comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        block = b"\0" * (1024 * 1024)
        _BOMB = b"".join(comp.compress(block) for _ in range(decoded_mb)) + comp.flush()
    return _BOMB


class _Handler(BaseHTTPRequestHandler):
    server_version = "NewsSite/1.0"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        site: NewsSite = self.server.site  # type: ignore[attr-defined]
        path = self.path.split("?", 1)[0]
        with site.lock:
            site.requests.append((path, {k.lower(): v for k, v in self.headers.items()}))
            site.hits[path] += 1
            n = site.hits[path]
        route = site.routes.get(path)
        if route is None:
            self.send(404, b"not found", "text/plain")
            return
        route(self) if route.__code__.co_argcount == 1 else route(self, n)

    def send(self, status: int, body: bytes | str, ctype: str = "text/html; charset=utf-8", headers: dict | None = None) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:  # keep test output clean
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # resets and client disconnects are the point of some routes


class NewsSite:
    """The fixture site. ``url(path)`` gives absolute URLs; ``routes`` maps paths to handlers."""

    def __init__(self) -> None:
        self.routes: dict[str, Callable] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.hits: Counter = Counter()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.site = self  # type: ignore[attr-defined]
        self.port = self._server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> NewsSite:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str) -> str:
        return self.base + path

    def headers_of(self, path: str) -> list[dict[str, str]]:
        with self.lock:
            return [h for p, h in self.requests if p == path]


# ---------------------------------------------------------------------------------------
# Route builders


def static(body: bytes | str, ctype: str = "text/html; charset=utf-8", status: int = 200, headers: dict | None = None):
    def route(h: _Handler) -> None:
        h.send(status, body, ctype, headers)

    return route


def conditional(body: str, ctype: str, etag: str | None = None, last_modified: str | None = None):
    """200 with validators, 304 when the request carries a matching one."""

    def route(h: _Handler) -> None:
        if etag and h.headers.get("If-None-Match") == etag or last_modified and h.headers.get("If-Modified-Since") == last_modified:
            h.send_response(304)
            h.end_headers()
            return
        headers = {}
        if etag:
            headers["ETag"] = etag
        if last_modified:
            headers["Last-Modified"] = last_modified
        h.send(200, body, ctype, headers)

    return route


def fail_first(times: int, status: int, body: str, headers: dict | None = None):
    """``status`` for the first ``times`` requests, then 200 with ``body``."""

    def route(h: _Handler, n: int) -> None:
        if n <= times:
            h.send(status, "try later", "text/plain", headers)
        else:
            h.send(200, body)

    return route


def stall(h: _Handler) -> None:
    """Answer only after the client gave up (or the site closes)."""
    h.server.site.stop.wait(5)  # type: ignore[attr-defined]
    try:
        h.send(200, "too late")
    except OSError:
        pass


def reset(h: _Handler) -> None:
    """Close the connection with a TCP RST before any response."""
    h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    h.connection.close()
    h.close_connection = True


def gzip_bomb_route(h: _Handler) -> None:
    h.send(200, gzip_bomb(), "text/html; charset=utf-8", {"Content-Encoding": "gzip"})


def endless(declared: int | None):
    """A body of zeros that never ends (``declared``: the Content-Length it claims)."""

    def route(h: _Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        if declared is not None:
            h.send_header("Content-Length", str(declared))
        h.end_headers()
        block = b"<p>" + b"x" * 65_530 + b"</p>"
        sent = 0
        try:
            while not h.server.site.stop.is_set() and (declared is None or sent < declared):  # type: ignore[attr-defined]
                h.wfile.write(block)
                sent += len(block)
        except OSError:
            pass  # the client stopped reading: expected

    return route


def redirect(location: str, status: int = 302):
    def route(h: _Handler) -> None:
        h.send(status, "moved", "text/plain", {"Location": location})

    return route


def gzipped(body: str):
    def route(h: _Handler) -> None:
        h.send(200, gzip.compress(body.encode()), "text/html; charset=utf-8", {"Content-Encoding": "gzip"})

    return route
