"""The caller's address, as seen by the trusted proxy in front of the app, and its rate bucket."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping

UNKNOWN_CLIENT = "unknown"
# One IPv6 subscriber usually holds a whole /64: counting single addresses would give
# every client 2**64 fresh buckets.
IPV6_BUCKET_PREFIX = 64


def _strip_port(entry: str) -> str:
    entry = entry.strip()
    if entry.startswith("["):  # [IPv6]:port
        return entry[1 : entry.find("]")] if "]" in entry else entry
    if entry.count(":") == 1:  # IPv4:port; a bare IPv6 has several colons
        return entry.split(":", 1)[0]
    return entry


def _is_canonical_ipv4(text: str) -> bool:
    """True for a dotted quad exactly as it prints (every other form goes to ipaddress)."""
    try:
        return socket.inet_ntop(socket.AF_INET, socket.inet_pton(socket.AF_INET, text)) == text
    except (OSError, ValueError):
        return False


def _parse(entry: str) -> str:
    """The canonical text of one X-Forwarded-For entry, or UNKNOWN_CLIENT."""
    # A zone id ("fe80::1%eth0") names the proxy's own interface, not the client.
    candidate = _strip_port(entry).partition("%")[0]
    if _is_canonical_ipv4(candidate):
        return candidate  # what ipaddress would print back, at a tenth of the cost
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return UNKNOWN_CLIENT
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)  # ::ffff:a.b.c.d is the IPv4 client a.b.c.d
    return str(address)


def client_ip(headers: Mapping[str, str], trusted_proxy_count: int) -> str:
    """The entry the outermost trusted proxy appended to X-Forwarded-For.

    Proxies append, so entries a client wrote itself sit to the left of the ones our
    proxies added; counting ``trusted_proxy_count`` from the right skips them. With no
    trusted proxy the whole header is the client's own writing, so it is ignored.
    """
    if trusted_proxy_count <= 0:
        return UNKNOWN_CLIENT
    entries = [e for e in headers.get("x-forwarded-for", "").split(",") if e.strip()]
    if len(entries) < trusted_proxy_count:
        return UNKNOWN_CLIENT
    return _parse(entries[-trusted_proxy_count])


def rate_limit_bucket(ip: str) -> str:
    """The rate-limit bucket of a client address: itself for IPv4, its /64 for IPv6."""
    if ":" not in ip:
        # No colon: IPv4 or not an address, and either way the bucket is the text itself
        # (ipaddress accepts only the canonical dotted quad, which prints back unchanged).
        return ip
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        network = ipaddress.IPv6Network((address, IPV6_BUCKET_PREFIX), strict=False)
        return str(network)
    return str(address)
