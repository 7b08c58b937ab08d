"""Database layer: one client per process, migrations, rate-limit counters."""

from __future__ import annotations

import threading
import time

from shared.db import collections
from shared.db.client import get_database
from shared.db.migrations import MIGRATIONS, applied_versions, migrate
from shared.http import ratelimit
from shared.http.client_ip import client_ip


def test_the_client_is_created_once_and_reused() -> None:
    first = get_database()
    collections.users().insert_one({"email": "kept@example.com"})
    assert get_database() is first
    assert collections.users().count_documents({"email": "kept@example.com"}) == 1


def test_migrations_are_recorded_and_idempotent() -> None:
    database = get_database()  # first use applies them
    assert applied_versions(database) == {m.version for m in MIGRATIONS}
    assert migrate(database) == []
    assert database["migrations"].count_documents({}) == len(MIGRATIONS)


def test_migrations_create_the_unique_email_index() -> None:
    indexes = collections.users().index_information()
    email_index = next(spec for spec in indexes.values() if spec["key"] == [("email", 1)])
    assert email_index.get("unique") is True


def _future_window() -> float:
    # Counters of past windows are already expired by the TTL index, so use future ones.
    return (time.time() // 60) * 60 + 600


def test_rate_limit_counts_per_window_and_expires_by_ttl() -> None:
    start = _future_window()
    first = ratelimit.hit("test:bucket", 2, now=start)
    second = ratelimit.hit("test:bucket", 2, now=start + 10)
    third = ratelimit.hit("test:bucket", 2, now=start + 20)
    assert (first.remaining, second.remaining) == (1, 0)
    assert third.exceeded
    assert third.reset_seconds == 40
    next_window = ratelimit.hit("test:bucket", 2, now=start + 60)
    assert not next_window.exceeded
    ttl = [
        s
        for s in collections.rate_limits().index_information().values()
        if s["key"] == [("expires_at", 1)]
    ]
    assert ttl
    assert ttl[0]["expireAfterSeconds"] == 0


def test_the_last_half_second_of_a_window_still_says_retry_after_one() -> None:
    start = _future_window()
    ratelimit.hit("test:late", 1, now=start + 59.5)

    refused = ratelimit.hit("test:late", 1, now=start + 59.5)

    assert refused.exceeded
    assert refused.reset_seconds == 1


def test_a_counter_expires_at_its_window_end_whatever_the_machine_zone() -> None:
    # A local-time expiry read as UTC would end a window hours early west of Greenwich
    # (the TTL monitor deletes the count: a fresh bucket) or keep it hours too long east.
    import os
    from datetime import UTC, datetime

    start = _future_window()
    zone = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        ratelimit.hit("test:zone", 5, now=start)
    finally:
        if zone is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = zone
        time.tzset()

    counter = collections.rate_limits().find_one({"_id": f"test:zone:{int(start)}"})
    assert counter is not None
    assert counter["expires_at"] == datetime.fromtimestamp(start + 60, UTC)


def test_rate_limit_is_atomic_under_concurrency() -> None:
    start = _future_window()
    results: list[int] = []
    lock = threading.Lock()

    def hit() -> None:
        state = ratelimit.hit("test:race", 1000, now=start)
        with lock:
            results.append(state.remaining)

    threads = [threading.Thread(target=hit) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == list(range(980, 1000))


def test_client_ip_is_the_entry_the_trusted_proxy_appended() -> None:
    assert client_ip({"x-forwarded-for": "6.6.6.6, 203.0.113.5:4432"}, 1) == "203.0.113.5"
    assert client_ip({"x-forwarded-for": "6.6.6.6, 198.51.100.1, 203.0.113.5"}, 2) == "198.51.100.1"
    assert client_ip({"x-forwarded-for": "[2001:db8::1]:443"}, 1) == "2001:db8::1"
    assert client_ip({"x-forwarded-for": "not-an-ip"}, 1) == "unknown"
    assert client_ip({}, 1) == "unknown"
