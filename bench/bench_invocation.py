"""Per-invocation cost of the request pipeline, and database round trips per authenticated read.

In one process, interleaved, with the same user and the same token:
- the floor: ``jwt.decode`` + one ``find_one({"_id": oid})`` on the same database;
- a bare native v2 function doing only the floor work (its own ``func.FunctionApp``);
- a bare FastAPI endpoint doing only the floor work, through ``func.AsgiFunctionApp``
  (FastAPI comes from bench/requirements.txt, never the app's requirements);
- this app's full-pipeline GET /api/v1/users/me (rate limit on), and GET /api/v1/health;
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

USERS_ME_TARGET_RATIO = 2.0
ROUND_TRIPS_TARGET = 1
# The pipeline must also cost less than FastAPI doing only the floor work.
FASTAPI_TARGET_RATIO = 1.0
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
    floor_work: Callable[[str], dict[str, Any] | None]


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

    def floor_work(bearer: str) -> dict[str, Any] | None:
        claims = jwt.decode(
            bearer,
            key,
            algorithms=["HS256"],
            audience=settings.JWT_AUDIENCE,
            issuer=settings.JWT_ISSUER,
        )
        return users.find_one({"_id": ObjectId(claims["sub"])})

    def floor() -> object:
        return floor_work(token)

    if floor() is None:
        raise RuntimeError("the floor did not find the bench user")
    return Fixture(token=token, floor=floor, floor_work=floor_work)


def _profile_of(user: dict[str, Any]) -> dict[str, Any]:
    """What the bare endpoints answer: the fields users/me answers."""
    return {
        "id": str(user["_id"]),
        "email": user["email"],
        "full_name": user.get("full_name"),
        "role": user["role"],
        "is_active": user["is_active"],
        "created_at": user["created_at"].isoformat(),
    }


def bare_native_call(fixture: Fixture) -> Callable[[], object]:
    """A native v2 function (own FunctionApp) doing the floor work, called as the worker does."""
    import json

    import azure.functions as func

    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="v1/users/me", methods=["GET"])
    def bare_me(req: func.HttpRequest) -> func.HttpResponse:
        scheme, _, bearer = req.headers.get("authorization", "").partition(" ")
        user = fixture.floor_work(bearer) if scheme.lower() == "bearer" else None
        if user is None:
            return func.HttpResponse(status_code=401)
        return func.HttpResponse(
            json.dumps(_profile_of(user)), status_code=200, mimetype="application/json"
        )

    function = app.get_functions()[0].get_user_function()
    headers = {"Authorization": f"Bearer {fixture.token}", "X-Forwarded-For": CLIENT_IP}

    def call_bare() -> object:
        response = function(http_request("GET", "/v1/users/me", headers=headers))
        if response.status_code != 200:
            raise RuntimeError(f"the bare function answered {response.status_code}")
        return response

    return call_bare


def fastapi_call(fixture: Fixture) -> tuple[Callable[[], object], Callable[[], None]] | None:
    """The floor work as a FastAPI endpoint behind func.AsgiFunctionApp; None without FastAPI."""
    import asyncio

    import azure.functions as func

    try:
        from fastapi import FastAPI, Header, HTTPException
    except ImportError:
        print("  FastAPI is not installed (pip install -r bench/requirements.txt): skipped")
        return None

    api = FastAPI()

    # async def: FastAPI runs it on the loop. A plain def would add a thread hop per call
    # (anyio's thread pool), which makes FastAPI look far slower than it need be.
    @api.get("/api/v1/users/me")
    async def fastapi_me(authorization: str = Header(default="")) -> dict[str, Any]:
        scheme, _, bearer = authorization.partition(" ")
        user = fixture.floor_work(bearer) if scheme.lower() == "bearer" else None
        if user is None:
            raise HTTPException(status_code=401)
        return _profile_of(user)

    app = func.AsgiFunctionApp(app=api, http_auth_level=func.AuthLevel.ANONYMOUS)
    function = app.get_functions()[0].get_user_function()
    # The worker runs async functions on one long-lived event loop.
    loop = asyncio.new_event_loop()
    headers = {"Authorization": f"Bearer {fixture.token}", "X-Forwarded-For": CLIENT_IP}

    def call_fastapi() -> object:
        request = http_request("GET", "/v1/users/me", headers=headers)
        response = loop.run_until_complete(function(request, None))
        if response.status_code != 200:
            raise RuntimeError(f"the FastAPI endpoint answered {response.status_code}")
        return response

    def close() -> None:
        if app.startup_task_done:
            loop.run_until_complete(app.middleware.notify_shutdown())
            app.startup_task_done = False  # its __del__ would otherwise need a live loop
        loop.close()

    return call_fastapi, close


def users_me_call(token: str) -> Callable[[], object]:
    """One full-pipeline GET /v1/users/me, answering 200."""
    headers = {"Authorization": f"Bearer {token}", "X-Forwarded-For": CLIENT_IP}

    def me() -> object:
        request = http_request("GET", "/v1/users/me", headers=headers)
        return call("users_me", request, expect=200)

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
    """Measure floor, bare native, FastAPI and the pipeline side by side; emit the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=DEFAULT_SAMPLES)
    parser.add_argument("--profile", action="store_true", help="also cProfile users/me")
    args = parser.parse_args()
    database_url, counter = configure()
    try:
        fixture = sign_in()
        me = users_me_call(fixture.token)
        fastapi_bench = fastapi_call(fixture)
        fastapi = fastapi_bench[0] if fastapi_bench else None
        actions = [
            fixture.floor,
            bare_native_call(fixture),
            me,
            health_call(),
            request_build_call(fixture.token),
        ]
        if fastapi is not None:
            actions.append(fastapi)
        warmup = max(args.samples // 10, 50)
        medians = interleaved_medians(actions, runs=args.samples, warmup=warmup)
        floor_s, bare_s, me_s, health_s, build_s = medians[:5]
        fastapi_s = medians[5] if fastapi is not None else None
        scheme = database_url.split("://", 1)[0]
        print(f"Per invocation on {scheme}, median of {args.samples} interleaved calls:")
        print(f"  building the HttpRequest (in all but the floor) {build_s * 1e6:8.1f} us")
        print(f"  GET /v1/health                                  {health_s * 1e6:8.1f} us")
        rows = [
            ("floor: jwt.decode + find_one by _id", floor_s),
            ("bare native v2 function", bare_s),
            ("FastAPI via AsgiFunctionApp", fastapi_s),
            ("this pipeline: GET /v1/users/me", me_s),
        ]
        print(f"  {'':44s} {'median':>10s} {'vs floor':>9s}")
        for label, seconds in rows:
            if seconds is not None:
                print(f"  {label:44s} {seconds * 1e6:7.1f} us {seconds / floor_s:8.2f}x")
        trips = round_trips(me, counter)
        if args.profile:
            print_profile(me)
        if fastapi_bench is not None:
            fastapi_bench[1]()
    finally:
        drop_bench_database()
    results = [
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
    if fastapi_s is not None:
        results.append(
            Result(
                bench="invocation",
                metric="GET /v1/users/me vs FastAPI floor endpoint",
                value=me_s * 1e6,
                baseline=fastapi_s * 1e6,
                unit="us",
                target=FASTAPI_TARGET_RATIO,
            )
        )
    emit(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
