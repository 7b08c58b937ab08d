"""The caller's address, as seen by the trusted proxy in front of the app."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

UNKNOWN_CLIENT = "unknown"


def _strip_port(entry: str) -> str:
    entry = entry.strip()
    if entry.startswith("["):  # [IPv6]:port
        return entry[1 : entry.find("]")] if "]" in entry else entry
    if entry.count(":") == 1:  # IPv4:port; a bare IPv6 has several colons
        return entry.split(":", 1)[0]
    return entry


def client_ip(headers: Mapping[str, str], trusted_proxy_count: int) -> str:
    """The entry the outermost trusted proxy appended to X-Forwarded-For.

    Proxies append, so entries a client wrote itself sit to the left of the ones our
    proxies added; counting ``trusted_proxy_count`` from the right skips them.
    """
    if trusted_proxy_count <= 0:
        return UNKNOWN_CLIENT
    entries = [e for e in headers.get("x-forwarded-for", "").split(",") if e.strip()]
    if len(entries) < trusted_proxy_count:
        return UNKNOWN_CLIENT
    candidate = _strip_port(entries[-trusted_proxy_count])
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return UNKNOWN_CLIENT
