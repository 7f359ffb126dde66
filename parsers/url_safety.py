"""Which URLs the fetcher may request: scheme, host and resolved-address checks (pure).

A feed is untrusted input: an entry link or a redirect may point at ``file://``, at the
machine itself (``127.0.0.1``, ``localhost``), at the private network, or at a cloud
metadata service (``169.254.169.254``, ``fd00:ec2::254``) that hands out credentials. The
fetcher resolves each host itself and asks :func:`address_problem` about every address
before it connects, for every redirect hop too.

Nothing here does I/O; DNS resolution is the caller's.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

ALLOWED_SCHEMES = ("http", "https")

# Cloud instance-metadata endpoints: refused even inside an allowed private range unless
# the address itself is listed.
METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack
        ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
        ipaddress.ip_address("fd00:ec2::254"),  # AWS IMDS over IPv6
    }
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def url_problem(url: str) -> str | None:
    """Why ``url`` may not be fetched at all, judged from its text alone, or None.

    Args:
        url: an absolute URL.

    Returns:
        A sentence (``"scheme 'file' is not allowed (http/https only)"``, ``"no host"``,
        ``"credentials in the URL"``, ``"bad port"``) or None when the URL is acceptable.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port  # raises ValueError for a non-numeric or out-of-range port
    except ValueError as err:
        return f"unparseable URL ({err})"
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        return f"scheme {scheme or '(none)'!r} is not allowed (http/https only)"
    if not parts.hostname:
        return "no host"
    if parts.username is not None or parts.password is not None:
        return "credentials in the URL"
    if port == 0:
        return "bad port 0"
    return None


def parse_allowlist(entries: Iterable[str]) -> tuple[Network, ...]:
    """Turn ``allow_private_hosts`` entries (``"127.0.0.1"``, ``"10.0.0.0/8"``) into networks.

    Raises:
        ValueError: an entry is neither an address nor a network (fail fast on a config typo).
    """
    nets = []
    for entry in entries:
        try:
            nets.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(
                f"allow_private_hosts entry {entry!r} is not an IP address or network (e.g. '127.0.0.1', '10.0.0.0/8')"
            ) from None
    return tuple(nets)


def address_problem(address: str, allowed: tuple[Network, ...] = ()) -> str | None:
    """Why connecting to the resolved ``address`` is refused, or None.

    Loopback, private, link-local, multicast, reserved, unspecified and shared (CGNAT)
    addresses are refused unless they fall in ``allowed``; metadata endpoints are
    refused unless listed in ``allowed`` as themselves (a /32 or /128), so allowing
    ``169.254.0.0/16`` does not open the metadata service.

    Args:
        address: an IPv4 or IPv6 address as text (a scope id such as ``%eth0`` is ignored).
        allowed: networks from :func:`parse_allowlist`.

    Returns:
        A sentence naming the address and its kind, or None when it may be used.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if ip in METADATA_ADDRESSES:
        if any(net.num_addresses == 1 and ip in net for net in allowed):
            return None
        return f"{ip} is a cloud metadata address"
    kind = _special_kind(ip)
    if kind is None:
        return None
    if any(ip.version == net.version and ip in net for net in allowed):
        return None
    return f"{ip} is a {kind} address (allow it with --allow-private-host {ip})"


def _special_kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return "shared (carrier-grade NAT)"
    if not ip.is_global:
        return "non-global"
    return None


_SHARED = ipaddress.ip_network("100.64.0.0/10")
