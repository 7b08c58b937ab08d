"""Which address a request counts against: the proxy's entry, IPv4-mapped folded, IPv6 per /64."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.http.client_ip import UNKNOWN_CLIENT, client_ip, rate_limit_bucket


def ip_of(header: str, proxies: int = 1) -> str:
    return client_ip({"x-forwarded-for": header}, proxies)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("203.0.113.5", "203.0.113.5"),
        ("::ffff:203.0.113.5", "203.0.113.5"),
        ("::FFFF:203.0.113.5", "203.0.113.5"),
        ("::ffff:cb00:7105", "203.0.113.5"),  # the same mapped address in hex
        ("[::ffff:203.0.113.5]:443", "203.0.113.5"),
        ("203.0.113.5:4432", "203.0.113.5"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("2001:DB8:0:0::1", "2001:db8::1"),
        ("fe80::1%eth0", "fe80::1"),
        ("[fe80::1%25eth0]:80", "fe80::1"),
        ("  198.51.100.7  ", "198.51.100.7"),
    ],
)
def test_the_proxy_entry_is_read_in_one_canonical_form(header: str, expected: str) -> None:
    assert ip_of(header) == expected


@pytest.mark.parametrize(
    "header",
    ["not-an-ip", "", " , ", "[2001:db8::1", "999.1.1.1", "1.2.3", "203.0.113.5:80:80", "::ffff:"],
)
def test_malformed_entries_are_unknown(header: str) -> None:
    assert ip_of(header) == UNKNOWN_CLIENT


def test_the_entry_counted_is_the_one_the_last_trusted_proxy_appended() -> None:
    assert ip_of("6.6.6.6, 198.51.100.1, 203.0.113.5", 2) == "198.51.100.1"
    assert ip_of("6.6.6.6, 198.51.100.1, 203.0.113.5", 3) == "6.6.6.6"
    assert ip_of("203.0.113.5", 2) == UNKNOWN_CLIENT  # fewer entries than proxies
    assert client_ip({}, 1) == UNKNOWN_CLIENT


def test_without_a_trusted_proxy_the_header_is_ignored() -> None:
    """TRUSTED_PROXY_COUNT=0: every entry was written by the client, so none is believed."""
    assert ip_of("203.0.113.5", 0) == UNKNOWN_CLIENT
    assert ip_of("6.6.6.6, 203.0.113.5", 0) == UNKNOWN_CLIENT
    assert ip_of("203.0.113.5", -1) == UNKNOWN_CLIENT


@settings(max_examples=100, derandomize=True, database=None)
@given(
    written=st.text(max_size=80),
    real=st.ip_addresses().map(str),
    proxies=st.integers(min_value=1, max_value=3),
    hops=st.lists(st.ip_addresses().map(str), min_size=2, max_size=2),
)
def test_what_a_client_writes_itself_never_changes_its_address(
    written: str, real: str, proxies: int, hops: list[str]
) -> None:
    # The first trusted proxy appends the client's address, each further one its own hop.
    appended = [real, *hops][:proxies]
    alone = ip_of(", ".join(appended), proxies)
    spoofed = ip_of(", ".join([written, *appended]), proxies)

    assert spoofed == alone == ip_of(real)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"),
        ("2001:db8:1:2:aaaa::", "2001:db8:1:2::bbbb"),
    ],
)
def test_ipv6_clients_in_one_64_share_a_bucket(first: str, second: str) -> None:
    assert rate_limit_bucket(first) == rate_limit_bucket(second) == "2001:db8:1:2::/64"


def test_ipv6_clients_in_neighbouring_64s_do_not_share() -> None:
    assert rate_limit_bucket("2001:db8:1:2::1") != rate_limit_bucket("2001:db8:1:3::1")


def test_ipv4_clients_keep_a_bucket_each() -> None:
    assert rate_limit_bucket("203.0.113.5") == "203.0.113.5"
    assert rate_limit_bucket("203.0.113.5") != rate_limit_bucket("203.0.113.6")
    assert rate_limit_bucket(ip_of("::ffff:203.0.113.5")) == rate_limit_bucket("203.0.113.5")
    assert rate_limit_bucket(UNKNOWN_CLIENT) == UNKNOWN_CLIENT
