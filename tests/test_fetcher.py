"""The fetcher against a real HTTP server on 127.0.0.1: politeness, retries, caps, safety."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from flows.fetcher import DOCUMENT_TYPES, USER_AGENT, FetchConfig, Fetcher, FetchResult, retry_after_seconds
from parsers.article import Rejection
from parsers.url_safety import address_problem, parse_allowlist, url_problem
from tests import http_fixtures as hf

FAST = dict(timeout=0.5, retries=2, backoff=0.02, max_retry_after=1.0, delay=0.0, per_host_concurrency=4,
            workers=4, max_bytes=1_000_000, allow_private_hosts=("127.0.0.1",))


@pytest.fixture(scope="module")
def site():
    with hf.NewsSite() as s:
        s.routes.update({
            "/robots.txt": hf.static("User-agent: *\nDisallow: /private/\n", "text/plain"),
            "/page.html": hf.static(hf.article_html("Harbour vote", 1)),
            "/private/secret.html": hf.static(hf.article_html("Secret", 2)),
            "/flaky": hf.fail_first(1, 500, hf.article_html("Flaky", 3)),
            "/down": hf.fail_first(99, 503, "never"),
            "/ratelimited": hf.fail_first(1, 429, hf.article_html("Rate", 4), {"Retry-After": "1"}),
            "/slow": hf.stall,
            "/reset": hf.reset,
            "/loop-a": hf.redirect("/loop-b"),
            "/loop-b": hf.redirect("/loop-a"),
            "/hop": hf.redirect("/page.html", 301),
            "/bomb": hf.gzip_bomb_route,
            "/huge-declared": hf.endless(100 * 1024 * 1024),
            "/huge-chunked": hf.endless(None),
            "/image.png": hf.static(b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "image/png"),
            "/to-metadata": hf.redirect("http://169.254.169.254/latest/meta-data/"),
            "/feed.xml": hf.conditional(hf.rss(["/page.html"]), "application/rss+xml", etag='"v1"'),
            "/gz.html": hf.gzipped(hf.article_html("Zipped", 5)),
            "/gone": hf.static("gone", "text/plain", 410),
        })
        yield s


@pytest.fixture
def fetcher():
    with Fetcher(FetchConfig(**FAST)) as f:
        yield f


def test_page_is_fetched_with_the_project_user_agent(site, fetcher):
    got = fetcher.fetch(site.url("/page.html"), "gazette")
    assert isinstance(got, FetchResult) and got.status == 200 and b"Harbour vote" in got.body
    assert site.headers_of("/page.html")[-1]["user-agent"] == USER_AGENT
    assert fetcher.stats[f"127.0.0.1:{site.port}"].fetched == 1


def test_robots_txt_is_honoured_and_fetched_once_per_host(site, fetcher):
    before = site.hits["/robots.txt"]
    got = fetcher.fetch(site.url("/private/secret.html"), "gazette")
    assert isinstance(got, Rejection) and got.reason == "robots_disallowed"
    assert fetcher.fetch(site.url("/page.html"), "gazette").status == 200
    assert site.hits["/robots.txt"] == before + 1
    assert site.hits["/private/secret.html"] == 0
    assert fetcher.stats[f"127.0.0.1:{site.port}"].robots_blocked == 1


def test_500_then_200_is_retried_and_ends_fetched(site, fetcher):
    got = fetcher.fetch(site.url("/flaky"), "gazette")
    assert isinstance(got, FetchResult) and b"Flaky" in got.body
    assert fetcher.stats[f"127.0.0.1:{site.port}"].retried == 1


def test_persistent_5xx_ends_as_http_error_after_the_retries(site, fetcher):
    got = fetcher.fetch(site.url("/down"), "gazette")
    assert got.reason == "http_error" and "503" in got.detail and "3 attempts" in got.detail


def test_429_waits_for_retry_after(site, fetcher):
    start = time.monotonic()
    got = fetcher.fetch(site.url("/ratelimited"), "gazette")
    assert isinstance(got, FetchResult) and b"Rate" in got.body
    assert time.monotonic() - start >= 0.9  # Retry-After: 1 honoured (capped at max_retry_after)


def test_retry_after_http_date_and_seconds():
    now = datetime(2025, 11, 24, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("7") == 7
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30
    assert retry_after_seconds("soon") is None


def test_slow_response_times_out(site, fetcher):
    got = fetcher.fetch(site.url("/slow"), "gazette")
    assert got.reason == "timeout"


def test_connection_reset_is_a_connection_error(site, fetcher):
    got = fetcher.fetch(site.url("/reset"), "gazette")
    assert got.reason == "connection_error"
    assert site.hits["/reset"] >= 3  # retried


def test_redirects_are_followed_and_loops_refused(site, fetcher):
    got = fetcher.fetch(site.url("/hop"), "gazette")
    assert got.final_url == site.url("/page.html") and got.url == site.url("/hop")
    assert fetcher.fetch(site.url("/loop-a"), "gazette").reason == "redirect_loop"


def test_gzip_bomb_stops_at_the_decoded_cap(site, fetcher):
    got = fetcher.fetch(site.url("/bomb"), "gazette")
    assert got.reason == "too_large" and "decoded" in got.detail
    ok = fetcher.fetch(site.url("/gz.html"), "gazette")
    assert b"Zipped" in ok.body  # ordinary gzip pages are decoded


def test_bodies_over_the_cap_are_refused(site, fetcher):
    assert fetcher.fetch(site.url("/huge-declared"), "gazette").reason == "too_large"
    got = fetcher.fetch(site.url("/huge-chunked"), "gazette")
    assert got.reason == "too_large" and "1,000,000" in got.detail


def test_content_type_is_checked(site, fetcher):
    assert fetcher.fetch(site.url("/image.png"), "gazette").reason == "bad_content_type"


def test_redirect_to_cloud_metadata_is_refused(site, fetcher):
    got = fetcher.fetch(site.url("/to-metadata"), "gazette")
    assert got.reason == "unsafe_url" and "metadata" in got.detail


def test_loopback_needs_allow_private_hosts(site):
    with Fetcher(FetchConfig(**{**FAST, "allow_private_hosts": ()})) as strict:
        got = strict.fetch(site.url("/page.html"), "gazette")
    assert got.reason == "unsafe_url" and "loopback" in got.detail
    assert "is refused: 127.0.0.1 is a loopback address (allow it with --allow-private-host 127.0.0.1)" in got.detail


def test_client_errors_are_not_retried(site, fetcher):
    got = fetcher.fetch(site.url("/gone"), "gazette")
    assert got.reason == "http_error" and "410" in got.detail and site.hits["/gone"] == 1


def test_conditional_get_gives_304(site, fetcher):
    first = fetcher.fetch(site.url("/feed.xml"), "gazette", accept=DOCUMENT_TYPES)
    assert first.status == 200 and first.headers["etag"] == '"v1"'
    again = fetcher.fetch(site.url("/feed.xml"), "gazette", etag='"v1"', accept=DOCUMENT_TYPES)
    assert again.not_modified and site.headers_of("/feed.xml")[-1]["if-none-match"] == '"v1"'
    assert fetcher.stats[f"127.0.0.1:{site.port}"].not_modified == 1


def test_per_host_delay_spaces_requests(site):
    with Fetcher(FetchConfig(**{**FAST, "delay": 0.2})) as polite:
        polite.fetch(site.url("/page.html"), "gazette")  # robots.txt + page
        start = time.monotonic()
        list(polite.fetch_many([(site.url("/page.html"), "gazette")] * 3))
    assert time.monotonic() - start >= 0.55  # three starts, 0.2 s apart after the last one


@pytest.mark.parametrize(
    "url, problem",
    [
        ("file:///etc/passwd", "scheme 'file'"),
        ("ftp://example.com/x", "scheme 'ftp'"),
        ("http:///nohost", "no host"),
        ("http://user:pw@example.com/", "credentials"),
        ("https://example.com/news/1.html", None),
    ],
)
def test_url_problem(url, problem):
    got = url_problem(url)
    assert (got is None) if problem is None else (problem in got)


@pytest.mark.parametrize(
    "address, kind",
    [
        ("127.0.0.1", "loopback"), ("10.1.2.3", "private"), ("192.168.1.1", "private"),
        ("169.254.1.1", "link-local"), ("169.254.169.254", "metadata"), ("fd00:ec2::254", "metadata"),
        ("::1", "loopback"), ("::ffff:127.0.0.1", "loopback"), ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"), ("100.64.0.1", "shared"), ("93.184.216.34", None),
    ],
)
def test_address_problem(address, kind):
    got = address_problem(address)
    assert (got is None) if kind is None else (kind in got)


def test_allowlist_opens_a_range_but_not_the_metadata_service():
    allowed = parse_allowlist(["169.254.0.0/16", "127.0.0.1"])
    assert address_problem("169.254.1.1", allowed) is None
    assert "metadata" in address_problem("169.254.169.254", allowed)
    assert address_problem("127.0.0.1", allowed) is None and "loopback" in address_problem("127.0.0.2", allowed)
    with pytest.raises(ValueError, match="not an IP address"):
        parse_allowlist(["localhost"])
