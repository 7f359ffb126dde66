"""The canonical-URL key: one article published (or fetched) under two URLs is one story.

A page's canonical URL (``<link rel=canonical>``, ``og:url``, JSON-LD ``url``) or a record's
``url`` is reduced to a key that ignores what does not name a different article: scheme,
``www.``, letter case of the host, default ports, a trailing slash, the fragment, and
tracking parameters (``utm_*``, ``fbclid``, ``gclid``, ...). Other query parameters stay:
``?id=123`` can be the article itself.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

_TRACKING = frozenset({"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "ref", "cmpid", "ocid", "smid"})


def url_key(url: str | None) -> str | None:
    """The canonical-URL key of `url`, or None if it is not an http(s) URL.

    >>> url_key("https://www.Example.com:443/news/story/?utm_source=x&id=7#top")
    'example.com/news/story?id=7'
    """
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if host.startswith("www."):
        host = host[4:]
    if port and port not in (80, 443):
        host = f"{host}:{port}"
    path = parts.path.rstrip("/") or "/"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not k.lower().startswith("utm_") and k.lower() not in _TRACKING]
    return f"{host}{path}" + (f"?{urlencode(sorted(query))}" if query else "")
