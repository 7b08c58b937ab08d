"""Per-invocation cost of the request pipeline, and database round trips per authenticated read.

In one process, through the indexed functions (as the worker calls them):
- GET /api/v1/health (no dependency);
- GET /api/v1/users/me with a real access token, rate limit on, vs the floor:
  ``jwt.decode`` + one ``find_one({"_id": oid})`` on the same database;
- database round trips of one GET /api/v1/users/me.

The database is ``BENCH_DATABASE_URL`` (default ``mongomock://``); with a real MongoDB
the round trips are counted by a pymongo CommandListener, otherwise by a counting proxy
around the app's collection accessor.

Run alone: ``python bench/bench_invocation.py [--samples N] [--profile]``.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from _common import (
    EMBEDDED_DATABASE_URL,
    Result,
    call,
    drop_bench_database,
    emit,
    http_request,
    interleaved_medians,
    login_request,
    register_user,
    response_json,
    use_bench_database,
)
from pymongo import monitoring

USERS_ME_TARGET_RATIO = 3.0
ROUND_TRIPS_TARGET = 2
DEFAULT_SAMPLES = 3000
CLIENT_IP = "198.51.100.7"


class CommandCounter(monitoring.CommandListener):
    """Counts commands sent to a real MongoDB while armed."""

    def __init__(self) -> None:
        self.armed = False
        self.commands: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.armed:
            self.commands[f"{event.command_name} {event.command.get(event.command_name, '')}"] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """Only starts are counted."""

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """Only starts are counted."""


class _CountingCollection:
    """Wraps a collection and counts each method call: one call is one round trip."""

    def __init__(self, target: Any, name: str, calls: Counter[str]) -> None:
        self._target = target
        self._name = name
        self._calls = calls

    def __getattr__(self, attribute: str) -> Any:
        value = getattr(self._target, attribute)
        if not callable(value):
            return value
        calls, label = self._calls, f"{attribute} {self._name}"

        def counted(*args: Any, **kwargs: Any) -> Any:
            calls[label] += 1
            return value(*args, **kwargs)

        return counted


@contextmanager
def counting_embedded_calls() -> Iterator[Counter[str]]:
    """Count calls made through shared.db.collections while the block runs."""
    from shared.db import collections

    original = collections.collection
    calls: Counter[str] = Counter()

    def counting(name: str) -> Any:
        return _CountingCollection(original(name), name, calls)

    # Every accessor (users(), rate_limits(), ...) looks collection() up at call time.
    collections.collection = counting
    try:
        yield calls
    finally:
        collections.collection = original


@dataclass
class Fixture:
    """A signed-in bench user and what the floor needs to check its token."""

    token: str
    floor: Callable[[], object]


def configure() -> tuple[str, CommandCounter | None]:
    """Set the app's environment; register a command listener when the database is real."""
    database_url = use_bench_database(
        RATE_LIMIT_ENABLED="true",
        # The limiter still runs its upsert on every call; a high ceiling keeps
        # thousands of samples a minute from turning into 429s.
        RATE_LIMIT_USER_PER_MINUTE="1000000000",
        RATE_LIMIT_AUTH_PER_MINUTE="1000",
        BCRYPT_ROUNDS="4",  # only registration and login use it; neither is timed here
    )
    if database_url.startswith(EMBEDDED_DATABASE_URL):
        return database_url, None
    counter = CommandCounter()
    monitoring.register(counter)  # must precede the app's MongoClient
    return database_url, counter


def sign_in() -> Fixture:
    """Register and log in a fresh user through the app; build the floor for its token."""
    import jwt
    from bson import ObjectId

    from shared.config import get_settings
    from shared.db.client import get_database

    email = f"bench-{uuid.uuid4().hex[:12]}@example.com"
    register_user(email, client_ip=CLIENT_IP)
    tokens = response_json(
        call("auth_login", login_request(email, client_ip=CLIENT_IP), expect=200)
    )
    token: str = tokens["access_token"]

    settings = get_settings()
    key = settings.SECRET_KEY.encode()
    users = get_database()["users"]

    def floor() -> object:
        claims = jwt.decode(
            token,
            key,
            algorithms=["HS256"],
            audience=settings.JWT_AUDIENCE,
            issuer=settings.JWT_ISSUER,
        )
        return users.find_one({"_id": ObjectId(claims["sub"])})

    if floor() is None:
        raise RuntimeError("the floor did not find the bench user")
    return Fixture(token=token, floor=floor)


def users_me_call(token: str) -> Callable[[], object]:
    """One full-pipeline GET /v1/users/me, answering 200."""
    headers = {"Authorization": f"Bearer {token}", "X-Forwarded-For": CLIENT_IP}

    def me() -> object:
        request = http_request("GET", "/v1/users/me", headers=headers)
        return call("users_me_get", request, expect=200)

    return me


def health_call() -> Callable[[], object]:
    """One GET /v1/health through the indexed function."""

    def health() -> object:
        request = http_request("GET", "/v1/health", headers={"X-Forwarded-For": CLIENT_IP})
        return call("health", request, expect=200)

    return health


def request_build_call(token: str) -> Callable[[], object]:
    """Building the HttpRequest alone, to subtract from the figures above if wanted."""
    headers = {"Authorization": f"Bearer {token}", "X-Forwarded-For": CLIENT_IP}
    return lambda: http_request("GET", "/v1/users/me", headers=headers)


def round_trips(me: Callable[[], object], counter: CommandCounter | None, calls: int = 20) -> int:
    """The most database round trips one GET /v1/users/me made, over ``calls`` calls."""
    most = 0
    seen: Counter[str] = Counter()
    for _ in range(calls):
        if counter is None:
            with counting_embedded_calls() as counted:
                me()
            this_call = counted
        else:
            counter.commands.clear()
            counter.armed = True
            me()
            counter.armed = False
            this_call = counter.commands
        most = max(most, sum(this_call.values()))
        seen.update(this_call)
    kinds = ", ".join(f"{label} x{count / calls:g}" for label, count in sorted(seen.items()))
    print(f"  round trips per GET /v1/users/me: {most} ({kinds})")
    return most


def print_profile(action: Callable[[], object], calls: int = 2000, limit: int = 20) -> None:
    """cProfile of ``calls`` calls of ``action``, top functions by own time."""
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(calls):
        action()
    profile.disable()
    stats = pstats.Stats(profile, stream=sys.stdout)
    stats.sort_stats("tottime").print_stats(limit)


def main() -> int:
    """Measure health, users/me vs floor and round trips; emit the result line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=DEFAULT_SAMPLES)
    parser.add_argument("--profile", action="store_true", help="also cProfile users/me")
    args = parser.parse_args()
    database_url, counter = configure()
    try:
        fixture = sign_in()
        me = users_me_call(fixture.token)
        warmup = max(args.samples // 10, 50)
        health_s, me_s, floor_s, build_s = interleaved_medians(
            [health_call(), me, fixture.floor, request_build_call(fixture.token)],
            runs=args.samples,
            warmup=warmup,
        )
        scheme = database_url.split("://", 1)[0]
        print(f"Per invocation on {scheme}, median of {args.samples} interleaved calls:")
        print(f"  building the HttpRequest (included below)  {build_s * 1e6:8.1f} us")
        print(f"  GET /v1/health                             {health_s * 1e6:8.1f} us")
        print(f"  GET /v1/users/me (full pipeline)           {me_s * 1e6:8.1f} us")
        print(f"  floor: jwt.decode + find_one by _id        {floor_s * 1e6:8.1f} us")
        trips = round_trips(me, counter)
        if args.profile:
            print_profile(me)
    finally:
        drop_bench_database()
    emit(
        [
            Result(
                bench="invocation",
                metric="GET /v1/users/me vs floor",
                value=me_s * 1e6,
                baseline=floor_s * 1e6,
                unit="us",
                target=USERS_ME_TARGET_RATIO,
            ),
            Result(
                bench="invocation",
                metric="DB round trips per authenticated read",
                value=trips,
                unit="",
                target=ROUND_TRIPS_TARGET,
            ),
        ]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
